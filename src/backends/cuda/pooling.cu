// CUDA kernels for pooling and resizing: pool (max/avg, 1d-3d, padding, dilation,
// ceil_mode, count_include_pad, divisor_override), adaptive_pool (max/avg) and
// upsample (nearest, nearest-exact, linear/bilinear/trilinear, bicubic), for
// float32, float16 and bfloat16 computed in float. One thread per output element.
// Every case is viewed as 3 spatial dims (missing ones are 1) over "planes" (the
// flattened leading dims), and the index and weight formulas are the CPU
// kernel's (pooling.cc, after torch's ATen), with source coordinates computed
// without FMA contraction so that nearest indices round exactly as on the CPU.
// Channels-last pool and adaptive_pool ([N, *spatial, C], from the layout pass)
// have their own kernels that run along C, several channels per thread.
#include <cstdint>
#include <string>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

struct Geometry {
  int64_t planes = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
};

Result<Geometry> make_geometry(const char* op, const DeviceTensor& x, const DeviceTensor& y, int nsp) {
  if (nsp < 1 || nsp > 3 || x.rank() < nsp || y.rank() != x.rank())
    return invalid_argument(std::string("[cuda ") + op + "] cannot pool " + std::to_string(nsp) +
                            " spatial dims of " + shape_str(x.shape) + " into " + shape_str(y.shape));
  Geometry g;
  const int lead = x.rank() - nsp;
  for (int i = 0; i < lead; ++i)
    if (x.shape[i] != y.shape[i])
      return invalid_argument(std::string("[cuda ") + op + "] leading dims of " + shape_str(x.shape) + " and " +
                              shape_str(y.shape) + " differ");
  g.planes = product(x.shape, 0, lead);
  for (int i = 0; i < nsp; ++i) {
    g.in[3 - nsp + i] = x.shape[lead + i];
    g.out[3 - nsp + i] = y.shape[lead + i];
  }
  return g;
}

Status per_dim(const std::vector<int64_t>& v, int nsp, int64_t fallback, const char* name, int64_t* dst) {
  if (v.size() > 1 && static_cast<int>(v.size()) != nsp)
    return invalid_argument(std::string("[cuda pool] ") + name + " has " + std::to_string(v.size()) +
                            " entries, expected " + std::to_string(nsp));
  for (int i = 0; i < 3; ++i) dst[i] = i < 3 - nsp ? (fallback == 0 ? 0 : 1) : fallback;
  for (int i = 0; i < nsp; ++i) dst[3 - nsp + i] = v.empty() ? fallback : v.size() == 1 ? v[0] : v[i];
  return {};
}

struct PoolParams {
  Geometry g;
  int64_t k[3], s[3], p[3], d[3];
  bool is_max = true, count_include_pad = true;
  int64_t divisor_override = 0;
};

// Splits a flat output index into (plane, o0, o1, o2).
__device__ __forceinline__ int64_t split_out(int64_t i, const Geometry& g, int64_t* o) {
  o[2] = i % g.out[2];
  i /= g.out[2];
  o[1] = i % g.out[1];
  i /= g.out[1];
  o[0] = i % g.out[0];
  return i / g.out[0];
}

template <typename T> __global__ void pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, PoolParams pp) {
  const Geometry& g = pp.g;
  INGOT_GRID_STRIDE(idx, n) {
    int64_t o[3];
    const int64_t pl = split_out(idx, g, o);
    const T* xp = x + pl * g.in[0] * g.in[1] * g.in[2];
    float result;
    if (pp.is_max) {
      float mx = -INFINITY;
      int64_t lo[3], hi[3];
      for (int i = 0; i < 3; ++i) {
        const int64_t start = o[i] * pp.s[i] - pp.p[i];
        lo[i] = start >= 0 ? 0 : (-start + pp.d[i] - 1) / pp.d[i];
        const int64_t h = g.in[i] - start <= 0 ? 0 : (g.in[i] - start + pp.d[i] - 1) / pp.d[i];
        hi[i] = pp.k[i] < h ? pp.k[i] : h;
      }
      for (int64_t a0 = lo[0]; a0 < hi[0]; ++a0)
        for (int64_t a1 = lo[1]; a1 < hi[1]; ++a1) {
          const T* row = xp + ((o[0] * pp.s[0] - pp.p[0] + a0 * pp.d[0]) * g.in[1] + o[1] * pp.s[1] - pp.p[1] +
                               a1 * pp.d[1]) * g.in[2] + o[2] * pp.s[2] - pp.p[2];
          for (int64_t a2 = lo[2]; a2 < hi[2]; ++a2) {
            const float v = widen(row[a2 * pp.d[2]]);
            if (v > mx || v != v) mx = v;
          }
        }
      result = mx;
    } else {
      int64_t start[3], end[3], pool_size = 1, count = 1;
      for (int i = 0; i < 3; ++i) {
        start[i] = o[i] * pp.s[i] - pp.p[i];
        end[i] = start[i] + pp.k[i] < g.in[i] + pp.p[i] ? start[i] + pp.k[i] : g.in[i] + pp.p[i];
        pool_size *= end[i] - start[i];
        start[i] = start[i] > 0 ? start[i] : 0;
        end[i] = end[i] < g.in[i] ? end[i] : g.in[i];
        count *= end[i] - start[i] > 0 ? end[i] - start[i] : 0;
      }
      float sum = 0.f;
      for (int64_t i0 = start[0]; i0 < end[0]; ++i0)
        for (int64_t i1 = start[1]; i1 < end[1]; ++i1) {
          const T* row = xp + (i0 * g.in[1] + i1) * g.in[2];
          for (int64_t i2 = start[2]; i2 < end[2]; ++i2) sum += widen(row[i2]);
        }
      const int64_t divisor = pp.divisor_override ? pp.divisor_override : pp.count_include_pad ? pool_size : count;
      result = divisor ? sum / static_cast<float>(divisor) : NAN;
    }
    y[idx] = cast_value<T>(result);
  }
}

template <typename T>
__global__ void adaptive_pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, Geometry g, bool is_max) {
  INGOT_GRID_STRIDE(idx, n) {
    int64_t o[3], lo[3], hi[3];
    const int64_t pl = split_out(idx, g, o);
    for (int i = 0; i < 3; ++i) {
      lo[i] = (o[i] * g.in[i]) / g.out[i];
      hi[i] = ((o[i] + 1) * g.in[i] + g.out[i] - 1) / g.out[i];
    }
    const T* xp = x + pl * g.in[0] * g.in[1] * g.in[2];
    float acc = is_max ? -INFINITY : 0.f;
    for (int64_t i0 = lo[0]; i0 < hi[0]; ++i0)
      for (int64_t i1 = lo[1]; i1 < hi[1]; ++i1) {
        const T* row = xp + (i0 * g.in[1] + i1) * g.in[2];
        for (int64_t i2 = lo[2]; i2 < hi[2]; ++i2) {
          const float v = widen(row[i2]);
          if (!is_max) acc += v;
          else if (v > acc || v != v) acc = v;
        }
      }
    if (!is_max) acc /= static_cast<float>((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
    y[idx] = cast_value<T>(acc);
  }
}

// ---------------------------------------------------------------- channels-last
// Pools over [N, *spatial, C] (layout pass). Threads run along C, so neighbouring
// threads read neighbouring channels (coalesced), and each thread handles V
// channels with one 16-byte load per tap where C and the pointers allow it.

struct NhwcGeometry {
  int64_t n = 1, c = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
};

struct NhwcPoolParams {
  NhwcGeometry g;
  int64_t k[3], s[3], p[3], d[3];
  bool is_max = true, count_include_pad = true;
  int64_t divisor_override = 0;
};

// [N, *spatial, C] with nsp spatial dims, right-aligned into 3.
Result<NhwcGeometry> make_nhwc_geometry(const char* op, const DeviceTensor& x, const DeviceTensor& y, int nsp) {
  if (nsp < 1 || nsp > 3 || x.rank() != nsp + 2 || y.rank() != x.rank() || x.shape[0] != y.shape[0] ||
      x.shape.back() != y.shape.back())
    return invalid_argument(std::string("[cuda ") + op + "] channels_last expects [N, *spatial, C] input and output "
                            "with the same N and C and " + std::to_string(nsp) + " spatial dims; got " +
                            shape_str(x.shape) + " and " + shape_str(y.shape));
  NhwcGeometry g;
  g.n = x.shape[0];
  g.c = x.shape.back();
  for (int i = 0; i < nsp; ++i) {
    g.in[3 - nsp + i] = x.shape[1 + i];
    g.out[3 - nsp + i] = y.shape[1 + i];
  }
  return g;
}

// Splits a flat index over [N, o0, o1, o2, C / V] into (n, o, channel group).
// I is the index type: int32_t where every offset fits (see fits_int32), because
// 64-bit division is what bounds these kernels.
template <typename I>
__device__ __forceinline__ I split_nhwc(I i, const NhwcGeometry& g, I groups, I* o, I* cg) {
  *cg = i % groups;
  i /= groups;
  o[2] = i % static_cast<I>(g.out[2]);
  i /= static_cast<I>(g.out[2]);
  o[1] = i % static_cast<I>(g.out[1]);
  i /= static_cast<I>(g.out[1]);
  o[0] = i % static_cast<I>(g.out[0]);
  return i / static_cast<I>(g.out[0]);
}

// Max or sum over a window of input positions begin[i] + a * step[i], a < count[i],
// of the V channels at xb (an NHWC sample's base plus the channel group), into acc.
template <typename T, int V, typename I>
__device__ __forceinline__ void accumulate_nhwc_window(const T* __restrict__ xb, const NhwcGeometry& g,
                                                       const I begin[3], const I step[3], const I count[3],
                                                       bool is_max, float acc[V]) {
  const I in1 = static_cast<I>(g.in[1]), in2 = static_cast<I>(g.in[2]), c = static_cast<I>(g.c);
  for (I a0 = 0; a0 < count[0]; ++a0)
    for (I a1 = 0; a1 < count[1]; ++a1)
      for (I a2 = 0; a2 < count[2]; ++a2) {
        const I i0 = begin[0] + a0 * step[0], i1 = begin[1] + a1 * step[1], i2 = begin[2] + a2 * step[2];
        const Pack<T, V> in = *reinterpret_cast<const Pack<T, V>*>(xb + ((i0 * in1 + i1) * in2 + i2) * c);
        for (int j = 0; j < V; ++j) {
          const float v = widen(in.v[j]);
          if (!is_max) acc[j] += v;
          else if (v > acc[j] || v != v) acc[j] = v;
        }
      }
}

template <typename T, int V, typename I>
__global__ void pool_nhwc_kernel(const T* __restrict__ x, T* __restrict__ y, I n, NhwcPoolParams pp) {
  const NhwcGeometry& g = pp.g;
  const I groups = static_cast<I>(g.c / V);
  I k[3], s[3], p[3], d[3], in[3];
  for (int i = 0; i < 3; ++i) {
    k[i] = static_cast<I>(pp.k[i]);
    s[i] = static_cast<I>(pp.s[i]);
    p[i] = static_cast<I>(pp.p[i]);
    d[i] = static_cast<I>(pp.d[i]);
    in[i] = static_cast<I>(g.in[i]);
  }
  for (I idx = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; idx < n;
       idx += static_cast<I>(gridDim.x) * blockDim.x) {
    I o[3], cg;
    const I b = split_nhwc<I>(idx, g, groups, o, &cg);
    const T* xb = x + b * in[0] * in[1] * in[2] * static_cast<I>(g.c) + cg * V;
    float acc[V];
    Pack<T, V> out;
    if (pp.is_max) {
      for (int j = 0; j < V; ++j) acc[j] = -INFINITY;
      I begin[3], count[3];
      for (int i = 0; i < 3; ++i) {
        const I start = o[i] * s[i] - p[i];
        const I lo = start >= 0 ? 0 : (-start + d[i] - 1) / d[i];
        const I h = in[i] - start <= 0 ? 0 : (in[i] - start + d[i] - 1) / d[i];
        const I hi = k[i] < h ? k[i] : h;
        begin[i] = start + lo * d[i];
        count[i] = hi > lo ? hi - lo : 0;
      }
      accumulate_nhwc_window<T, V, I>(xb, g, begin, d, count, true, acc);
    } else {
      I start[3], end[3];
      int64_t pool_size = 1, count = 1;
      for (int i = 0; i < 3; ++i) {
        start[i] = o[i] * s[i] - p[i];
        end[i] = start[i] + k[i] < in[i] + p[i] ? start[i] + k[i] : in[i] + p[i];
        pool_size *= end[i] - start[i];
        start[i] = start[i] > 0 ? start[i] : 0;
        end[i] = end[i] < in[i] ? end[i] : in[i];
        count *= end[i] - start[i] > 0 ? end[i] - start[i] : 0;
      }
      for (int j = 0; j < V; ++j) acc[j] = 0.f;
      I extent[3];
      for (int i = 0; i < 3; ++i) extent[i] = end[i] > start[i] ? end[i] - start[i] : 0;
      const I unit[3] = {1, 1, 1};
      accumulate_nhwc_window<T, V, I>(xb, g, start, unit, extent, false, acc);
      const int64_t divisor = pp.divisor_override ? pp.divisor_override : pp.count_include_pad ? pool_size : count;
      for (int j = 0; j < V; ++j) acc[j] = divisor ? acc[j] / static_cast<float>(divisor) : NAN;
    }
    for (int j = 0; j < V; ++j) out.v[j] = cast_value<T>(acc[j]);
    *reinterpret_cast<Pack<T, V>*>(y + idx * V) = out;
  }
}

template <typename T, int V, typename I>
__global__ void adaptive_pool_nhwc_kernel(const T* __restrict__ x, T* __restrict__ y, I n, NhwcGeometry g,
                                          bool is_max) {
  const I groups = static_cast<I>(g.c / V);
  for (I idx = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; idx < n;
       idx += static_cast<I>(gridDim.x) * blockDim.x) {
    I o[3], cg, lo[3], hi[3];
    const I b = split_nhwc<I>(idx, g, groups, o, &cg);
    for (int i = 0; i < 3; ++i) {
      const I in = static_cast<I>(g.in[i]), out = static_cast<I>(g.out[i]);
      lo[i] = (o[i] * in) / out;
      hi[i] = ((o[i] + 1) * in + out - 1) / out;
    }
    const T* xb = x + b * static_cast<I>(g.in[0] * g.in[1] * g.in[2] * g.c) + cg * V;
    float acc[V];
    for (int j = 0; j < V; ++j) acc[j] = is_max ? -INFINITY : 0.f;
    I extent[3];
    for (int i = 0; i < 3; ++i) extent[i] = hi[i] - lo[i];
    const I unit[3] = {1, 1, 1};
    accumulate_nhwc_window<T, V, I>(xb, g, lo, unit, extent, is_max, acc);
    Pack<T, V> out;
    const float count = static_cast<float>((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
    for (int j = 0; j < V; ++j) out.v[j] = cast_value<T>(is_max ? acc[j] : acc[j] / count);
    *reinterpret_cast<Pack<T, V>*>(y + idx * V) = out;
  }
}

// Channels per thread: a 16-byte pack when C and both pointers allow it, else 1.
template <typename T> int nhwc_vector_width(int64_t c, const void* x, const void* y) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return c % kWide == 0 && aligned(x) && aligned(y) ? kWide : 1;
}

// Whether every element offset of x and y, and every intermediate the kernels
// form (window starts and ends with padding and dilation, an adaptive window's
// o * in), fits a 32-bit signed index. pp is null for adaptive pools.
bool fits_int32(const NhwcGeometry& g, const NhwcPoolParams* pp) {
  constexpr int64_t kLimit = int64_t{1} << 30;  // headroom for sums of two such terms
  int64_t in = g.n * g.c, out = g.n * g.c;
  for (int i = 0; i < 3; ++i) {
    const int64_t pad = pp ? pp->p[i] : 0;
    in *= g.in[i] + 2 * pad + 1;
    out *= g.out[i] + 1;
    if (pp) {
      if (pp->k[i] >= kLimit || pp->s[i] >= kLimit || pp->d[i] >= kLimit || pad >= kLimit) return false;
      // The last window's far end, from the attributes rather than the shapes.
      if (g.out[i] * pp->s[i] + pp->k[i] * pp->d[i] >= kLimit) return false;
    } else if ((g.in[i] + 1) * (g.out[i] + 1) >= kLimit) {
      return false;
    }
  }
  return in < kLimit && out < kLimit;
}

// A 2-d max pool with a K x K window and no dilation (ResNet's 3x3/2 after the
// stem), V channels a thread: the window is unrolled so that a thread's K * K loads
// are in flight together; the general kernel's run-time loops wait for one load
// before issuing the next. Out-of-image taps are skipped (-inf padding) and NaN
// propagates, as in the general kernel.
template <typename T, int V, int K>
__global__ void __launch_bounds__(kThreads) max_pool_nhwc_window_kernel(const T* __restrict__ x, T* __restrict__ y,
                                                                       int32_t n, NhwcPoolParams pp) {
  const NhwcGeometry& g = pp.g;
  const int32_t groups = static_cast<int32_t>(g.c / V), ih = static_cast<int32_t>(g.in[1]),
                iw = static_cast<int32_t>(g.in[2]), c = static_cast<int32_t>(g.c);
  const int32_t sh = static_cast<int32_t>(pp.s[1]), sw = static_cast<int32_t>(pp.s[2]);
  const int32_t ph = static_cast<int32_t>(pp.p[1]), pw = static_cast<int32_t>(pp.p[2]);
  for (int32_t idx = static_cast<int32_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < n;
       idx += static_cast<int32_t>(gridDim.x) * blockDim.x) {
    int32_t o[3], cg;
    const int32_t b = split_nhwc<int32_t>(idx, g, groups, o, &cg);
    const int32_t y0 = o[1] * sh - ph, x0 = o[2] * sw - pw;
    const T* xb = x + b * ih * iw * c + cg * V;
    Pack<T, V> tap[K][K];
    bool inside[K][K];
#pragma unroll
    for (int ky = 0; ky < K; ++ky)
#pragma unroll
      for (int kx = 0; kx < K; ++kx) {
        const int32_t iy = y0 + ky, ix = x0 + kx;
        inside[ky][kx] = iy >= 0 && iy < ih && ix >= 0 && ix < iw;
        if (inside[ky][kx]) tap[ky][kx] = *reinterpret_cast<const Pack<T, V>*>(xb + (iy * iw + ix) * c);
      }
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = -INFINITY;
#pragma unroll
    for (int ky = 0; ky < K; ++ky)
#pragma unroll
      for (int kx = 0; kx < K; ++kx)
        if (inside[ky][kx])
#pragma unroll
          for (int j = 0; j < V; ++j) {
            const float v = widen(tap[ky][kx].v[j]);
            if (v > acc[j] || v != v) acc[j] = v;
          }
    Pack<T, V> out;
#pragma unroll
    for (int j = 0; j < V; ++j) out.v[j] = cast_value<T>(acc[j]);
    *reinterpret_cast<Pack<T, V>*>(y + idx * V) = out;
  }
}

template <typename T, typename I, int V>
void launch_pool_nhwc_as(const T* x, T* y, int64_t n, const NhwcPoolParams& pp, cudaStream_t stream) {
  pool_nhwc_kernel<T, V, I><<<blocks_for(n), kThreads, 0, stream>>>(x, y, static_cast<I>(n), pp);
}

template <typename T>
Status launch_pool_nhwc(const T* x, T* y, const NhwcPoolParams& pp, cudaStream_t stream) {
  const int v = nhwc_vector_width<T>(pp.g.c, x, y);
  const int64_t n = pp.g.n * pp.g.out[0] * pp.g.out[1] * pp.g.out[2] * (pp.g.c / v);
  if (n == 0) return {};
  constexpr int kWide = 16 / sizeof(T);
  const bool small = fits_int32(pp.g, &pp);
  const bool square_2d = pp.g.in[0] == 1 && pp.g.out[0] == 1 && pp.k[0] == 1 && pp.p[0] == 0 &&
                         pp.k[1] == pp.k[2] && pp.d[1] == 1 && pp.d[2] == 1;
  if (pp.is_max && small && v == kWide && square_2d && (pp.k[1] == 2 || pp.k[1] == 3)) {
    const auto m = static_cast<int32_t>(n);
    if (pp.k[1] == 3) max_pool_nhwc_window_kernel<T, kWide, 3><<<blocks_for(n), kThreads, 0, stream>>>(x, y, m, pp);
    else max_pool_nhwc_window_kernel<T, kWide, 2><<<blocks_for(n), kThreads, 0, stream>>>(x, y, m, pp);
    INGOT_CUDA_CHECK_LAUNCH("max pool (channels_last, unrolled window)");
    return {};
  }
  if (v == 1) {
    small ? launch_pool_nhwc_as<T, int32_t, 1>(x, y, n, pp, stream) : launch_pool_nhwc_as<T, int64_t, 1>(x, y, n, pp, stream);
  } else {
    small ? launch_pool_nhwc_as<T, int32_t, kWide>(x, y, n, pp, stream)
          : launch_pool_nhwc_as<T, int64_t, kWide>(x, y, n, pp, stream);
  }
  INGOT_CUDA_CHECK_LAUNCH("pool (channels_last)");
  return {};
}

template <typename T>
Status launch_adaptive_nhwc(const T* x, T* y, const NhwcGeometry& g, bool is_max, cudaStream_t stream) {
  const int v = nhwc_vector_width<T>(g.c, x, y);
  const int64_t n = g.n * g.out[0] * g.out[1] * g.out[2] * (g.c / v);
  if (n == 0) return {};
  const unsigned blocks = blocks_for(n);
  constexpr int kWide = 16 / sizeof(T);
  if (fits_int32(g, nullptr)) {
    const auto m = static_cast<int32_t>(n);
    if (v == 1) adaptive_pool_nhwc_kernel<T, 1, int32_t><<<blocks, kThreads, 0, stream>>>(x, y, m, g, is_max);
    else adaptive_pool_nhwc_kernel<T, kWide, int32_t><<<blocks, kThreads, 0, stream>>>(x, y, m, g, is_max);
  } else {
    if (v == 1) adaptive_pool_nhwc_kernel<T, 1, int64_t><<<blocks, kThreads, 0, stream>>>(x, y, n, g, is_max);
    else adaptive_pool_nhwc_kernel<T, kWide, int64_t><<<blocks, kThreads, 0, stream>>>(x, y, n, g, is_max);
  }
  INGOT_CUDA_CHECK_LAUNCH("adaptive_pool (channels_last)");
  return {};
}

struct UpsampleParams {
  Geometry g;
  int mode[3] = {0, 0, 0};  // UpsampleMode per dim (padded dims: nearest)
  float scale[3] = {1, 1, 1};
  bool align_corners = false;
};

// Up to 4 source indices and weights along one dim for output position o; returns the count.
__device__ __forceinline__ int taps(int mode, int64_t o, int64_t in, float scale, bool align, int64_t* idx, float* w) {
  const float of = static_cast<float>(o);
  switch (static_cast<UpsampleMode>(mode)) {
    case UpsampleMode::kNearest:
    case UpsampleMode::kNearestExact: {
      const float src = mode == static_cast<int>(UpsampleMode::kNearest) ? __fmul_rn(of, scale)
                                                                           : __fmul_rn(__fadd_rn(of, 0.5f), scale);
      const int64_t i0 = static_cast<int64_t>(floorf(src));
      idx[0] = i0 < in - 1 ? i0 : in - 1;
      w[0] = 1.f;
      return 1;
    }
    case UpsampleMode::kLinear: {
      float src;
      if (align) {
        src = __fmul_rn(scale, of);
      } else {
        src = __fsub_rn(__fmul_rn(scale, __fadd_rn(of, 0.5f)), 0.5f);
        src = src > 0.f ? src : 0.f;
      }
      const int64_t i0 = static_cast<int64_t>(src);
      const float l1 = src - static_cast<float>(i0);
      idx[0] = i0 < in - 1 ? i0 : in - 1;
      const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
      idx[1] = i1 < in - 1 ? i1 : in - 1;
      w[0] = 1.f - l1;
      w[1] = l1;
      return 2;
    }
    case UpsampleMode::kBicubic: {
      const float src =
          align ? __fmul_rn(scale, of) : __fsub_rn(__fmul_rn(scale, __fadd_rn(of, 0.5f)), 0.5f);
      const float fl = floorf(src);
      const float t = src - fl;
      const float cc = -0.75f;
      auto conv1 = [&](float x) { return ((cc + 2) * x - (cc + 3)) * x * x + 1; };
      auto conv2 = [&](float x) { return ((cc * x - 5 * cc) * x + 8 * cc) * x - 4 * cc; };
      w[0] = conv2(t + 1);
      w[1] = conv1(t);
      w[2] = conv1(1 - t);
      w[3] = conv2(2 - t);
      for (int j = 0; j < 4; ++j) {
        int64_t i = static_cast<int64_t>(fl) - 1 + j;
        idx[j] = i < 0 ? 0 : (i > in - 1 ? in - 1 : i);
      }
      return 4;
    }
  }
  idx[0] = 0;
  w[0] = 0.f;
  return 1;
}

template <typename T>
__global__ void upsample_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, UpsampleParams up) {
  const Geometry& g = up.g;
  INGOT_GRID_STRIDE(idx, n) {
    int64_t o[3];
    const int64_t pl = split_out(idx, g, o);
    int64_t ix[3][4];
    float wt[3][4];
    int c[3];
    for (int i = 0; i < 3; ++i) c[i] = taps(up.mode[i], o[i], g.in[i], up.scale[i], up.align_corners, ix[i], wt[i]);
    const T* xp = x + pl * g.in[0] * g.in[1] * g.in[2];
    float acc = 0.f;
    for (int j0 = 0; j0 < c[0]; ++j0)
      for (int j1 = 0; j1 < c[1]; ++j1) {
        const float w01 = wt[0][j0] * wt[1][j1];
        const T* row = xp + (ix[0][j0] * g.in[1] + ix[1][j1]) * g.in[2];
        for (int j2 = 0; j2 < c[2]; ++j2) acc += w01 * wt[2][j2] * widen(row[ix[2][j2]]);
      }
    y[idx] = cast_value<T>(acc);
  }
}

// torch's area_pixel_compute_scale, in float like the CPU kernel.
float source_scale(int64_t in, int64_t out, bool align_corners, double user_scale, bool linear_like) {
  if (linear_like && align_corners) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f;
  return user_scale > 0 ? static_cast<float>(1.0 / user_scale) : static_cast<float>(in) / static_cast<float>(out);
}

template <typename T>
Status run_typed(const OpAttrs& attrs, const DeviceTensor& x, DeviceTensor& y, cudaStream_t stream) {
  const T* xd = static_cast<const T*>(x.data);
  T* yd = static_cast<T*>(y.data);
  const int64_t n = y.numel();
  switch (op_kind(attrs)) {
    case OpKind::kPool: {
      const auto& a = std::get<PoolAttrs>(attrs);
      const int nsp = static_cast<int>(a.kernel.size());
      if (a.channels_last) {
        NhwcPoolParams np;
        INGOT_ASSIGN_OR_RETURN(np.g, make_nhwc_geometry("pool", x, y, nsp));
        INGOT_RETURN_IF_ERROR(per_dim(a.kernel, nsp, 1, "kernel", np.k));
        INGOT_RETURN_IF_ERROR(per_dim(a.stride.empty() ? a.kernel : a.stride, nsp, 1, "stride", np.s));
        INGOT_RETURN_IF_ERROR(per_dim(a.padding, nsp, 0, "padding", np.p));
        INGOT_RETURN_IF_ERROR(per_dim(a.dilation, nsp, 1, "dilation", np.d));
        for (int i = 0; i < 3; ++i)
          if (np.k[i] < 1 || np.s[i] < 1 || np.d[i] < 1 || np.p[i] < 0)
            return invalid_argument("[cuda pool] kernel, stride and dilation must be positive and padding non-negative");
        np.is_max = a.kind == static_cast<int64_t>(PoolKind::kMax);
        if (!np.is_max && a.kind != static_cast<int64_t>(PoolKind::kAvg))
          return invalid_argument("[cuda pool] unknown kind " + std::to_string(a.kind));
        np.count_include_pad = a.count_include_pad;
        np.divisor_override = a.divisor_override;
        return launch_pool_nhwc<T>(xd, yd, np, stream);
      }
      PoolParams pp;
      INGOT_ASSIGN_OR_RETURN(pp.g, make_geometry("pool", x, y, nsp));
      INGOT_RETURN_IF_ERROR(per_dim(a.kernel, nsp, 1, "kernel", pp.k));
      INGOT_RETURN_IF_ERROR(per_dim(a.stride.empty() ? a.kernel : a.stride, nsp, 1, "stride", pp.s));
      INGOT_RETURN_IF_ERROR(per_dim(a.padding, nsp, 0, "padding", pp.p));
      INGOT_RETURN_IF_ERROR(per_dim(a.dilation, nsp, 1, "dilation", pp.d));
      for (int i = 0; i < 3; ++i)
        if (pp.k[i] < 1 || pp.s[i] < 1 || pp.d[i] < 1 || pp.p[i] < 0)
          return invalid_argument("[cuda pool] kernel, stride and dilation must be positive and padding non-negative");
      pp.is_max = a.kind == static_cast<int64_t>(PoolKind::kMax);
      if (!pp.is_max && a.kind != static_cast<int64_t>(PoolKind::kAvg))
        return invalid_argument("[cuda pool] unknown kind " + std::to_string(a.kind));
      pp.count_include_pad = a.count_include_pad;
      pp.divisor_override = a.divisor_override;
      if (n == 0) return {};
      pool_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(xd, yd, n, pp);
      INGOT_CUDA_CHECK_LAUNCH("pool");
      return {};
    }
    case OpKind::kAdaptivePool: {
      const auto& a = std::get<AdaptivePoolAttrs>(attrs);
      if (a.channels_last) {
        INGOT_ASSIGN_OR_RETURN(NhwcGeometry g, make_nhwc_geometry("adaptive_pool", x, y, x.rank() - 2));
        return launch_adaptive_nhwc<T>(xd, yd, g, a.kind == static_cast<int64_t>(PoolKind::kMax), stream);
      }
      if (x.rank() < 2)
        return invalid_argument("[cuda adaptive_pool] input must have rank >= 2, got " + shape_str(x.shape));
      const int nsp = std::min(3, x.rank() - 1);
      INGOT_ASSIGN_OR_RETURN(Geometry g, make_geometry("adaptive_pool", x, y, nsp));
      if (n == 0) return {};
      adaptive_pool_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(xd, yd, n, g,
                                                                      a.kind == static_cast<int64_t>(PoolKind::kMax));
      INGOT_CUDA_CHECK_LAUNCH("adaptive_pool");
      return {};
    }
    case OpKind::kUpsample: {
      const auto& a = std::get<UpsampleAttrs>(attrs);
      const int nsp = a.scales.empty() ? x.rank() - 2 : static_cast<int>(a.scales.size());
      UpsampleParams up;
      INGOT_ASSIGN_OR_RETURN(up.g, make_geometry("upsample", x, y, nsp));
      if (a.mode < 0 || a.mode > 3) return invalid_argument("[cuda upsample] unknown mode " + std::to_string(a.mode));
      const auto mode = static_cast<UpsampleMode>(a.mode);
      if (mode == UpsampleMode::kBicubic && nsp != 2) return unsupported("[cuda upsample] bicubic needs 2 spatial dims");
      up.align_corners = a.align_corners;
      for (int i = 0; i < 3; ++i) {
        const int sp = i - (3 - nsp);
        const double user_scale = sp >= 0 && !a.scales.empty() ? a.scales[sp] : 0.0;
        const UpsampleMode m = sp >= 0 ? mode : UpsampleMode::kNearest;
        const bool linear_like = m == UpsampleMode::kLinear || m == UpsampleMode::kBicubic;
        up.mode[i] = static_cast<int>(m);
        up.scale[i] = source_scale(up.g.in[i], up.g.out[i], a.align_corners, user_scale, linear_like);
      }
      if (n == 0) return {};
      upsample_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(xd, yd, n, up);
      INGOT_CUDA_CHECK_LAUNCH("upsample");
      return {};
    }
    default:
      return internal_error(std::string("[cuda pooling] not a pooling op: ") + op_name(op_kind(attrs)));
  }
}

}  // namespace

Status pooling(const OpAttrs& attrs, const KernelArgs& args) {
  if (args.in.empty() || !args.in[0] || args.out.size() != 1 || !args.out[0])
    return invalid_argument(std::string("[cuda ") + op_name(op_kind(attrs)) + "] expects one input and one output");
  const DeviceTensor& x = *args.in[0];
  DeviceTensor& y = *args.out[0];
  if (x.dtype != y.dtype)
    return invalid_argument(std::string("[cuda ") + op_name(op_kind(attrs)) + "] input and output dtypes differ");
  switch (x.dtype) {
    case DType::kFloat32: return run_typed<float>(attrs, x, y, args.stream);
    case DType::kFloat16: return run_typed<__half>(attrs, x, y, args.stream);
    case DType::kBFloat16: return run_typed<__nv_bfloat16>(attrs, x, y, args.stream);
    default:
      return unsupported(std::string("[cuda ") + op_name(op_kind(attrs)) + "] dtype " + dtype_name(x.dtype) +
                         " is not supported on cuda");
  }
}

}  // namespace ingot::cuda
