// CUDA kernels for the normalization family: layer_norm, rms_norm, group_norm and
// inference batch_norm, for float32, float16 and bfloat16 (statistics in fp32).
// Layer/rms norm is memory bound, so rows of up to 8192 elements whose length is a
// multiple of 16 bytes (and whose pointers are 16-byte aligned) take a kernel that
// reads each element once with 16-byte loads and keeps the row in registers: a
// warp (or 2/4/8 warps) per row, several rows per block for short rows. Other rows
// take a generic kernel (a warp or a block per row, scalar loads, three passes over
// memory). Layer norm statistics are corrected two-pass: the mean, then the sums of
// d = x - mean and d^2, where sum(d) / n is the fp32 mean's rounding error and is
// subtracted from d; that keeps rows with |mean| >> std accurate, as the CPU
// backend's double reference is. Group norm gives each (sample, group) to a block
// and takes plain two-pass statistics (mean, then centered variance).
#include <cstdint>
#include <string>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

constexpr int kBlock = 256;

// Sum across a group of `group` threads (32 = warp, else the whole block); all get the result.
__device__ __forceinline__ float group_sum(float v, int group, float* smem) {
  auto add = [](float a, float b) { return a + b; };
  return group > 32 ? block_all_reduce(v, add, smem) : warp_all_reduce(v, add);  // the block version does the warp step
}

// Mean, then the corrected centered sums (see the file comment); the fallback for rows
// the register-cached kernel does not take (long rows, odd lengths, unaligned pointers).
template <typename T>
__global__ void __launch_bounds__(kBlock) row_norm_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                                          int64_t inner, const T* __restrict__ w,
                                                          const T* __restrict__ b, const T* __restrict__ r,
                                                          const T* __restrict__ pb, float eps, bool rms, int group) {
  __shared__ float smem[32];
  const int per_block = blockDim.x / group, sub = threadIdx.x / group, lane = threadIdx.x % group;
  const float inv_n = 1.f / static_cast<float>(inner);
  for (int64_t base = int64_t(blockIdx.x) * per_block; base < rows; base += int64_t(gridDim.x) * per_block) {
    const int64_t row = base + sub;
    const bool active = row < rows;
    const T* xr = x + (active ? row : 0) * inner;
    const T* rr = r ? r + (active ? row : 0) * inner : nullptr;
    T* yr = y + (active ? row : 0) * inner;
    // x + residual + input bias (the pre-adds), re-read on each of the three passes.
    auto in = [&](int64_t i) {
      float v = widen(xr[i]);
      if (rr) v += widen(rr[i]);
      if (pb) v += widen(pb[i]);
      return v;
    };
    float mean = 0.f;
    if (!rms) {
      float s = 0.f;
      if (active)
        for (int64_t i = lane; i < inner; i += group) s += in(i);
      mean = group_sum(s, group, smem) * inv_n;
    }
    float s1 = 0.f, s2 = 0.f;
    if (active)
      for (int64_t i = lane; i < inner; i += group) {
        const float d = in(i) - mean;
        s1 += d;
        s2 += d * d;
      }
    const float shift = rms ? 0.f : group_sum(s1, group, smem) * inv_n;  // mean's rounding error
    const float var = fmaxf(group_sum(s2, group, smem) * inv_n - shift * shift, 0.f);
    const float inv = rsqrtf(var + eps);
    if (active)
      for (int64_t i = lane; i < inner; i += group) {
        float v = ((in(i) - mean) - shift) * inv;  // not x - (mean + shift): that sum would round to x's scale
        if (w) v *= widen(w[i]);
        if (b) v += widen(b[i]);
        yr[i] = cast_value<T>(v);
      }
  }
}

// ---------------------------------------------------------------- register-cached rows

// 16 bytes of T: one vector load or store.
template <typename T> struct alignas(16) Pack16 {
  static constexpr int kSize = 16 / sizeof(T);
  T v[kSize];
};
// Through the read-only data cache (ld.global.nc): worth 0.4 us of a 6.3 us layer norm
// on [6304, 768] (bench/studies/layer_norm_study.cu, E4). Only for data no thread of
// the kernel writes.
template <typename T> __device__ __forceinline__ Pack16<T> load16(const T* p) {
  const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
  Pack16<T> r;
  static_assert(sizeof(r) == sizeof(raw));
  memcpy(&r, &raw, sizeof(raw));
  return r;
}
template <typename T> __device__ __forceinline__ void store16(T* p, const Pack16<T>& v) {
  uint4 raw;
  memcpy(&raw, &v, sizeof(raw));
  *reinterpret_cast<uint4*>(p) = raw;
}

constexpr int kMaxVecWarps = 8;            // warps per row at most (8192 elements at 32 floats per thread)
constexpr int kMaxFloatsPerThread = 32;    // register budget for the cached row
constexpr int kMaxVecBlock = 256;

// Sum of (a, b) over the kWarps warps of a row; every thread of the row gets the same
// result (same summation order). With kWarps > 1 the block is exactly one row.
template <int kWarps> __device__ __forceinline__ float2 row_sum2(float2 v, float2* smem) {
  for (int o = 16; o > 0; o >>= 1) {
    v.x += __shfl_xor_sync(0xffffffffu, v.x, o);
    v.y += __shfl_xor_sync(0xffffffffu, v.y, o);
  }
  if constexpr (kWarps > 1) {
    __syncthreads();  // smem may still be read by the previous reduction
    if ((threadIdx.x & 31) == 0) smem[threadIdx.x >> 5] = v;
    __syncthreads();
    v = smem[0];
#pragma unroll
    for (int i = 1; i < kWarps; ++i) {
      v.x += smem[i].x;
      v.y += smem[i].y;
    }
  }
  return v;
}

// One value's sum over the row (see row_sum2): a single shuffle chain when the row is one warp.
template <int kWarps> __device__ __forceinline__ float row_sum1(float v, float2* smem) {
  if constexpr (kWarps == 1) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
  } else {
    return row_sum2<kWarps>(make_float2(v, 0.f), smem).x;
  }
}

// Each row is read once into registers: thread `lane` (of 32 * kWarps per row) holds
// 16-byte vectors lane, lane + 32 * kWarps, ... (kVecs of them; coalesced), statistics
// come from the registers, and the row is written once. Requires inner % Pack16<T>::kSize
// == 0, 16-byte aligned x/y/w/b and residual/input bias (r/pb: the pre-adds, added as the
// row is read) and inner <= kVecs * 32 * kWarps * kSize; kFull: inner is exactly that (768 = 3 x 32 x 8 at fp16), so the row length and the vector bounds
// are compile-time. A 1-D block of rows_per_block rows (1 when kWarps > 1: block-wide
// syncs), one row per group of 32 * kWarps threads and no row loop: the grid covers
// the rows. Against a grid-stride loop, a run-time row length and a 2-D block, those
// three and the read-only loads take [6304, 768] fp16 from 6.3 to 4.7 us on an H100
// (a copy of the bytes: 3.9; bench/studies/layer_norm_study.cu, E0-E5).
template <typename T, int kWarps, int kVecs, bool kFull>
__global__ void __launch_bounds__(kMaxVecBlock) row_norm_vec_kernel(const T* __restrict__ x, T* __restrict__ y,
                                                                     int64_t rows, int inner_arg,
                                                                     const T* __restrict__ w,
                                                                     const T* __restrict__ b,
                                                                     const T* __restrict__ r,
                                                                     const T* __restrict__ pb, float eps, bool rms) {
  constexpr int kSize = Pack16<T>::kSize;
  constexpr int kRowThreads = 32 * kWarps;
  static_assert(kVecs * kSize <= kMaxFloatsPerThread);
  __shared__ float2 smem[kWarps];
  const int lane = threadIdx.x % kRowThreads;
  const int inner = kFull ? kVecs * kRowThreads * kSize : inner_arg;
  const int nvec = inner / kSize;
  const float inv_n = 1.f / static_cast<float>(inner);
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / kRowThreads) + threadIdx.x / kRowThreads;
  if (row >= rows) return;  // after this, no block-wide sync is skipped: kWarps > 1 has one row a block
  // The weight and bias vectors are loaded before the row, so that their latency
  // overlaps the row's.
  Pack16<T> wv[kVecs], bv[kVecs], pbv[kVecs];
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    const int vi = k * kRowThreads + lane;
    if (kFull || vi < nvec) {
      if (w) wv[k] = load16(w + vi * kSize);
      if (b) bv[k] = load16(b + vi * kSize);
      if (pb) pbv[k] = load16(pb + vi * kSize);
    }
  }
  const T* xr = x + row * inner;
  const T* rr = r ? r + row * inner : nullptr;
  T* yr = y + row * inner;
  float v[kVecs][kSize];
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    const int vi = k * kRowThreads + lane;
    if (kFull || vi < nvec) {
      const Pack16<T> p = load16(xr + vi * kSize);
#pragma unroll
      for (int j = 0; j < kSize; ++j) v[k][j] = widen(p.v[j]);
      if (rr) {  // the pre-adds: x + residual + input bias
        const Pack16<T> q = load16(rr + vi * kSize);
#pragma unroll
        for (int j = 0; j < kSize; ++j) v[k][j] += widen(q.v[j]);
      }
      if (pb) {
#pragma unroll
        for (int j = 0; j < kSize; ++j) v[k][j] += widen(pbv[k].v[j]);
      }
    } else {
#pragma unroll
      for (int j = 0; j < kSize; ++j) v[k][j] = 0.f;  // padding: adds nothing to the sums below
    }
  }
  float inv;
  if (rms) {
    float sq = 0.f;
#pragma unroll
    for (int k = 0; k < kVecs; ++k)
#pragma unroll
      for (int j = 0; j < kSize; ++j) sq += v[k][j] * v[k][j];
    inv = rsqrtf(row_sum1<kWarps>(sq, smem) * inv_n + eps);
  } else {
    float s = 0.f;
#pragma unroll
    for (int k = 0; k < kVecs; ++k)
#pragma unroll
      for (int j = 0; j < kSize; ++j) s += v[k][j];
    const float mean = row_sum1<kWarps>(s, smem) * inv_n;
    float s1 = 0.f, s2 = 0.f;
#pragma unroll
    for (int k = 0; k < kVecs; ++k) {
      const bool valid = kFull || k * kRowThreads + lane < nvec;
#pragma unroll
      for (int j = 0; j < kSize; ++j) {
        const float d = valid ? v[k][j] - mean : 0.f;
        v[k][j] = d;
        s1 += d;
        s2 += d * d;
      }
    }
    const float2 sums = row_sum2<kWarps>(make_float2(s1, s2), smem);
    const float shift = sums.x * inv_n;  // the fp32 mean's rounding error
    inv = rsqrtf(fmaxf(sums.y * inv_n - shift * shift, 0.f) + eps);
#pragma unroll
    for (int k = 0; k < kVecs; ++k)
#pragma unroll
      for (int j = 0; j < kSize; ++j) v[k][j] -= shift;
  }
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    const int vi = k * kRowThreads + lane;
    if (!kFull && vi >= nvec) continue;
    float o[kSize];
#pragma unroll
    for (int j = 0; j < kSize; ++j) o[j] = v[k][j] * inv;
    if (w) {
#pragma unroll
      for (int j = 0; j < kSize; ++j) o[j] *= widen(wv[k].v[j]);
    }
    if (b) {
#pragma unroll
      for (int j = 0; j < kSize; ++j) o[j] += widen(bv[k].v[j]);
    }
    Pack16<T> out;
#pragma unroll
    for (int j = 0; j < kSize; ++j) out.v[j] = cast_value<T>(o[j]);
    store16(yr + vi * kSize, out);
  }
}

template <typename T, int kWarps, int kVecs>
bool launch_vec(const T* x, T* y, int64_t rows, int inner, const T* w, const T* b, const T* r, const T* pb, float eps,
                bool rms, cudaStream_t stream) {
  // Short rows: up to 4 rows (warps) per block, but only while that leaves >= 2 blocks
  // per SM of an H100-sized GPU (batch-1 shapes have a few hundred rows).
  int rows_per_block = 1;
  if (kWarps == 1)
    while (rows_per_block < 4 && (rows + 2 * rows_per_block - 1) / (2 * rows_per_block) >= 264) rows_per_block *= 2;
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  if (blocks > int64_t{INT32_MAX}) return false;  // no row loop: the generic kernel takes such a tensor
  const unsigned threads = 32u * kWarps * static_cast<unsigned>(rows_per_block);
  if (inner == kVecs * 32 * kWarps * Pack16<T>::kSize)
    row_norm_vec_kernel<T, kWarps, kVecs, true>
        <<<static_cast<unsigned>(blocks), threads, 0, stream>>>(x, y, rows, inner, w, b, r, pb, eps, rms);
  else
    row_norm_vec_kernel<T, kWarps, kVecs, false>
        <<<static_cast<unsigned>(blocks), threads, 0, stream>>>(x, y, rows, inner, w, b, r, pb, eps, rms);
  return true;
}

template <typename T, int kWarps>
bool launch_vec_for_warps(int vecs, const T* x, T* y, int64_t rows, int inner, const T* w, const T* b, const T* r,
                          const T* pb, float eps, bool rms, cudaStream_t stream) {
  // Instantiated vector counts per thread; a count in between rounds up (padding lanes idle).
  switch (vecs) {
    case 1: return launch_vec<T, kWarps, 1>(x, y, rows, inner, w, b, r, pb, eps, rms, stream);
    case 2: return launch_vec<T, kWarps, 2>(x, y, rows, inner, w, b, r, pb, eps, rms, stream);
    case 3: return launch_vec<T, kWarps, 3>(x, y, rows, inner, w, b, r, pb, eps, rms, stream);
    case 4: return launch_vec<T, kWarps, 4>(x, y, rows, inner, w, b, r, pb, eps, rms, stream);
    default: break;
  }
  if constexpr (Pack16<T>::kSize * 8 <= kMaxFloatsPerThread) {  // float32: 4 per vector, up to 8 vectors
    if (vecs <= 6) return launch_vec<T, kWarps, 6>(x, y, rows, inner, w, b, r, pb, eps, rms, stream);
    if (vecs <= 8) return launch_vec<T, kWarps, 8>(x, y, rows, inner, w, b, r, pb, eps, rms, stream);
  }
  return false;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Launches the register-cached kernel if the row fits it; false leaves the row to the
// generic kernel.
template <typename T>
bool try_launch_vec(const T* x, T* y, int64_t rows, int64_t inner, const T* w, const T* b, const T* r, const T* pb,
                    float eps, bool rms, cudaStream_t stream) {
  constexpr int kSize = Pack16<T>::kSize;
  constexpr int kMaxVecs = kMaxFloatsPerThread / kSize;
  if (inner % kSize != 0 || inner > int64_t{kMaxVecWarps} * 32 * kMaxVecs * kSize) return false;
  for (const void* p : {static_cast<const void*>(w), static_cast<const void*>(b), static_cast<const void*>(r),
                        static_cast<const void*>(pb)})
    if (p && !aligned16(p)) return false;
  if (!aligned16(x) || !aligned16(y)) return false;
  const int nvec = static_cast<int>(inner / kSize);
  int warps = 1;  // fewest warps that hold the row: the most independent loads per thread
  while (warps < kMaxVecWarps && nvec > warps * 32 * kMaxVecs) warps *= 2;
  const int vecs = (nvec + warps * 32 - 1) / (warps * 32);
  const int n = static_cast<int>(inner);
  switch (warps) {
    case 1: return launch_vec_for_warps<T, 1>(vecs, x, y, rows, n, w, b, r, pb, eps, rms, stream);
    case 2: return launch_vec_for_warps<T, 2>(vecs, x, y, rows, n, w, b, r, pb, eps, rms, stream);
    case 4: return launch_vec_for_warps<T, 4>(vecs, x, y, rows, n, w, b, r, pb, eps, rms, stream);
    case 8: return launch_vec_for_warps<T, 8>(vecs, x, y, rows, n, w, b, r, pb, eps, rms, stream);
  }
  return false;
}

template <typename T>
__global__ void __launch_bounds__(kBlock) group_norm_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t count,
                                                            int64_t groups, int64_t cpg, int64_t spatial,
                                                            const T* __restrict__ w, const T* __restrict__ b,
                                                            float eps) {
  __shared__ float smem[32];
  const int64_t group_size = cpg * spatial;
  for (int64_t ng = blockIdx.x; ng < count; ng += gridDim.x) {
    const T* xg = x + ng * group_size;
    T* yg = y + ng * group_size;
    float s = 0.f;
    for (int64_t i = threadIdx.x; i < group_size; i += blockDim.x) s += widen(xg[i]);
    const float mean = group_sum(s, blockDim.x, smem) / static_cast<float>(group_size);
    float sq = 0.f;
    for (int64_t i = threadIdx.x; i < group_size; i += blockDim.x) {
      const float d = widen(xg[i]) - mean;
      sq += d * d;
    }
    const float inv = rsqrtf(group_sum(sq, blockDim.x, smem) / static_cast<float>(group_size) + eps);
    const int64_t c0 = (ng % groups) * cpg;
    for (int64_t i = threadIdx.x; i < group_size; i += blockDim.x) {
      const int64_t c = c0 + i / spatial;
      const float scale = inv * (w ? widen(w[c]) : 1.f);
      const float shift = (b ? widen(b[c]) : 0.f) - mean * scale;
      yg[i] = cast_value<T>(widen(xg[i]) * scale + shift);
    }
  }
}

template <typename T>
__global__ void batch_norm_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, int64_t channels,
                                  int64_t spatial, const T* __restrict__ w, const T* __restrict__ b,
                                  const T* __restrict__ mean, const T* __restrict__ var, double eps) {
  INGOT_GRID_STRIDE(i, n) {
    const int64_t c = (i / spatial) % channels;
    // Same rounding as the CPU kernel: scale and shift in double, rounded to float.
    double s = 1.0 / sqrt(static_cast<double>(widen(var[c])) + eps);
    if (w) s *= static_cast<double>(widen(w[c]));
    const float scale = static_cast<float>(s);
    const float shift = static_cast<float>((b ? static_cast<double>(widen(b[c])) : 0.0) -
                                           static_cast<double>(widen(mean[c])) * s);
    y[i] = cast_value<T>(widen(x[i]) * scale + shift);
  }
}

Status check_param(const DeviceTensor* p, int64_t expected, DType dtype, const char* what, const char* op) {
  if (!p) return {};
  if (p->numel() != expected)
    return invalid_argument(std::string("[cuda ") + op + "] " + what + " has shape " + shape_str(p->shape) +
                            ", expected " + std::to_string(expected) + " elements");
  if (p->dtype != dtype)
    return unsupported(std::string("[cuda ") + op + "] mixed dtypes " + dtype_name(dtype) + " and " +
                       dtype_name(p->dtype));
  return {};
}

template <typename T> const T* ptr(const DeviceTensor* t) { return t ? static_cast<const T*>(t->data) : nullptr; }

template <typename T>
Status run_typed(const OpAttrs& attrs, const KernelArgs& args) {
  const DeviceTensor& x = *args.in[0];
  DeviceTensor& out = *args.out[0];
  const char* op = op_name(op_kind(attrs));
  auto opt = [&](size_t i) -> const DeviceTensor* { return args.in.size() > i ? args.in[i] : nullptr; };
  if (out.numel() != x.numel() || out.dtype != x.dtype)
    return invalid_argument(std::string("[cuda ") + op + "] output " + shape_str(out.shape) + " does not match input " +
                            shape_str(x.shape));
  const T* xd = static_cast<const T*>(x.data);
  T* yd = static_cast<T*>(out.data);
  switch (op_kind(attrs)) {
    case OpKind::kLayerNorm:
    case OpKind::kRmsNorm: {
      const bool rms = op_kind(attrs) == OpKind::kRmsNorm;
      const int64_t ndim = rms ? std::get<RmsNormAttrs>(attrs).normalized_ndim
                               : std::get<LayerNormAttrs>(attrs).normalized_ndim;
      const double eps = rms ? std::get<RmsNormAttrs>(attrs).eps : std::get<LayerNormAttrs>(attrs).eps;
      if (ndim < 0 || ndim > x.rank())
        return invalid_argument(std::string("[cuda ") + op + "] normalized_ndim " + std::to_string(ndim) +
                                " exceeds input rank " + std::to_string(x.rank()));
      const int64_t inner = product(x.shape, x.shape.size() - ndim, x.shape.size());
      const int64_t rows = inner ? x.numel() / inner : 0;
      const DeviceTensor* w = opt(1);
      const DeviceTensor* b = rms ? nullptr : opt(2);
      INGOT_RETURN_IF_ERROR(check_param(w, inner, x.dtype, "weight", op));
      INGOT_RETURN_IF_ERROR(check_param(b, inner, x.dtype, "bias", op));
      // Layer norm's optional pre-adds (fold_gemm_bias_into_norm): x + residual + input bias.
      const DeviceTensor* r = rms ? nullptr : opt(3);
      const DeviceTensor* pb = rms ? nullptr : opt(4);
      if (r && (r->shape != x.shape || r->dtype != x.dtype))
        return invalid_argument(std::string("[cuda ") + op + "] residual " + shape_str(r->shape) +
                                " does not match input " + shape_str(x.shape));
      INGOT_RETURN_IF_ERROR(check_param(pb, inner, x.dtype, "input bias", op));
      if (rows == 0) return {};
      if (!try_launch_vec<T>(xd, yd, rows, inner, ptr<T>(w), ptr<T>(b), ptr<T>(r), ptr<T>(pb),
                             static_cast<float>(eps), rms, args.stream)) {
        const int group = inner > 1024 ? kBlock : 32;
        int64_t blocks = (rows + kBlock / group - 1) / (kBlock / group);
        if (blocks > (1 << 20)) blocks = 1 << 20;
        row_norm_kernel<T><<<static_cast<unsigned>(blocks), kBlock, 0, args.stream>>>(
            xd, yd, rows, inner, ptr<T>(w), ptr<T>(b), ptr<T>(r), ptr<T>(pb), static_cast<float>(eps), rms, group);
      }
      INGOT_CUDA_CHECK_LAUNCH(op);
      return {};
    }
    case OpKind::kGroupNorm: {
      const auto& a = std::get<GroupNormAttrs>(attrs);
      if (x.rank() < 2)
        return invalid_argument("[cuda group_norm] input must be [N, C, *], got " + shape_str(x.shape));
      const int64_t n = x.shape[0], c = x.shape[1], spatial = product(x.shape, 2, x.shape.size());
      if (a.groups <= 0 || c % a.groups != 0)
        return invalid_argument("[cuda group_norm] groups=" + std::to_string(a.groups) + " does not divide channels=" +
                                std::to_string(c));
      INGOT_RETURN_IF_ERROR(check_param(opt(1), c, x.dtype, "weight", op));
      INGOT_RETURN_IF_ERROR(check_param(opt(2), c, x.dtype, "bias", op));
      const int64_t count = n * a.groups;
      if (count == 0 || spatial == 0) return {};
      group_norm_kernel<T><<<static_cast<unsigned>(std::min<int64_t>(count, 1 << 20)), kBlock, 0, args.stream>>>(
          xd, yd, count, a.groups, c / a.groups, spatial, ptr<T>(opt(1)), ptr<T>(opt(2)), static_cast<float>(a.eps));
      INGOT_CUDA_CHECK_LAUNCH(op);
      return {};
    }
    case OpKind::kBatchNorm: {
      const auto& a = std::get<BatchNormAttrs>(attrs);
      if (x.rank() < 2)
        return invalid_argument("[cuda batch_norm] input must be [N, C, *], got " + shape_str(x.shape));
      if (args.in.size() < 5 || !args.in[3] || !args.in[4])
        return invalid_argument("[cuda batch_norm] running_mean and running_var are required for inference");
      const int64_t c = x.shape[1], spatial = product(x.shape, 2, x.shape.size());
      INGOT_RETURN_IF_ERROR(check_param(args.in[1], c, x.dtype, "weight", op));
      INGOT_RETURN_IF_ERROR(check_param(args.in[2], c, x.dtype, "bias", op));
      INGOT_RETURN_IF_ERROR(check_param(args.in[3], c, x.dtype, "running_mean", op));
      INGOT_RETURN_IF_ERROR(check_param(args.in[4], c, x.dtype, "running_var", op));
      const int64_t n = x.numel();
      if (n == 0) return {};
      batch_norm_kernel<T><<<blocks_for(n), kThreads, 0, args.stream>>>(xd, yd, n, c, spatial, ptr<T>(args.in[1]),
                                                                        ptr<T>(args.in[2]), ptr<T>(args.in[3]),
                                                                        ptr<T>(args.in[4]), a.eps);
      INGOT_CUDA_CHECK_LAUNCH(op);
      return {};
    }
    default:
      return internal_error(std::string("[cuda normalization] not a normalization op: ") + op);
  }
}

}  // namespace

Status normalization(const OpAttrs& attrs, const KernelArgs& args) {
  if (args.in.empty() || !args.in[0] || args.out.size() != 1 || !args.out[0])
    return invalid_argument(std::string("[cuda ") + op_name(op_kind(attrs)) + "] expects an input and one output");
  switch (args.in[0]->dtype) {
    case DType::kFloat32: return run_typed<float>(attrs, args);
    case DType::kFloat16: return run_typed<__half>(attrs, args);
    case DType::kBFloat16: return run_typed<__nv_bfloat16>(attrs, args);
    default:
      return unsupported(std::string("[cuda ") + op_name(op_kind(attrs)) + "] dtype " +
                         dtype_name(args.in[0]->dtype) + " is not supported on cuda");
  }
}

}  // namespace ingot::cuda
