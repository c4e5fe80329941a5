// Helpers shared by the CPU kernels: dtype -> C++ type dispatch, value casts with
// torch semantics (and without undefined behaviour), row-major strides, numpy
// broadcasting, and a strided N-operand loop that coalesces dimensions so the
// common cases (contiguous, scalar or per-channel broadcast) run as plain inner loops.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/shape_util.h"
#include "core/half.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ingot::cpu {

using backend::broadcast_strides;
using backend::contiguous_strides;
using backend::normalize_dim;
using backend::shape_str;


// Elements of work below which a kernel stays on one thread (thread start-up costs more).
inline constexpr int64_t kParallelGrain = 32768;

template <typename T> struct TypeTag { using type = T; };

template <DType D> struct CTypeOf;
template <> struct CTypeOf<DType::kFloat32> { using type = float; };
template <> struct CTypeOf<DType::kFloat16> { using type = Half; };
template <> struct CTypeOf<DType::kBFloat16> { using type = BFloat16; };
template <> struct CTypeOf<DType::kFloat64> { using type = double; };
template <> struct CTypeOf<DType::kInt64> { using type = int64_t; };
template <> struct CTypeOf<DType::kInt32> { using type = int32_t; };
template <> struct CTypeOf<DType::kInt16> { using type = int16_t; };
template <> struct CTypeOf<DType::kInt8> { using type = int8_t; };
template <> struct CTypeOf<DType::kUInt8> { using type = uint8_t; };
template <> struct CTypeOf<DType::kBool> { using type = bool; };

// Calls f(TypeTag<T>{}) with T the element type of `t`; returns what f returns.
template <typename F> auto visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32: return f(TypeTag<float>{});
    case DType::kFloat16: return f(TypeTag<Half>{});
    case DType::kBFloat16: return f(TypeTag<BFloat16>{});
    case DType::kFloat64: return f(TypeTag<double>{});
    case DType::kInt64: return f(TypeTag<int64_t>{});
    case DType::kInt32: return f(TypeTag<int32_t>{});
    case DType::kInt16: return f(TypeTag<int16_t>{});
    case DType::kInt8: return f(TypeTag<int8_t>{});
    case DType::kUInt8: return f(TypeTag<uint8_t>{});
    case DType::kBool: break;
  }
  return f(TypeTag<bool>{});
}

// Unsigned integer type of the given byte width, for dtype-blind copies.
template <size_t N> struct BitsOf;
template <> struct BitsOf<1> { using type = uint8_t; };
template <> struct BitsOf<2> { using type = uint16_t; };
template <> struct BitsOf<4> { using type = uint32_t; };
template <> struct BitsOf<8> { using type = uint64_t; };

template <typename F> auto visit_elem_size(size_t size, F&& f) {
  switch (size) {
    case 1: return f(TypeTag<uint8_t>{});
    case 2: return f(TypeTag<uint16_t>{});
    case 4: return f(TypeTag<uint32_t>{});
    default: break;
  }
  return f(TypeTag<uint64_t>{});
}

template <typename T> inline constexpr bool kIsFloat =
    std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
template <typename T> inline constexpr bool kIsInt = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// The type arithmetic on T happens in: float for 16-bit floats, T otherwise.
template <typename T> struct ComputeOf { using type = T; };
template <> struct ComputeOf<Half> { using type = float; };
template <> struct ComputeOf<BFloat16> { using type = float; };
template <typename T> using Compute = typename ComputeOf<T>::type;

template <typename T> inline bool is_nan_value(T v) {
  if constexpr (kIsFloat<T>) {
    return std::isnan(static_cast<Compute<T>>(v));
  } else {
    return false;
  }
}

// Converts between element types with torch's CPU semantics: float -> int
// truncates toward zero (NaN and out-of-range give INT64_MIN, or INT32_MIN for
// 32-bit and narrower types, then wrap, like x86; never UB), int -> narrower int wraps, anything -> bool is != 0.
template <typename To, typename From> inline To cast_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (kIsFloat<From>) return static_cast<Compute<From>>(v) != 0;
    else return v != 0;
  } else if constexpr (kIsFloat<To>) {
    if constexpr (std::is_same_v<From, bool>) return To(v ? 1.0f : 0.0f);
    else if constexpr (std::is_same_v<To, double>) return static_cast<double>(static_cast<Compute<From>>(v));
    else if constexpr (std::is_same_v<From, double>) return To(static_cast<float>(v));
    else return To(static_cast<float>(static_cast<Compute<From>>(v)));
  } else {  // To is an integer
    if constexpr (kIsFloat<From>) {
      const double d = static_cast<double>(static_cast<Compute<From>>(v));
      if constexpr (sizeof(To) == 8) {
        int64_t i = std::numeric_limits<int64_t>::min();
        if (d > -9223372036854775808.0 && d < 9223372036854775808.0) i = static_cast<int64_t>(d);
        return static_cast<To>(i);
      } else {  // narrower types go through int32, as torch's vectorized x86 path does
        int32_t i = std::numeric_limits<int32_t>::min();
        if (d > -2147483649.0 && d < 2147483648.0) i = static_cast<int32_t>(d);
        return static_cast<To>(i);
      }
    } else {
      return static_cast<To>(v);  // integral conversions wrap (defined since C++20)
    }
  }
}

// Writes `value` into one element of dtype t (pad values, fills).
inline void store_scalar(DType t, double value, void* dst) {
  visit_dtype(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v = cast_value<T>(value);
    std::memcpy(dst, &v, sizeof(T));
  });
}




// Runs body(offsets, n, inner_strides) over every innermost run of a loop nest
// of `shape`, where operand k sits at offsets[k] (elements) and advances by
// inner_strides[k]. Dimensions are first coalesced (size-1 dims dropped,
// adjacent dims merged where every operand is contiguous across them), and
// the outer runs are split over OpenMP threads when the tensor is large.
template <size_t N, typename Body>
void strided_loop(const std::vector<int64_t>& shape, const std::array<std::vector<int64_t>, N>& strides,
                  Body&& body) {
  std::vector<int64_t> sizes;
  std::array<std::vector<int64_t>, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return;
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = st[k].back() == strides[k][d] * shape[d];
    if (merge) {
      sizes.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) st[k].back() = strides[k][d];
    } else {
      sizes.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
    }
  }
  if (sizes.empty()) {
    sizes.push_back(1);
    for (size_t k = 0; k < N; ++k) st[k].push_back(0);
  }
  const int rank = static_cast<int>(sizes.size());
  const int64_t inner = sizes.back();
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = st[k].back();
  int64_t rows = 1;
  for (int d = 0; d < rank - 1; ++d) rows *= sizes[d];

  auto run_rows = [&](int64_t begin, int64_t end) {
    if (begin >= end) return;
    std::vector<int64_t> idx(rank > 1 ? rank - 1 : 1, 0);
    std::array<int64_t, N> off{};
    int64_t rem = begin;
    for (int d = rank - 2; d >= 0; --d) {
      idx[d] = rem % sizes[d];
      rem /= sizes[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * st[k][d];
    }
    for (int64_t r = begin; r < end; ++r) {
      body(off, inner, inner_strides);
      for (int d = rank - 2; d >= 0; --d) {  // odometer increment
        for (size_t k = 0; k < N; ++k) off[k] += st[k][d];
        if (++idx[d] < sizes[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= st[k][d] * sizes[d];
        idx[d] = 0;
      }
    }
  };
#if defined(_OPENMP)
  if (rows > 1 && rows * inner >= kParallelGrain) {
#pragma omp parallel
    {
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t chunk = (rows + nt - 1) / nt;
      run_rows(t * chunk, std::min(rows, (t + 1) * chunk));
    }
    return;
  }
#endif
  run_rows(0, rows);
}

// Parallel for over [0, n) when the total work (n * cost) is large.
template <typename F> void parallel_for(int64_t n, int64_t cost_per_item, F&& f) {
#if defined(_OPENMP)
  if (n > 1 && n * cost_per_item >= kParallelGrain) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) f(i);
}

// Splits `shape` at `dim` into [outer, shape[dim], inner].
inline void split_at_dim(const std::vector<int64_t>& shape, int dim, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int d = 0; d < dim; ++d) *outer *= shape[d];
  for (size_t d = dim + 1; d < shape.size(); ++d) *inner *= shape[d];
}


// out[i] = in[i] converted to out's dtype (cast's semantics; equal element counts,
// checked by the caller). Defined in elementwise.cc.
void convert_elements(const TensorRef& in, TensorRef& out);

inline Status check_arity(const KernelArgs& args, size_t min_in, size_t n_out, const char* op) {
  if (args.in.size() < min_in || args.out.size() != n_out) {
    return invalid_argument(std::string("[") + op + "] expected " + std::to_string(min_in) + " inputs and " +
                            std::to_string(n_out) + " outputs, got " + std::to_string(args.in.size()) + " and " +
                            std::to_string(args.out.size()));
  }
  for (size_t i = 0; i < min_in; ++i)
    if (!args.in[i]) return invalid_argument(std::string("[") + op + "] input " + std::to_string(i) + " is missing");
  for (size_t i = 0; i < n_out; ++i)
    if (!args.out[i]) return invalid_argument(std::string("[") + op + "] output is missing");
  return Status();
}

}  // namespace ingot::cpu
