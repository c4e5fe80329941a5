// CPU kernels for pooling and resizing: pool (max/avg, 1d-3d, padding, dilation,
// ceil_mode, count_include_pad, divisor_override), adaptive_pool (max/avg) and
// upsample (nearest, nearest-exact, linear/bilinear/trilinear, bicubic). Every
// case is viewed as 3 spatial dims (missing ones are 1) over a run of "planes"
// (the flattened leading dims). Index and weight formulas follow torch's CPU
// kernels (ATen UpSample.h, AdaptivePooling.h, AvgPoolKernel.cpp) so results
// round the same way. Channels-last pools (layout pass) run on channels-first
// scratch copies.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/nn_util.h"

namespace ingot::cpu {
namespace {

using nn::shape_string;

struct SpatialGeometry {
  int64_t planes = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
};

Result<SpatialGeometry> make_spatial(const char* op, const TensorRef& x, const TensorRef& y, int nsp) {
  if (nsp < 1 || nsp > 3 || x.rank() < nsp || y.rank() != x.rank())
    return invalid_argument(std::string(op) + ": cannot pool " + std::to_string(nsp) + " spatial dims of " +
                            shape_string(x.shape) + " into " + shape_string(y.shape));
  SpatialGeometry g;
  int lead = x.rank() - nsp;
  for (int i = 0; i < lead; ++i)
    if (x.shape[i] != y.shape[i])
      return invalid_argument(std::string(op) + ": leading dims of " + shape_string(x.shape) + " and " +
                              shape_string(y.shape) + " differ");
  g.planes = nn::product(x.shape, 0, lead);
  for (int i = 0; i < nsp; ++i) {
    g.in[3 - nsp + i] = x.shape[lead + i];
    g.out[3 - nsp + i] = y.shape[lead + i];
  }
  return g;
}

Status per_dim(const std::vector<int64_t>& v, int nsp, int64_t fallback, const char* name, int64_t* dst) {
  if (v.size() > 1 && static_cast<int>(v.size()) != nsp)
    return invalid_argument(std::string("pool: ") + name + " has " + std::to_string(v.size()) + " entries, expected " +
                            std::to_string(nsp));
  for (int i = 0; i < 3; ++i) dst[i] = i < 3 - nsp ? (fallback == 0 ? 0 : 1) : fallback;
  for (int i = 0; i < nsp; ++i) dst[3 - nsp + i] = v.empty() ? fallback : v.size() == 1 ? v[0] : v[i];
  return Status::ok_status();
}

template <typename T>
Status pool(const PoolAttrs& a, const TensorRef& x, TensorRef& y) {
  int nsp = static_cast<int>(a.kernel.size());
  INGOT_ASSIGN_OR_RETURN(SpatialGeometry g, make_spatial("pool", x, y, nsp));
  int64_t k[3], s[3], p[3], d[3];
  INGOT_RETURN_IF_ERROR(per_dim(a.kernel, nsp, 1, "kernel", k));
  INGOT_RETURN_IF_ERROR(per_dim(a.stride.empty() ? a.kernel : a.stride, nsp, 1, "stride", s));
  INGOT_RETURN_IF_ERROR(per_dim(a.padding, nsp, 0, "padding", p));
  INGOT_RETURN_IF_ERROR(per_dim(a.dilation, nsp, 1, "dilation", d));
  for (int i = 0; i < 3; ++i)
    if (k[i] < 1 || s[i] < 1 || d[i] < 1 || p[i] < 0)
      return invalid_argument("pool: kernel, stride and dilation must be positive and padding non-negative");
  bool is_max = a.kind == static_cast<int64_t>(PoolKind::kMax);
  if (!is_max && a.kind != static_cast<int64_t>(PoolKind::kAvg))
    return invalid_argument("pool: unknown kind " + std::to_string(a.kind));
  const T* xd = x.as<T>();
  T* yd = y.as<T>();
  const int64_t isz = g.in_size(), osz = g.out_size();
#pragma omp parallel for schedule(static) if (g.planes * osz > 16384)
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* xp = xd + pl * isz;
    T* yp = yd + pl * osz;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          int64_t o[3] = {od, oh, ow};
          T result;
          if (is_max) {
            T mx = -std::numeric_limits<T>::infinity();
            int64_t lo[3], hi[3];  // tap ranges with the input inside
            for (int i = 0; i < 3; ++i) {
              int64_t start = o[i] * s[i] - p[i];
              lo[i] = start >= 0 ? 0 : (-start + d[i] - 1) / d[i];
              hi[i] = std::min(k[i], g.in[i] - start <= 0 ? 0 : (g.in[i] - start + d[i] - 1) / d[i]);
            }
            for (int64_t a0 = lo[0]; a0 < hi[0]; ++a0)
              for (int64_t a1 = lo[1]; a1 < hi[1]; ++a1) {
                const T* row = xp + ((o[0] * s[0] - p[0] + a0 * d[0]) * g.in[1] + o[1] * s[1] - p[1] + a1 * d[1]) *
                                        g.in[2] + o[2] * s[2] - p[2];
                for (int64_t a2 = lo[2]; a2 < hi[2]; ++a2) {
                  T v = row[a2 * d[2]];
                  if (v > mx || std::isnan(v)) mx = v;
                }
              }
            result = mx;
          } else {
            int64_t start[3], end[3], pool_size = 1, count = 1;
            for (int i = 0; i < 3; ++i) {
              start[i] = o[i] * s[i] - p[i];
              end[i] = std::min(start[i] + k[i], g.in[i] + p[i]);
              pool_size *= end[i] - start[i];
              start[i] = std::max<int64_t>(start[i], 0);
              end[i] = std::min(end[i], g.in[i]);
              count *= std::max<int64_t>(end[i] - start[i], 0);
            }
            T sum = 0;
            for (int64_t i0 = start[0]; i0 < end[0]; ++i0)
              for (int64_t i1 = start[1]; i1 < end[1]; ++i1) {
                const T* row = xp + (i0 * g.in[1] + i1) * g.in[2];
                for (int64_t i2 = start[2]; i2 < end[2]; ++i2) sum += row[i2];
              }
            int64_t divisor = a.divisor_override ? a.divisor_override : a.count_include_pad ? pool_size : count;
            result = divisor ? sum / static_cast<T>(divisor) : std::numeric_limits<T>::quiet_NaN();
          }
          yp[(od * g.out[1] + oh) * g.out[2] + ow] = result;
        }
  }
  return Status::ok_status();
}

template <typename T>
Status adaptive_pool(const AdaptivePoolAttrs& a, const TensorRef& x, TensorRef& y) {
  // Dims whose size does not change pool to themselves (window [i, i+1)), so
  // treating channel dims as spatial is harmless; this covers unbatched inputs.
  int nsp = std::min(3, x.rank() - 1);
  if (x.rank() < 2) return invalid_argument("adaptive_pool: input must have rank >= 2, got " + shape_string(x.shape));
  INGOT_ASSIGN_OR_RETURN(SpatialGeometry g, make_spatial("adaptive_pool", x, y, nsp));
  bool is_max = a.kind == static_cast<int64_t>(PoolKind::kMax);
  const T* xd = x.as<T>();
  T* yd = y.as<T>();
  const int64_t isz = g.in_size(), osz = g.out_size();
  auto window = [&](int dim, int64_t o, int64_t* lo, int64_t* hi) {
    *lo = (o * g.in[dim]) / g.out[dim];
    *hi = ((o + 1) * g.in[dim] + g.out[dim] - 1) / g.out[dim];
  };
#pragma omp parallel for schedule(static) if (g.planes * isz > 16384)
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* xp = xd + pl * isz;
    T* yp = yd + pl * osz;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          int64_t lo[3], hi[3];
          window(0, od, &lo[0], &hi[0]);
          window(1, oh, &lo[1], &hi[1]);
          window(2, ow, &lo[2], &hi[2]);
          T acc = is_max ? -std::numeric_limits<T>::infinity() : T(0);
          for (int64_t i0 = lo[0]; i0 < hi[0]; ++i0)
            for (int64_t i1 = lo[1]; i1 < hi[1]; ++i1) {
              const T* row = xp + (i0 * g.in[1] + i1) * g.in[2];
              for (int64_t i2 = lo[2]; i2 < hi[2]; ++i2) {
                T v = row[i2];
                if (!is_max) acc += v;
                else if (v > acc || std::isnan(v)) acc = v;
              }
            }
          if (!is_max) acc /= static_cast<T>((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
          yp[(od * g.out[1] + oh) * g.out[2] + ow] = acc;
        }
  }
  return Status::ok_status();
}

// Per output position of one dim: up to 4 source indices and their weights.
struct Taps {
  int count = 1;
  std::vector<int64_t> index;  // [out * count]
  std::vector<double> weight;
};

// torch's area_pixel_compute_scale / compute_scales_value, in the kernel's math type.
template <typename A>
A source_scale(int64_t in, int64_t out, bool align_corners, double user_scale, bool linear_like) {
  if (linear_like && align_corners) return out > 1 ? static_cast<A>(in - 1) / static_cast<A>(out - 1) : A(0);
  return user_scale > 0 ? static_cast<A>(1.0 / user_scale) : static_cast<A>(in) / static_cast<A>(out);
}

template <typename A>
Taps make_taps(UpsampleMode mode, int64_t in, int64_t out, bool align_corners, double user_scale) {
  Taps t;
  bool linear_like = mode == UpsampleMode::kLinear || mode == UpsampleMode::kBicubic;
  A scale = source_scale<A>(in, out, align_corners, user_scale, linear_like);
  t.count = mode == UpsampleMode::kLinear ? 2 : mode == UpsampleMode::kBicubic ? 4 : 1;
  t.index.resize(out * t.count);
  t.weight.resize(out * t.count);
  for (int64_t o = 0; o < out; ++o) {
    int64_t* idx = &t.index[o * t.count];
    double* w = &t.weight[o * t.count];
    if (mode == UpsampleMode::kNearest || mode == UpsampleMode::kNearestExact) {
      A src = mode == UpsampleMode::kNearest ? static_cast<A>(o) * scale : (static_cast<A>(o) + A(0.5)) * scale;
      idx[0] = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
      w[0] = 1.0;
    } else if (mode == UpsampleMode::kLinear) {
      A src = align_corners ? scale * static_cast<A>(o)
                            : std::max(scale * (static_cast<A>(o) + A(0.5)) - A(0.5), A(0));
      int64_t i0 = static_cast<int64_t>(src);
      A l1 = src - static_cast<A>(i0);
      idx[0] = std::min(i0, in - 1);
      idx[1] = std::min(i0 + (i0 < in - 1 ? 1 : 0), in - 1);
      w[0] = static_cast<double>(A(1) - l1);
      w[1] = static_cast<double>(l1);
    } else {  // bicubic, A = -0.75, indices clamped to the border
      A src = align_corners ? scale * static_cast<A>(o) : scale * (static_cast<A>(o) + A(0.5)) - A(0.5);
      A fl = std::floor(src);
      A tt = src - fl;
      const A cc = A(-0.75);
      auto conv1 = [&](A x) { return ((cc + 2) * x - (cc + 3)) * x * x + 1; };
      auto conv2 = [&](A x) { return ((cc * x - 5 * cc) * x + 8 * cc) * x - 4 * cc; };
      A coeffs[4] = {conv2(tt + 1), conv1(tt), conv1(1 - tt), conv2(2 - tt)};
      for (int j = 0; j < 4; ++j) {
        idx[j] = std::clamp<int64_t>(static_cast<int64_t>(fl) - 1 + j, 0, in - 1);
        w[j] = static_cast<double>(coeffs[j]);
      }
    }
  }
  return t;
}

template <typename T>
Status upsample(const UpsampleAttrs& a, const TensorRef& x, TensorRef& y) {
  int nsp = a.scales.empty() ? x.rank() - 2 : static_cast<int>(a.scales.size());
  INGOT_ASSIGN_OR_RETURN(SpatialGeometry g, make_spatial("upsample", x, y, nsp));
  if (a.mode < 0 || a.mode > 3) return invalid_argument("upsample: unknown mode " + std::to_string(a.mode));
  auto mode = static_cast<UpsampleMode>(a.mode);
  if (mode == UpsampleMode::kBicubic && nsp != 2) return unsupported("upsample: bicubic needs 2 spatial dims");
  Taps taps[3];
  for (int i = 0; i < 3; ++i) {
    int sp = i - (3 - nsp);  // index into the user's scales, negative for padded dims
    double user_scale = sp >= 0 && !a.scales.empty() ? a.scales[sp] : 0.0;
    UpsampleMode m = sp >= 0 ? mode : UpsampleMode::kNearest;
    taps[i] = make_taps<T>(m, g.in[i], g.out[i], a.align_corners, user_scale);
  }
  const T* xd = x.as<T>();
  T* yd = y.as<T>();
  const int64_t isz = g.in_size(), osz = g.out_size();
  const int c0 = taps[0].count, c1 = taps[1].count, c2 = taps[2].count;
#pragma omp parallel for schedule(static) if (g.planes * osz > 16384)
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* xp = xd + pl * isz;
    T* yp = yd + pl * osz;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          T acc = 0;
          for (int j0 = 0; j0 < c0; ++j0) {
            T w0 = static_cast<T>(taps[0].weight[od * c0 + j0]);
            int64_t i0 = taps[0].index[od * c0 + j0];
            for (int j1 = 0; j1 < c1; ++j1) {
              T w01 = w0 * static_cast<T>(taps[1].weight[oh * c1 + j1]);
              const T* row = xp + (i0 * g.in[1] + taps[1].index[oh * c1 + j1]) * g.in[2];
              for (int j2 = 0; j2 < c2; ++j2)
                acc += w01 * static_cast<T>(taps[2].weight[ow * c2 + j2]) * row[taps[2].index[ow * c2 + j2]];
            }
          }
          yp[(od * g.out[1] + oh) * g.out[2] + ow] = acc;
        }
  }
  return Status::ok_status();
}

// Channels-last pools ([N, *spatial, C], from the layout pass) run on a
// channels-first scratch copy: the CPU backend is the reference, not the fast path.
template <typename T>
Status channels_last_pool(const OpAttrs& attrs, const TensorRef& x, TensorRef& y) {
  const char* op = op_name(op_kind(attrs));
  if (x.rank() < 3 || y.rank() != x.rank() || x.shape[0] != y.shape[0] || x.shape.back() != y.shape.back())
    return invalid_argument(std::string(op) + ": channels_last expects [N, *spatial, C] input and output with the "
                            "same N and C; got " + shape_string(x.shape) + " and " + shape_string(y.shape));
  auto first = [](const std::vector<int64_t>& s) {
    std::vector<int64_t> r = {s[0], s.back()};
    r.insert(r.end(), s.begin() + 1, s.end() - 1);
    return r;
  };
  const int64_t n = x.shape[0], c = x.shape.back();
  const int64_t in_sp = nn::product(x.shape, 1, x.shape.size() - 1), out_sp = nn::product(y.shape, 1, y.shape.size() - 1);
  T* xc = nn::scratch<T>(static_cast<size_t>(x.numel()), 1);
  T* yc = nn::scratch<T>(static_cast<size_t>(y.numel()), 2);
  const T* xs = x.as<T>();
#pragma omp parallel for schedule(static) if (x.numel() > 65536)
  for (int64_t ns = 0; ns < n * in_sp; ++ns) {
    const int64_t b = ns / in_sp, sp = ns % in_sp;
    for (int64_t ch = 0; ch < c; ++ch) xc[(b * c + ch) * in_sp + sp] = xs[ns * c + ch];
  }
  TensorRef xv{xc, x.dtype, first(x.shape)}, yv{yc, y.dtype, first(y.shape)};
  if (op_kind(attrs) == OpKind::kPool) {
    PoolAttrs a = std::get<PoolAttrs>(attrs);
    a.channels_last = false;
    if (static_cast<int>(a.kernel.size()) != x.rank() - 2)
      return invalid_argument("pool: channels_last kernel has " + std::to_string(a.kernel.size()) +
                              " dims for input " + shape_string(x.shape));
    INGOT_RETURN_IF_ERROR(pool<T>(a, xv, yv));
  } else {
    AdaptivePoolAttrs a = std::get<AdaptivePoolAttrs>(attrs);
    a.channels_last = false;
    INGOT_RETURN_IF_ERROR(adaptive_pool<T>(a, xv, yv));
  }
  T* ys = y.as<T>();
#pragma omp parallel for schedule(static) if (y.numel() > 65536)
  for (int64_t ns = 0; ns < n * out_sp; ++ns) {
    const int64_t b = ns / out_sp, sp = ns % out_sp;
    for (int64_t ch = 0; ch < c; ++ch) ys[ns * c + ch] = yc[(b * c + ch) * out_sp + sp];
  }
  return Status::ok_status();
}

template <typename T>
Status dispatch(const OpAttrs& attrs, const TensorRef& x, TensorRef& y) {
  switch (op_kind(attrs)) {
    case OpKind::kPool:
      if (std::get<PoolAttrs>(attrs).channels_last) return channels_last_pool<T>(attrs, x, y);
      return pool<T>(std::get<PoolAttrs>(attrs), x, y);
    case OpKind::kAdaptivePool:
      if (std::get<AdaptivePoolAttrs>(attrs).channels_last) return channels_last_pool<T>(attrs, x, y);
      return adaptive_pool<T>(std::get<AdaptivePoolAttrs>(attrs), x, y);
    case OpKind::kUpsample: return upsample<T>(std::get<UpsampleAttrs>(attrs), x, y);
    default: return internal_error(std::string("pooling: not a pooling op: ") + op_name(op_kind(attrs)));
  }
}

}  // namespace

Status pooling(const OpAttrs& attrs, const KernelArgs& args) {
  if (args.in.empty() || !args.in[0] || args.out.size() != 1)
    return internal_error(std::string(op_name(op_kind(attrs))) + ": expects one input and one output");
  return nn::run_in_float(args, [&](const KernelArgs& s) -> Status {
    switch (s.in[0]->dtype) {
      case DType::kFloat32: return dispatch<float>(attrs, *s.in[0], *s.out[0]);
      case DType::kFloat64: return dispatch<double>(attrs, *s.in[0], *s.out[0]);
      default:
        return unsupported(std::string(op_name(op_kind(attrs))) + ": dtype " + dtype_name(s.in[0]->dtype) +
                           " is not supported on cpu");
    }
  });
}

}  // namespace ingot::cpu
