// CUDA elementwise kernels: unary functions (unary_fns.def), binary functions with
// numpy broadcasting (binary_fns.def) and dtype casts, with the CPU backend's (and
// torch's) semantics. The function is a runtime switch inside the kernel: the
// branch is uniform across the grid, costs nothing next to the memory traffic, and
// keeps the number of template instantiations (and the build time) small.
// 16-bit floats compute in float, integers exactly (wrapping, never UB); combinations
// without a typed kernel go through double with runtime dtype loads.
#include <limits>
#include <string>

#include "backends/cuda/cuda_util.cuh"
#include "backends/cuda/elementwise_math.cuh"
#include "backends/pointwise_program.h"

namespace ingot::cuda {
namespace {

// ------------------------------------------------------------------ unary

template <typename T>
__global__ void unary_float_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, UnaryFn fn, float alpha,
                                   float beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = cast_value<T>(unary_math<float>(fn, widen(x[i]), alpha, beta));
}

// isnan / logical_not into bool, any input dtype.
template <typename T> __global__ void unary_predicate_kernel(const T* __restrict__ x, bool* __restrict__ y, int64_t n,
                                                             bool is_nan) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const auto v = widen(x[i]);
    y[i] = is_nan ? (v != v) : (v == decltype(v)(0));
  }
}

template <typename T>
__global__ void unary_int_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, UnaryFn fn, T lo, T hi) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const T v = x[i];
    const T neg = static_cast<T>(uint64_t{0} - static_cast<uint64_t>(v));
    T r = v;
    switch (fn) {
      case UnaryFn::kNeg: r = neg; break;
      case UnaryFn::kAbs: r = is_negative(v) ? neg : v; break;
      case UnaryFn::kSign: r = static_cast<T>(int(T(0) < v) - int(is_negative(v))); break;
      case UnaryFn::kRelu: r = is_negative(v) ? T(0) : v; break;
      case UnaryFn::kBitwiseNot: r = static_cast<T>(~v); break;
      case UnaryFn::kClamp: r = std_min(std_max(v, lo), hi); break;
      default: break;  // floor, ceil, round, trunc: identity
    }
    y[i] = r;
  }
}

__global__ void bool_not_kernel(const bool* __restrict__ x, bool* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = !x[i];
}

__global__ void unary_generic_kernel(const void* x, DType xt, void* y, DType yt, int64_t n, UnaryFn fn, double alpha,
                                     double beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_from_double(y, yt, i, unary_math<double>(fn, load_as_double(x, xt, i), alpha, beta));
}

bool int_unary_fn(UnaryFn fn) {
  switch (fn) {
    case UnaryFn::kNeg: case UnaryFn::kAbs: case UnaryFn::kSign: case UnaryFn::kRelu: case UnaryFn::kBitwiseNot:
    case UnaryFn::kFloor: case UnaryFn::kCeil: case UnaryFn::kRound: case UnaryFn::kTrunc: case UnaryFn::kClamp:
      return true;
    default: return false;
  }
}

template <typename T> T clamp_bound(double v) {
  using Lim = std::numeric_limits<T>;
  if (!(v > static_cast<double>(Lim::lowest()))) return Lim::lowest();  // also -inf
  if (v >= static_cast<double>(Lim::max())) return Lim::max();
  return static_cast<T>(v);
}

Status run_unary(const UnaryAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "unary"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  if (!unary_fn_valid(a.fn)) return invalid_argument("[cuda unary] unknown fn " + std::to_string(a.fn));
  const auto fn = static_cast<UnaryFn>(a.fn);
  const char* name = unary_fn_name(fn);
  if (in.numel() != out.numel())
    return invalid_argument("[cuda unary] output " + shape_str(out.shape) + " differs from input " + shape_str(in.shape));
  const int64_t n = in.numel();
  if (n == 0) return {};
  const unsigned grid = blocks_for(n);
  cudaStream_t st = args.stream;
  const bool predicate = fn == UnaryFn::kLogicalNot || fn == UnaryFn::kIsNan;

  if (in.dtype == DType::kBool && out.dtype == DType::kBool &&
      (fn == UnaryFn::kLogicalNot || fn == UnaryFn::kBitwiseNot)) {
    bool_not_kernel<<<grid, kThreads, 0, st>>>(static_cast<const bool*>(in.data), static_cast<bool*>(out.data), n);
    INGOT_CUDA_CHECK_LAUNCH("unary bool not");
    return {};
  }
  if (predicate && out.dtype == DType::kBool) {
    if (in.dtype == DType::kFloat64) return unsupported("[cuda unary] float64 is not supported");
    dispatch_dtype(in.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, double>)
        unary_predicate_kernel<T><<<grid, kThreads, 0, st>>>(static_cast<const T*>(in.data),
                                                               static_cast<bool*>(out.data), n, fn == UnaryFn::kIsNan);
    });
    INGOT_CUDA_CHECK_LAUNCH("unary predicate");
    return {};
  }
  if (in.dtype == DType::kFloat64 || out.dtype == DType::kFloat64)
    return unsupported(std::string("[cuda unary] ") + name + ": float64 is not supported on cuda");
  const bool float_in = in.dtype == DType::kFloat32 || in.dtype == DType::kFloat16 || in.dtype == DType::kBFloat16;
  if (in.dtype == out.dtype && float_in) {
    if (fn == UnaryFn::kBitwiseNot)
      return unsupported(std::string("[cuda unary] bitwise_not is not defined for floating-point tensors"));
    const float alpha = static_cast<float>(a.alpha), beta = static_cast<float>(a.beta);
    dispatch_dtype(in.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (IsHalfLike<T>::value || std::is_same_v<T, float>)
        unary_float_kernel<T><<<grid, kThreads, 0, st>>>(static_cast<const T*>(in.data), static_cast<T*>(out.data), n,
                                                           fn, alpha, beta);
    });
    INGOT_CUDA_CHECK_LAUNCH("unary float");
    return {};
  }
  if (in.dtype == out.dtype && in.dtype != DType::kBool && int_unary_fn(fn)) {
    dispatch_dtype(in.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
        unary_int_kernel<T><<<grid, kThreads, 0, st>>>(static_cast<const T*>(in.data), static_cast<T*>(out.data), n,
                                                         fn, clamp_bound<T>(a.alpha), clamp_bound<T>(a.beta));
    });
    INGOT_CUDA_CHECK_LAUNCH("unary int");
    return {};
  }
  if (fn == UnaryFn::kBitwiseNot)
    return unsupported(std::string("[cuda unary] bitwise_not from ") + dtype_name(in.dtype) + " to " +
                       dtype_name(out.dtype));
  if (in.dtype == DType::kBool && !predicate && !float_in &&
      !(out.dtype == DType::kFloat32 || out.dtype == DType::kFloat16 || out.dtype == DType::kBFloat16))
    return unsupported(std::string("[cuda unary] ") + name + " on bool");
  unary_generic_kernel<<<grid, kThreads, 0, st>>>(in.data, in.dtype, out.data, out.dtype, n, fn, a.alpha, a.beta);
  INGOT_CUDA_CHECK_LAUNCH("unary generic");
  return {};
}

// ------------------------------------------------------------------ binary

// How operand positions follow from the output index.
enum class Access : int { kSame = 0, kAScalar = 1, kBScalar = 2, kMap = 3 };

__device__ __forceinline__ void binary_offsets(Access mode, const BroadcastMap& map, int64_t i, int64_t* ia,
                                               int64_t* ib) {
  switch (mode) {
    case Access::kSame: *ia = i; *ib = i; return;
    case Access::kAScalar: *ia = 0; *ib = i; return;
    case Access::kBScalar: *ia = i; *ib = 0; return;
    case Access::kMap: {
      int64_t off[3];
      map.offsets(i, off);
      *ia = off[0];
      *ib = off[1];
      return;
    }
  }
}

template <typename C> __device__ __forceinline__ bool compare_math(BinaryFn fn, C x, C y) {
  switch (fn) {
    case BinaryFn::kEq: return x == y;
    case BinaryFn::kNe: return x != y;
    case BinaryFn::kLt: return x < y;
    case BinaryFn::kLe: return x <= y;
    case BinaryFn::kGt: return x > y;
    case BinaryFn::kGe: return x >= y;
    case BinaryFn::kLogicalAnd: return x != C(0) && y != C(0);
    case BinaryFn::kLogicalOr: return x != C(0) || y != C(0);
    case BinaryFn::kLogicalXor: return (x != C(0)) != (y != C(0));
    default: return false;
  }
}

// Integer arithmetic, wrapping; a zero divisor gives 0 (the CPU backend rejects it
// up front; a GPU kernel cannot, and must not trap).
template <typename T> __device__ __forceinline__ T int_binary_math(BinaryFn fn, T x, T y) {
  constexpr bool kSigned = std::is_signed_v<T>;
  auto wrap = [](uint64_t v) { return static_cast<T>(v); };
  auto neg = [](T v) { return static_cast<T>(uint64_t{0} - static_cast<uint64_t>(v)); };
  auto tdiv = [&](T a, T b) -> T {
    if (b == T(0)) return T(0);
    if constexpr (kSigned) {
      if (b == T(-1)) return neg(a);
    }
    return static_cast<T>(a / b);
  };
  auto tmod = [](T a, T b) -> T {
    if (b == T(0)) return T(0);
    if constexpr (kSigned) {
      if (b == T(-1)) return T(0);
    }
    return static_cast<T>(a % b);
  };
  switch (fn) {
    case BinaryFn::kAdd: return wrap(uint64_t(x) + uint64_t(y));
    case BinaryFn::kSub: return wrap(uint64_t(x) - uint64_t(y));
    case BinaryFn::kMul: return wrap(uint64_t(x) * uint64_t(y));
    case BinaryFn::kTruncDiv: return tdiv(x, y);
    case BinaryFn::kFmod: return tmod(x, y);
    case BinaryFn::kFloorDiv: {
      T q = tdiv(x, y);
      if constexpr (kSigned) {
        if (tmod(x, y) != T(0) && ((x < T(0)) != (y < T(0)))) q = static_cast<T>(q - 1);
      }
      return q;
    }
    case BinaryFn::kRemainder: {
      T r = tmod(x, y);
      if constexpr (kSigned) {
        if (r != T(0) && ((r < T(0)) != (y < T(0)))) r = static_cast<T>(r + y);
      }
      return r;
    }
    case BinaryFn::kPow: {
      if constexpr (kSigned) {
        if (y < T(0)) {
          if (x == T(1)) return T(1);
          if (x == T(-1)) return (y % 2 == 0) ? T(1) : T(-1);
          return T(0);
        }
      }
      uint64_t result = 1, b = static_cast<uint64_t>(x), e = static_cast<uint64_t>(y);
      while (e) {
        if (e & 1) result *= b;
        b *= b;
        e >>= 1;
      }
      return wrap(result);
    }
    case BinaryFn::kMaximum: return std_max(x, y);
    case BinaryFn::kMinimum: return std_min(x, y);
    case BinaryFn::kBitwiseAnd: return static_cast<T>(x & y);
    case BinaryFn::kBitwiseOr: return static_cast<T>(x | y);
    case BinaryFn::kBitwiseXor: return static_cast<T>(x ^ y);
    default: return x;
  }
}

// What a typed binary kernel computes.
enum class BinaryKind : int { kCompare = 0, kFloat = 1, kInt = 2, kBool = 3 };

template <typename T, typename O>
__global__ void binary_kernel(const T* __restrict__ a, const T* __restrict__ b, O* __restrict__ out, int64_t n,
                              BinaryFn fn, BinaryKind kind, Access mode, BroadcastMap map) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t ia, ib;
    binary_offsets(mode, map, i, &ia, &ib);
    const T x = a[ia], y = b[ib];
    if constexpr (std::is_same_v<O, bool>) {
      if (kind == BinaryKind::kCompare) {
        out[i] = compare_math<Compute<T>>(fn, widen(x), widen(y));
        continue;
      }
    }
    if constexpr (std::is_same_v<T, bool>) {  // bool arithmetic: add/max/or = or, mul/min/and = and
      if (fn == BinaryFn::kAdd || fn == BinaryFn::kMaximum || fn == BinaryFn::kBitwiseOr) out[i] = O(x || y);
      else if (fn == BinaryFn::kBitwiseXor) out[i] = O(x != y);
      else out[i] = O(x && y);
    } else if constexpr (std::is_integral_v<T>) {
      out[i] = static_cast<O>(int_binary_math<T>(fn, x, y));
    } else {
      out[i] = cast_value<O>(float_binary_math<Compute<T>>(fn, widen(x), widen(y)));
    }
  }
}

__global__ void binary_generic_kernel(const void* a, const void* b, DType in_t, void* out, DType out_t, int64_t n,
                                      BinaryFn fn, bool compare, Access mode, BroadcastMap map) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t ia, ib;
    binary_offsets(mode, map, i, &ia, &ib);
    const double x = load_as_double(a, in_t, ia), y = load_as_double(b, in_t, ib);
    const double r = compare ? (compare_math<double>(fn, x, y) ? 1.0 : 0.0) : float_binary_math<double>(fn, x, y);
    store_from_double(out, out_t, i, r);
  }
}

bool float_binary_fn(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd: case BinaryFn::kSub: case BinaryFn::kMul: case BinaryFn::kDiv: case BinaryFn::kTruncDiv:
    case BinaryFn::kFloorDiv: case BinaryFn::kPow: case BinaryFn::kMaximum: case BinaryFn::kMinimum:
    case BinaryFn::kFmod: case BinaryFn::kRemainder: case BinaryFn::kAtan2:
      return true;
    default: return false;
  }
}
bool int_binary_fn(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd: case BinaryFn::kSub: case BinaryFn::kMul: case BinaryFn::kTruncDiv: case BinaryFn::kFmod:
    case BinaryFn::kFloorDiv: case BinaryFn::kRemainder: case BinaryFn::kPow: case BinaryFn::kMaximum:
    case BinaryFn::kMinimum: case BinaryFn::kBitwiseAnd: case BinaryFn::kBitwiseOr: case BinaryFn::kBitwiseXor:
      return true;
    default: return false;
  }
}
bool bool_binary_fn(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd: case BinaryFn::kMaximum: case BinaryFn::kBitwiseOr: case BinaryFn::kMul:
    case BinaryFn::kMinimum: case BinaryFn::kBitwiseAnd: case BinaryFn::kBitwiseXor:
      return true;
    default: return false;
  }
}

Status run_binary(const BinaryAttrs& attrs, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 2, 1, "binary"));
  const DeviceTensor& a = *args.in[0];
  const DeviceTensor& b = *args.in[1];
  DeviceTensor& out = *args.out[0];
  if (!binary_fn_valid(attrs.fn)) return invalid_argument("[cuda binary] unknown fn " + std::to_string(attrs.fn));
  const auto fn = static_cast<BinaryFn>(attrs.fn);
  const char* name = binary_fn_name(fn);
  if (a.dtype != b.dtype)
    return invalid_argument(std::string("[cuda binary] ") + name + " inputs differ in dtype: " + dtype_name(a.dtype) +
                            " and " + dtype_name(b.dtype));
  if (a.dtype == DType::kFloat64 || out.dtype == DType::kFloat64)
    return unsupported(std::string("[cuda binary] ") + name + ": float64 is not supported on cuda");
  const int64_t n = out.numel();
  if (n == 0) return {};

  Access mode = Access::kMap;
  BroadcastMap local;
  const BroadcastMap* map = &local;
  if (a.numel() == n && b.numel() == n) mode = Access::kSame;
  else if (a.numel() == 1 && b.numel() == n) mode = Access::kAScalar;
  else if (a.numel() == n && b.numel() == 1) mode = Access::kBScalar;
  const bool float_io = (a.dtype == DType::kFloat32 || a.dtype == DType::kFloat16 || a.dtype == DType::kBFloat16) &&
                        out.dtype == a.dtype;
  if (mode == Access::kMap && float_io && float_binary_fn(fn)) {
    // A float broadcast (ViT's position-embedding add): the Pointwise kernel, with its
    // coalesced dims, 32-bit indices and 4-wide vectors, is several times faster than
    // the generic broadcast map here; the math is the same float_binary_math.
    PointwiseAttrs program;
    program.program = {static_cast<int64_t>(backend::PointwiseKind::kBinary), attrs.fn, 0, 1, 0};
    return pointwise(OpAttrs{program}, args);
  }
  if (mode == Access::kMap) {
    BroadcastMap scratch;
    INGOT_ASSIGN_OR_RETURN(map, cached<BroadcastMap>(args, &scratch, [&]() -> Result<BroadcastMap> {
      return make_broadcast_map(out.shape, {&a.shape, &b.shape});
    }));
    local = *map;
  } else {
    // Same element count is not enough: the shapes must also broadcast.
    std::vector<int64_t> tmp;
    if (!broadcast_strides(a.shape, out.shape, &tmp) || !broadcast_strides(b.shape, out.shape, &tmp))
      return invalid_argument(std::string("[cuda binary] ") + name + " shapes " + shape_str(a.shape) + " and " +
                              shape_str(b.shape) + " do not broadcast to " + shape_str(out.shape));
  }
  const bool compare = binary_fn_is_comparison(fn);
  const unsigned grid = blocks_for(n);
  cudaStream_t st = args.stream;
  const bool a_float = a.dtype == DType::kFloat32 || a.dtype == DType::kFloat16 || a.dtype == DType::kBFloat16;

  // Typed paths: out has the input dtype, or bool for comparisons.
  BinaryKind kind;
  bool typed = false;
  if (compare && out.dtype == DType::kBool) {
    kind = BinaryKind::kCompare;
    typed = true;
  } else if (!compare && out.dtype == a.dtype) {
    if (a_float) kind = BinaryKind::kFloat, typed = float_binary_fn(fn);
    else if (a.dtype == DType::kBool) kind = BinaryKind::kBool, typed = bool_binary_fn(fn);
    else kind = BinaryKind::kInt, typed = int_binary_fn(fn);
    if (!typed && fn != BinaryFn::kDiv && fn != BinaryFn::kAtan2)
      return unsupported(std::string("[cuda binary] ") + name + " is not defined for " + dtype_name(a.dtype));
  }
  if (typed) {
    dispatch_dtype(a.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, double>) {
        const T* x = static_cast<const T*>(a.data);
        const T* y = static_cast<const T*>(b.data);
        if (kind == BinaryKind::kCompare)
          binary_kernel<T, bool><<<grid, kThreads, 0, st>>>(x, y, static_cast<bool*>(out.data), n, fn, kind, mode,
                                                            local);
        else
          binary_kernel<T, T><<<grid, kThreads, 0, st>>>(x, y, static_cast<T*>(out.data), n, fn, kind, mode, local);
      }
    });
    INGOT_CUDA_CHECK_LAUNCH("binary");
    return {};
  }
  const bool out_float =
      out.dtype == DType::kFloat32 || out.dtype == DType::kFloat16 || out.dtype == DType::kBFloat16;
  if (!compare && !out_float && !a_float && fn != BinaryFn::kDiv)
    return unsupported(std::string("[cuda binary] ") + name + " from " + dtype_name(a.dtype) + " to " +
                       dtype_name(out.dtype));
  if (!compare && !float_binary_fn(fn))
    return unsupported(std::string("[cuda binary] ") + name + " from " + dtype_name(a.dtype) + " to " +
                       dtype_name(out.dtype));
  binary_generic_kernel<<<grid, kThreads, 0, st>>>(a.data, b.data, a.dtype, out.data, out.dtype, n, fn, compare, mode,
                                                   local);
  INGOT_CUDA_CHECK_LAUNCH("binary generic");
  return {};
}

// ------------------------------------------------------------------ cast

// V elements per thread (one vector load and store each) where n and both
// pointers allow V = 4: a network's float32 input cast to 16 bits is a pure
// bandwidth pass, and one element per thread leaves bandwidth unused.
template <typename From, typename To, int V>
__global__ void cast_kernel(const From* __restrict__ x, To* __restrict__ y, int64_t packs) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < packs; i += int64_t(gridDim.x) * blockDim.x) {
    const Pack<From, V> in = reinterpret_cast<const Pack<From, V>*>(x)[i];
    Pack<To, V> out;
#pragma unroll
    for (int j = 0; j < V; ++j) out.v[j] = cast_value<To>(in.v[j]);
    reinterpret_cast<Pack<To, V>*>(y)[i] = out;
  }
}

Status run_cast(const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "cast"));
  const DeviceTensor& in = *args.in[0];
  DeviceTensor& out = *args.out[0];
  if (in.numel() != out.numel())
    return invalid_argument("[cuda cast] output " + shape_str(out.shape) + " differs from input " + shape_str(in.shape));
  const int64_t n = in.numel();
  if (n == 0) return {};
  if (in.dtype == out.dtype) {
    if (in.data != out.data)
      INGOT_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(out.data, in.data, n * dtype_size(in.dtype), cudaMemcpyDeviceToDevice, args.stream));
    return {};
  }
  dispatch_dtype(in.dtype, [&](auto from_tag) {
    using From = decltype(from_tag);
    dispatch_dtype(out.dtype, [&](auto to_tag) {
      using To = decltype(to_tag);
      if constexpr (!std::is_same_v<From, To>) {
        constexpr int kV = 4;
        const auto* x = static_cast<const From*>(in.data);
        auto* y = static_cast<To*>(out.data);
        const bool vector = n % kV == 0 && reinterpret_cast<uintptr_t>(x) % alignof(Pack<From, kV>) == 0 &&
                            reinterpret_cast<uintptr_t>(y) % alignof(Pack<To, kV>) == 0;
        if (vector) cast_kernel<From, To, kV><<<blocks_for(n / kV), kThreads, 0, args.stream>>>(x, y, n / kV);
        else cast_kernel<From, To, 1><<<blocks_for(n), kThreads, 0, args.stream>>>(x, y, n);
      }
    });
  });
  INGOT_CUDA_CHECK_LAUNCH("cast");
  return {};
}

}  // namespace

Status elementwise(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kUnary: return run_unary(std::get<UnaryAttrs>(attrs), args);
    case OpKind::kBinary: return run_binary(std::get<BinaryAttrs>(attrs), args);
    case OpKind::kCast: return run_cast(args);
    default: break;
  }
  return unsupported(std::string("[cuda elementwise] op '") + op_name(op_kind(attrs)) + "' is not in this family");
}

}  // namespace ingot::cuda
