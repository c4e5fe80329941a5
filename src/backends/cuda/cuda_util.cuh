// Device-side helpers shared by the CUDA kernel families: element-type dispatch,
// loads and stores through float for 16-bit floats, broadcasting index maps and
// launch sizing. Kernels compute 16-bit floats in fp32 and store rounded results.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_common.h"
#include "backends/shape_util.h"

namespace ingot::cuda {

using backend::broadcast_strides;
using backend::contiguous_strides;
using backend::normalize_dim;
using backend::shape_str;


inline constexpr int kMaxRank = 8;
inline constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  if (b > (1LL << 30)) b = 1LL << 30;  // grid-stride loops cover the rest
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

// V elements moved as one aligned vector load or store.
template <typename T, int V> struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// Numeric conversion through float (or double/int64 where exactness matters).
template <typename T> __device__ __forceinline__ float to_float(T v) { return static_cast<float>(v); }
template <> __device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_float(float v) { return static_cast<T>(v); }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ bool from_float<bool>(float v) { return v != 0.f; }

template <typename T> struct IsHalfLike { static constexpr bool value = false; };
template <> struct IsHalfLike<__half> { static constexpr bool value = true; };
template <> struct IsHalfLike<__nv_bfloat16> { static constexpr bool value = true; };
template <typename T> inline constexpr bool kIsFloatLike =
    IsHalfLike<T>::value || std::is_same_v<T, float> || std::is_same_v<T, double>;

// Calls f(T{}) with T the C++ type of dtype; false if the dtype is not handled.
template <typename F>
bool dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32: f(float{}); return true;
    case DType::kFloat16: f(__half{}); return true;
    case DType::kBFloat16: f(__nv_bfloat16{}); return true;
    case DType::kFloat64: f(double{}); return true;
    case DType::kInt64: f(int64_t{}); return true;
    case DType::kInt32: f(int32_t{}); return true;
    case DType::kInt16: f(int16_t{}); return true;
    case DType::kInt8: f(int8_t{}); return true;
    case DType::kUInt8: f(uint8_t{}); return true;
    case DType::kBool: f(bool{}); return true;
  }
  return false;
}

// Maps a flat output index to the flat index of each of up to 3 broadcast inputs.
struct BroadcastMap {
  int rank = 0;
  int num_inputs = 0;
  int64_t out_dims[kMaxRank] = {};
  int64_t in_strides[3][kMaxRank] = {};  // 0 where the input is broadcast
  // Every output index and input offset fits 32 bits: the split of the flat index
  // then divides in 32 bits, several times cheaper than 64-bit division, which
  // otherwise bounds a broadcast kernel.
  bool fits32 = false;

  __device__ __forceinline__ void offsets(int64_t flat, int64_t* off) const {
    for (int k = 0; k < num_inputs; ++k) off[k] = 0;
    if (fits32) {
      uint32_t f = static_cast<uint32_t>(flat);
      for (int d = rank - 1; d >= 0; --d) {
        const uint32_t dim = static_cast<uint32_t>(out_dims[d]), i = f % dim;
        f /= dim;
        for (int k = 0; k < num_inputs; ++k) off[k] += static_cast<int64_t>(i * static_cast<uint32_t>(in_strides[k][d]));
      }
      return;
    }
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t i = flat % out_dims[d];
      flat /= out_dims[d];
      for (int k = 0; k < num_inputs; ++k) off[k] += i * in_strides[k][d];
    }
  }
};

// Builds the map for inputs broadcast (numpy rules, right-aligned) to out_shape.
Result<BroadcastMap> make_broadcast_map(const std::vector<int64_t>& out_shape,
                                        const std::vector<const std::vector<int64_t>*>& in_shapes);

// ---------------------------------------------------------------- added by the kernel families

// Value conversion with the CPU backend's semantics (cpu_util.h cast_value): float ->
// int truncates toward zero, NaN/out of range give INT64_MIN (64-bit) or INT32_MIN
// (narrower types, then wrap), ints wrap, anything -> bool is != 0, 16-bit floats
// go through float. Host and device, so fill values are encoded the same way.
template <typename T> struct ComputeOf { using type = T; };
template <> struct ComputeOf<__half> { using type = float; };
template <> struct ComputeOf<__nv_bfloat16> { using type = float; };
template <typename T> using Compute = typename ComputeOf<T>::type;

template <typename T> __host__ __device__ __forceinline__ Compute<T> widen(T v) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(v);
  else return v;
}

template <typename To, typename From> __host__ __device__ __forceinline__ To cast_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return widen(v) != Compute<From>(0);
  } else if constexpr (IsHalfLike<To>::value || std::is_same_v<To, float>) {
    float f;
    if constexpr (std::is_same_v<From, bool>) f = v ? 1.0f : 0.0f;
    else f = static_cast<float>(widen(v));
    if constexpr (std::is_same_v<To, __half>) return __float2half_rn(f);
    else if constexpr (std::is_same_v<To, __nv_bfloat16>) return __float2bfloat16_rn(f);
    else return f;
  } else if constexpr (std::is_same_v<To, double>) {
    if constexpr (std::is_same_v<From, bool>) return v ? 1.0 : 0.0;
    else return static_cast<double>(widen(v));
  } else {  // To is an integer
    if constexpr (kIsFloatLike<From>) {
      const double d = static_cast<double>(widen(v));
      if constexpr (sizeof(To) == 8) {
        long long i = (-9223372036854775807LL - 1);
        if (d > -9223372036854775808.0 && d < 9223372036854775808.0) i = static_cast<long long>(d);
        return static_cast<To>(i);
      } else {
        int i = (-2147483647 - 1);
        if (d > -2147483649.0 && d < 2147483648.0) i = static_cast<int>(d);
        return static_cast<To>(i);
      }
    } else {
      return static_cast<To>(v);
    }
  }
}

// Unsigned type of a byte width, for dtype-blind copies.
template <typename F> bool dispatch_elem_size(size_t size, F&& f) {
  switch (size) {
    case 1: f(uint8_t{}); return true;
    case 2: f(uint16_t{}); return true;
    case 4: f(uint32_t{}); return true;
    case 8: f(uint64_t{}); return true;
  }
  return false;
}

// Maps a flat index over `dims` (row-major) to sum(idx[d] * strides[d]): the
// source offset of a permuted, broadcast or sliced copy. Built coalesced, so
// contiguous runs collapse to few dims.
struct StridedView {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};
  __host__ __device__ __forceinline__ int64_t offset(int64_t flat) const {
    int64_t off = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t i = flat % dims[d];
      flat /= dims[d];
      off += i * strides[d];
    }
    return off;
  }
};

// Coalesces (drops size-1 dims, merges dims contiguous in the source); fails above kMaxRank.
Result<StridedView> make_strided_view(const std::vector<int64_t>& dims, const std::vector<int64_t>& strides);
// Numpy broadcast strides of in_shape read as out_shape (0 on stretched dims); false if it does not broadcast.
Status check_arity(const KernelArgs& args, size_t min_in, size_t n_out, const char* op);
int64_t product(const std::vector<int64_t>& v, size_t begin, size_t end);

// Per-step state holding one value built on the first call (shapes are static per step).
template <typename V> struct CachedState final : StepState {
  V value;
};
// Returns the step's cached V, building it with build() (a Result<V>) on the first call.
// Without a state slot the value is rebuilt into *scratch.
template <typename V, typename Build>
Result<const V*> cached(const KernelArgs& args, V* scratch, Build&& build) {
  if (args.state && *args.state) {
    if (auto* s = dynamic_cast<CachedState<V>*>(args.state->get())) return &s->value;
  }
  Result<V> r = build();
  if (!r.ok()) return r.status();
  if (!args.state) {
    *scratch = std::move(r).value();
    return scratch;
  }
  auto s = std::make_unique<CachedState<V>>();
  s->value = std::move(r).value();
  const V* p = &s->value;
  *args.state = std::move(s);
  return p;
}

// Sum/combine across a warp with any combine(a, b) (butterfly: every lane gets the result).
template <typename A, typename F> __device__ __forceinline__ A warp_all_reduce(A v, F combine) {
  for (int o = 16; o > 0; o >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Combine across the whole block (blockDim.x a multiple of 32, <= 1024); every thread gets
// the result. `smem` holds 32 A's. Must be reached by every thread of the block.
template <typename A, typename F> __device__ __forceinline__ A block_all_reduce(A v, F combine, A* smem) {
  v = warp_all_reduce(v, combine);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
  __syncthreads();  // smem may still be read by a previous call
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  v = smem[0];
  for (int w = 1; w < nwarps; ++w) v = combine(v, smem[w]);
  return v;
}

// Element i of a tensor of runtime dtype t, read or written as double (slow generic
// paths only: mixed-dtype elementwise ops that have no typed kernel).
__device__ __forceinline__ double load_as_double(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::kFloat32: return static_cast<const float*>(p)[i];
    case DType::kFloat16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::kBFloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::kFloat64: return static_cast<const double*>(p)[i];
    case DType::kInt64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DType::kInt32: return static_cast<const int32_t*>(p)[i];
    case DType::kInt16: return static_cast<const int16_t*>(p)[i];
    case DType::kInt8: return static_cast<const int8_t*>(p)[i];
    case DType::kUInt8: return static_cast<const uint8_t*>(p)[i];
    case DType::kBool: return static_cast<const bool*>(p)[i] ? 1.0 : 0.0;
  }
  return 0.0;
}
__device__ __forceinline__ void store_from_double(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::kFloat32: static_cast<float*>(p)[i] = cast_value<float>(v); return;
    case DType::kFloat16: static_cast<__half*>(p)[i] = cast_value<__half>(v); return;
    case DType::kBFloat16: static_cast<__nv_bfloat16*>(p)[i] = cast_value<__nv_bfloat16>(v); return;
    case DType::kFloat64: static_cast<double*>(p)[i] = v; return;
    case DType::kInt64: static_cast<int64_t*>(p)[i] = cast_value<int64_t>(v); return;
    case DType::kInt32: static_cast<int32_t*>(p)[i] = cast_value<int32_t>(v); return;
    case DType::kInt16: static_cast<int16_t*>(p)[i] = cast_value<int16_t>(v); return;
    case DType::kInt8: static_cast<int8_t*>(p)[i] = cast_value<int8_t>(v); return;
    case DType::kUInt8: static_cast<uint8_t*>(p)[i] = cast_value<uint8_t>(v); return;
    case DType::kBool: static_cast<bool*>(p)[i] = v != 0.0; return;
  }
}

// Libm calls for float and double under one name, so templated math picks the
// single-precision function for float (CUDA's float overloads are not all visible).
#define INGOT_CUDA_MATH1(name)                                                          \
  __device__ __forceinline__ float m_##name(float x) { return ::name##f(x); }           \
  __device__ __forceinline__ double m_##name(double x) { return ::name(x); }
INGOT_CUDA_MATH1(exp) INGOT_CUDA_MATH1(log) INGOT_CUDA_MATH1(sqrt) INGOT_CUDA_MATH1(sin) INGOT_CUDA_MATH1(cos)
INGOT_CUDA_MATH1(tan) INGOT_CUDA_MATH1(atan) INGOT_CUDA_MATH1(tanh) INGOT_CUDA_MATH1(erf) INGOT_CUDA_MATH1(floor)
INGOT_CUDA_MATH1(ceil) INGOT_CUDA_MATH1(rint) INGOT_CUDA_MATH1(trunc) INGOT_CUDA_MATH1(log1p)
INGOT_CUDA_MATH1(expm1) INGOT_CUDA_MATH1(log2) INGOT_CUDA_MATH1(exp2) INGOT_CUDA_MATH1(fabs)
#undef INGOT_CUDA_MATH1
#define INGOT_CUDA_MATH2(name)                                                                   \
  __device__ __forceinline__ float m_##name(float x, float y) { return ::name##f(x, y); }        \
  __device__ __forceinline__ double m_##name(double x, double y) { return ::name(x, y); }
INGOT_CUDA_MATH2(pow) INGOT_CUDA_MATH2(fmod) INGOT_CUDA_MATH2(atan2) INGOT_CUDA_MATH2(copysign)
#undef INGOT_CUDA_MATH2

// v < 0 without a warning for unsigned types.
template <typename T> __host__ __device__ __forceinline__ bool is_negative(T v) {
  if constexpr (std::is_signed_v<T> || !std::is_integral_v<T>) return v < T(0);
  else return false;
}

// Grid-stride loop over [0, n) with 64-bit indices.
#define INGOT_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// std::max / std::min exactly (NaN handling follows from the comparison order).
template <typename C> __host__ __device__ __forceinline__ C std_max(C a, C b) { return (a < b) ? b : a; }
template <typename C> __host__ __device__ __forceinline__ C std_min(C a, C b) { return (b < a) ? b : a; }
// max/min that keep a NaN (from either side).
template <typename C> __device__ __forceinline__ C nan_max(C a, C b) { return (a != a || b < a) ? a : b; }
template <typename C> __device__ __forceinline__ C nan_min(C a, C b) { return (a != a || b > a) ? a : b; }

}  // namespace ingot::cuda
