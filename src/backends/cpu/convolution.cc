// CPU kernel for conv: 1d/2d/3d, groups, stride, padding, dilation, and the
// transposed form with output_padding. Every case is viewed as 3-d (missing
// leading spatial dims are 1). Regular convs are im2col + one Eigen GEMM per
// group (Eigen's blocked, OpenMP-parallel GEMM gives near-BLAS speed; 1x1
// stride-1 convs skip im2col). Depthwise convs use a direct loop instead, since
// their per-group GEMMs are single rows. Transposed convs are GEMM + col2im.
// The fused epilogue (residual add, activation; ops.def) runs after the bias, and
// channels-last convs (layout pass) run on channels-first scratch copies.
#include <algorithm>
#include <cstring>

#include "backends/cpu/nn_util.h"

namespace ingot::cpu {
namespace {

using nn::ConstMatMap;
using nn::MatMap;
using nn::shape_string;

// The geometry of one conv, normalized to 3 spatial dims.
struct ConvGeometry {
  int64_t n = 1, cin = 1, cout = 1, groups = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dil[3] = {1, 1, 1}, out_pad[3] = {0, 0, 0};
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t k_size() const { return k[0] * k[1] * k[2]; }
};

// Reads a per-spatial-dim attribute: empty gives the default, one value applies to all dims.
Status spatial_list(const std::vector<int64_t>& v, int nsp, int64_t fallback, const char* name, int64_t* dst) {
  if (v.size() > 1 && static_cast<int>(v.size()) != nsp)
    return invalid_argument(std::string("conv: ") + name + " has " + std::to_string(v.size()) + " entries, expected " +
                            std::to_string(nsp));
  for (int i = 0; i < nsp; ++i) {
    int64_t value = v.empty() ? fallback : v.size() == 1 ? v[0] : v[i];
    if (value < 0) return invalid_argument(std::string("conv: ") + name + " must not be negative");
    dst[3 - nsp + i] = value;
  }
  return Status::ok_status();
}

Result<ConvGeometry> make_geometry(const ConvAttrs& a, const TensorRef& x, const TensorRef& w, const TensorRef& y) {
  int nsp = x.rank() - 2;
  if (nsp < 1 || nsp > 3 || w.rank() != x.rank() || y.rank() != x.rank())
    return invalid_argument("conv: expects x [N, C, 1 to 3 spatial dims] with weight and output of the same rank; got x " +
                            shape_string(x.shape) + ", weight " + shape_string(w.shape) + ", out " +
                            shape_string(y.shape));
  ConvGeometry g;
  g.n = x.shape[0];
  g.cin = x.shape[1];
  g.cout = y.shape[1];
  g.groups = a.groups;
  if (g.groups <= 0 || g.cin % g.groups || g.cout % g.groups)
    return invalid_argument("conv: groups=" + std::to_string(g.groups) + " does not divide in_channels=" +
                            std::to_string(g.cin) + " and out_channels=" + std::to_string(g.cout));
  int64_t expect0 = a.transposed ? g.cin : g.cout, expect1 = a.transposed ? g.cout / g.groups : g.cin / g.groups;
  if (w.shape[0] != expect0 || w.shape[1] != expect1)
    return invalid_argument("conv: weight " + shape_string(w.shape) + " does not match in_channels=" +
                            std::to_string(g.cin) + ", out_channels=" + std::to_string(g.cout) +
                            ", groups=" + std::to_string(g.groups));
  INGOT_RETURN_IF_ERROR(spatial_list(a.stride, nsp, 1, "stride", g.stride));
  INGOT_RETURN_IF_ERROR(spatial_list(a.padding, nsp, 0, "padding", g.pad));
  INGOT_RETURN_IF_ERROR(spatial_list(a.dilation, nsp, 1, "dilation", g.dil));
  INGOT_RETURN_IF_ERROR(spatial_list(a.output_padding, nsp, 0, "output_padding", g.out_pad));
  for (int i = 0; i < nsp; ++i) {
    int d = 3 - nsp + i;
    g.in[d] = x.shape[2 + i];
    g.out[d] = y.shape[2 + i];
    g.k[d] = w.shape[2 + i];
    if (g.stride[d] < 1 || g.dil[d] < 1) return invalid_argument("conv: stride and dilation must be positive");
    int64_t span = g.dil[d] * (g.k[d] - 1);
    int64_t expected = a.transposed ? (g.in[d] - 1) * g.stride[d] - 2 * g.pad[d] + span + g.out_pad[d] + 1
                                    : (g.in[d] + 2 * g.pad[d] - span - 1) / g.stride[d] + 1;
    if (expected != g.out[d] || expected < 1)
      return invalid_argument("conv: output " + shape_string(y.shape) + " does not match input " +
                              shape_string(x.shape) + " and weight " + shape_string(w.shape) +
                              " (spatial dim " + std::to_string(i) + " should be " + std::to_string(expected) + ")");
  }
  return g;
}

// The [lo, hi) range of output positions o whose input position o*stride - pad + tap
// lies inside [0, in).
inline void valid_range(int64_t in, int64_t out, int64_t stride, int64_t offset, int64_t* lo, int64_t* hi) {
  // need 0 <= o*stride + offset < in
  int64_t l = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t h = in - offset <= 0 ? 0 : (in - offset + stride - 1) / stride;
  *lo = std::min(l, out);
  *hi = std::max(std::min(h, out), *lo);
}

// col[(c, kd, kh, kw), (od, oh, ow)] = x[c, od*s - p + kd*d, ...] or 0 outside.
template <typename T>
void im2col(const ConvGeometry& g, const T* x, int64_t channels, T* col) {
  const int64_t ksz = g.k_size(), osz = g.out_size();
#pragma omp parallel for schedule(static) if (channels * ksz * osz > 65536)
  for (int64_t row = 0; row < channels * ksz; ++row) {
    int64_t c = row / ksz, kk = row % ksz;
    int64_t kd = kk / (g.k[1] * g.k[2]), kh = kk / g.k[2] % g.k[1], kw = kk % g.k[2];
    const T* xc = x + c * g.in_size();
    T* dst = col + row * osz;
    int64_t w_off = kw * g.dil[2] - g.pad[2], w_lo, w_hi;
    valid_range(g.in[2], g.out[2], g.stride[2], w_off, &w_lo, &w_hi);
    for (int64_t od = 0; od < g.out[0]; ++od) {
      int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
        T* d = dst + (od * g.out[1] + oh) * g.out[2];
        if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) {
          std::fill(d, d + g.out[2], T(0));
          continue;
        }
        const T* src = xc + (id * g.in[1] + ih) * g.in[2] + w_off;
        std::fill(d, d + w_lo, T(0));
        if (g.stride[2] == 1) {
          std::memcpy(d + w_lo, src + w_lo, sizeof(T) * (w_hi - w_lo));
        } else {
          for (int64_t ow = w_lo; ow < w_hi; ++ow) d[ow] = src[ow * g.stride[2]];
        }
        std::fill(d + w_hi, d + g.out[2], T(0));
      }
    }
  }
}

// y[c, o] += col[(c, k), i] for the output positions o each input position i reaches.
template <typename T>
void col2im(const ConvGeometry& g, const T* col, int64_t channels, T* y) {
  const int64_t ksz = g.k_size(), isz = g.in_size(), osz = g.out_size();
#pragma omp parallel for schedule(static) if (channels * ksz * isz > 65536)
  for (int64_t c = 0; c < channels; ++c) {
    T* yc = y + c * osz;
    for (int64_t kk = 0; kk < ksz; ++kk) {
      int64_t kd = kk / (g.k[1] * g.k[2]), kh = kk / g.k[2] % g.k[1], kw = kk % g.k[2];
      const T* src = col + (c * ksz + kk) * isz;
      for (int64_t id = 0; id < g.in[0]; ++id) {
        int64_t od = id * g.stride[0] - g.pad[0] + kd * g.dil[0];
        if (od < 0 || od >= g.out[0]) continue;
        for (int64_t ih = 0; ih < g.in[1]; ++ih) {
          int64_t oh = ih * g.stride[1] - g.pad[1] + kh * g.dil[1];
          if (oh < 0 || oh >= g.out[1]) continue;
          const T* s = src + (id * g.in[1] + ih) * g.in[2];
          T* d = yc + (od * g.out[1] + oh) * g.out[2];
          for (int64_t iw = 0; iw < g.in[2]; ++iw) {
            int64_t ow = iw * g.stride[2] - g.pad[2] + kw * g.dil[2];
            if (ow >= 0 && ow < g.out[2]) d[ow] += s[iw];
          }
        }
      }
    }
  }
}

template <typename T>
void add_bias(const ConvGeometry& g, const T* bias, T* y) {
  if (!bias) return;
  const int64_t osz = g.out_size();
#pragma omp parallel for schedule(static) if (g.n * g.cout * osz > 65536)
  for (int64_t nc = 0; nc < g.n * g.cout; ++nc) {
    T b = bias[nc % g.cout];
    T* p = y + nc * osz;
    for (int64_t i = 0; i < osz; ++i) p[i] += b;
  }
}

// Depthwise (one input channel per group): per output channel, accumulate each
// kernel tap over whole output rows, which vectorizes when stride is 1.
template <typename T>
void depthwise(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t mult = g.cout / g.groups, ksz = g.k_size(), osz = g.out_size();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < g.n * g.cout; ++nc) {
    int64_t co = nc % g.cout, n = nc / g.cout, ci = co / mult;
    const T* xc = x + (n * g.cin + ci) * g.in_size();
    const T* wc = w + co * ksz;
    T* yc = y + nc * osz;
    std::fill(yc, yc + osz, bias ? bias[co] : T(0));
    for (int64_t kk = 0; kk < ksz; ++kk) {
      int64_t kd = kk / (g.k[1] * g.k[2]), kh = kk / g.k[2] % g.k[1], kw = kk % g.k[2];
      T wv = wc[kk];
      int64_t w_off = kw * g.dil[2] - g.pad[2], w_lo, w_hi;
      valid_range(g.in[2], g.out[2], g.stride[2], w_off, &w_lo, &w_hi);
      for (int64_t od = 0; od < g.out[0]; ++od) {
        int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
        if (id < 0 || id >= g.in[0]) continue;
        for (int64_t oh = 0; oh < g.out[1]; ++oh) {
          int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
          if (ih < 0 || ih >= g.in[1]) continue;
          const T* src = xc + (id * g.in[1] + ih) * g.in[2] + w_off;
          T* d = yc + (od * g.out[1] + oh) * g.out[2];
          if (g.stride[2] == 1) {
            for (int64_t ow = w_lo; ow < w_hi; ++ow) d[ow] += wv * src[ow];
          } else {
            for (int64_t ow = w_lo; ow < w_hi; ++ow) d[ow] += wv * src[ow * g.stride[2]];
          }
        }
      }
    }
  }
}

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cin_g = g.cin / g.groups, cout_g = g.cout / g.groups;
  if (cin_g == 1 && g.groups > 1) return depthwise(g, x, w, bias, y);
  const int64_t rows = cin_g * g.k_size(), osz = g.out_size(), isz = g.in_size();
  bool pointwise = g.k_size() == 1 && g.pad[0] == 0 && g.pad[1] == 0 && g.pad[2] == 0 && g.stride[0] == 1 &&
                   g.stride[1] == 1 && g.stride[2] == 1;
  T* col = pointwise ? nullptr : nn::scratch<T>(static_cast<size_t>(rows * osz));
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const T* xg = x + (n * g.cin + gi * cin_g) * isz;
      if (!pointwise) im2col(g, xg, cin_g, col);
      ConstMatMap<T> wm(w + gi * cout_g * rows, cout_g, rows);
      ConstMatMap<T> cm(pointwise ? xg : col, rows, osz);
      MatMap<T>(y + (n * g.cout + gi * cout_g) * osz, cout_g, osz).noalias() = wm * cm;
    }
  }
  add_bias(g, bias, y);
}

template <typename T>
void conv_transposed(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cin_g = g.cin / g.groups, cout_g = g.cout / g.groups;
  const int64_t rows = cout_g * g.k_size(), isz = g.in_size(), osz = g.out_size();
  T* col = nn::scratch<T>(static_cast<size_t>(rows * isz));
  std::fill(y, y + g.n * g.cout * osz, T(0));
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      ConstMatMap<T> wm(w + gi * cin_g * rows, cin_g, rows);
      ConstMatMap<T> xm(x + (n * g.cin + gi * cin_g) * isz, cin_g, isz);
      MatMap<T>(col, rows, isz).noalias() = wm.transpose() * xm;
      col2im(g, col, cout_g, y + (n * g.cout + gi * cout_g) * osz);
    }
  }
  add_bias(g, bias, y);
}

// [N, S, C] -> [N, C, S] (channels-last to channels-first), and back.
template <typename T>
void to_channels_first(const T* src, int64_t n, int64_t spatial, int64_t channels, T* dst) {
#pragma omp parallel for schedule(static) if (n * spatial * channels > 65536)
  for (int64_t ns = 0; ns < n * spatial; ++ns) {
    const int64_t b = ns / spatial, s = ns % spatial;
    const T* in = src + ns * channels;
    T* out = dst + b * channels * spatial + s;
    for (int64_t c = 0; c < channels; ++c) out[c * spatial] = in[c];
  }
}
template <typename T>
void to_channels_last(const T* src, int64_t n, int64_t spatial, int64_t channels, T* dst) {
#pragma omp parallel for schedule(static) if (n * spatial * channels > 65536)
  for (int64_t ns = 0; ns < n * spatial; ++ns) {
    const int64_t b = ns / spatial, s = ns % spatial;
    const T* in = src + b * channels * spatial + s;
    T* out = dst + ns * channels;
    for (int64_t c = 0; c < channels; ++c) out[c] = in[c * spatial];
  }
}

// The shape of a channels-last tensor [N, *spatial, C] read as [N, C, *spatial].
std::vector<int64_t> channels_first_shape(const std::vector<int64_t>& s) {
  std::vector<int64_t> r = {s[0], s.back()};
  r.insert(r.end(), s.begin() + 1, s.end() - 1);
  return r;
}

template <typename T>
Status conv_typed(const ConvAttrs& a, const KernelArgs& args) {
  const TensorRef* bias = args.in.size() > 2 ? args.in[2] : nullptr;
  const TensorRef* residual = args.in.size() > 3 ? args.in[3] : nullptr;
  TensorRef x = *args.in[0], w = *args.in[1], y = *args.out[0];
  if (residual && residual->shape != y.shape)
    return invalid_argument("conv: residual " + shape_string(residual->shape) + " does not match the output " +
                            shape_string(y.shape));
  if (a.channels_last) {
    // Channels-last convs run on channels-first copies (the CPU backend is the
    // reference, not the fast path): x, weight and y go through scratch buffers.
    if (a.transposed) return unsupported("conv: channels_last transposed convolutions are not supported");
    if (x.rank() < 3 || w.rank() != x.rank() || y.rank() != x.rank())
      return invalid_argument("conv: channels_last expects x [N, *spatial, C] with weight and output of the same "
                              "rank; got x " + shape_string(x.shape) + ", weight " + shape_string(w.shape) +
                              ", out " + shape_string(y.shape));
    const int64_t xs = nn::product(x.shape, 1, x.shape.size() - 1), ws = nn::product(w.shape, 1, w.shape.size() - 1);
    T* xc = nn::scratch<T>(static_cast<size_t>(x.numel()), 1);
    T* wc = nn::scratch<T>(static_cast<size_t>(w.numel()), 2);
    T* yc = nn::scratch<T>(static_cast<size_t>(y.numel()), 3);
    to_channels_first(x.as<T>(), x.shape[0], xs, x.shape.back(), xc);
    to_channels_first(w.as<T>(), w.shape[0], ws, w.shape.back(), wc);
    x = TensorRef{xc, x.dtype, channels_first_shape(x.shape)};
    w = TensorRef{wc, w.dtype, channels_first_shape(w.shape)};
    y = TensorRef{yc, y.dtype, channels_first_shape(y.shape)};
  }
  INGOT_ASSIGN_OR_RETURN(ConvGeometry g, make_geometry(a, x, w, y));
  if (bias && bias->numel() != g.cout)
    return invalid_argument("conv: bias " + shape_string(bias->shape) + " does not match out_channels=" +
                            std::to_string(g.cout));
  if (y.numel() == 0) return Status::ok_status();
  if (a.transposed)
    conv_transposed<T>(g, x.as<T>(), w.as<T>(), bias ? bias->as<T>() : nullptr, y.as<T>());
  else
    conv_forward<T>(g, x.as<T>(), w.as<T>(), bias ? bias->as<T>() : nullptr, y.as<T>());
  TensorRef& out = *args.out[0];
  if (a.channels_last)
    to_channels_last(y.as<T>(), out.shape[0], nn::product(out.shape, 1, out.shape.size() - 1), out.shape.back(),
                     out.as<T>());
  // Epilogue in the order of ops.def: + residual, then the activation.
  if (residual) {
    const T* r = residual->as<T>();
    T* o = out.as<T>();
    const int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) o[i] += r[i];
  }
  if (a.activation >= 0) {
    if (!unary_fn_valid(a.activation))
      return invalid_argument("conv: unknown activation " + std::to_string(a.activation));
    const auto fn = static_cast<UnaryFn>(a.activation);
    if (fn == UnaryFn::kLogicalNot || fn == UnaryFn::kIsNan || fn == UnaryFn::kBitwiseNot)
      return unsupported(std::string("conv: activation ") + unary_fn_name(fn) + " is not a float function");
    // In place through the elementwise kernel, so the fused activation computes exactly
    // what the separate Unary node did.
    KernelArgs act;
    act.in = {&out};
    act.out = {&out};
    INGOT_RETURN_IF_ERROR(
        elementwise(UnaryAttrs{.fn = a.activation, .alpha = a.activation_alpha, .beta = a.activation_beta}, act));
  }
  return Status::ok_status();
}

}  // namespace

Status convolution(const OpAttrs& attrs, const KernelArgs& args) {
  if (op_kind(attrs) != OpKind::kConv)
    return internal_error(std::string("convolution: not a conv op: ") + op_name(op_kind(attrs)));
  if (args.in.size() < 2 || !args.in[0] || !args.in[1] || args.out.size() != 1)
    return internal_error("conv: expects inputs (x, weight, bias?, residual?) and one output");
  const auto& a = std::get<ConvAttrs>(attrs);
  return nn::run_in_float(args, [&](const KernelArgs& s) -> Status {
    DType t = s.in[0]->dtype;
    for (const TensorRef* r : s.in)
      if (r && r->dtype != t)
        return unsupported(std::string("conv: mixed dtypes ") + dtype_name(t) + " and " + dtype_name(r->dtype));
    switch (t) {
      case DType::kFloat32: return conv_typed<float>(a, s);
      case DType::kFloat64: return conv_typed<double>(a, s);
      default: return unsupported(std::string("conv: dtype ") + dtype_name(t) + " is not supported on cpu");
    }
  });
}

}  // namespace ingot::cpu
