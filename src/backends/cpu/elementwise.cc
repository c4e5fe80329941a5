// CPU elementwise kernels: unary functions (unary_fns.def), binary functions with
// numpy broadcasting (binary_fns.def) and dtype casts, with torch's semantics.
//
// Each function is a small lambda chosen once per call by a switch, so the inner
// loops are plain (and vectorizable) loops over one dtype: float16/bfloat16
// compute in float, float64 in double, integers exactly (wrapping, never UB).
// Combinations without a typed path (an int input to exp, an int true division)
// go through double: rarely hot, and it keeps the instantiation count small.
#include <atomic>
#include <cmath>
#include <string>
#include <type_traits>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/elementwise_math.h"

namespace ingot::cpu {
namespace {

// f(begin, end) over [0, n), split across threads when n is large.
template <typename F> void parallel_range(int64_t n, F&& f) {
#if defined(_OPENMP)
  if (n >= kParallelGrain) {
#pragma omp parallel
    {
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t chunk = (n + nt - 1) / nt;
      const int64_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
      if (b < e) f(b, e);
    }
    return;
  }
#endif
  if (n > 0) f(0, n);
}

template <typename In, typename Out, typename F> void map_unary(const TensorRef& in, TensorRef& out, F f) {
  const In* x = in.as<const In>();
  Out* y = out.as<Out>();
  parallel_range(in.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = cast_value<Out>(f(static_cast<Compute<In>>(x[i])));
  });
}

// Copies any tensor into doubles, and doubles into any tensor (the slow generic path).
std::vector<double> load_doubles(const TensorRef& t) {
  std::vector<double> v(t.numel());
  visit_dtype(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.as<const T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = cast_value<double>(p[i]);
  });
  return v;
}
void store_doubles(const std::vector<double>& v, TensorRef& t) {
  visit_dtype(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.as<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = cast_value<T>(v[i]);
  });
}

// ------------------------------------------------------------------ unary

// float32 activations that dominate model run time go through Eigen's vectorized
// functions (elementwise_math.h).
bool eigen_float_unary(UnaryFn fn, const TensorRef& in, TensorRef& out) {
  if (!eigen_unary_fn(fn)) return false;
  const float* src = in.as<const float>();
  float* dst = out.as<float>();
  parallel_range(in.numel(), [&](int64_t b, int64_t e) { eigen_unary_block(fn, src + b, dst + b, e - b); });
  return true;
}

// Calls run(f) with f the scalar function for `fn` computing in C (float or double).
// The math is unary_float (elementwise_math.h) with fn a constant per case, so
// each lambda compiles to the single function.
template <typename C, typename Run> Status with_float_unary(UnaryFn fn, double alpha_d, double beta_d, Run&& run) {
  const C alpha = static_cast<C>(alpha_d), beta = static_cast<C>(beta_d);
  if (unary_float_defined(fn)) {
    switch (fn) {
#define INGOT_UNARY(E, S) \
  case UnaryFn::k##E: return run([=](C x) { return unary_float<C>(UnaryFn::k##E, x, alpha, beta); });
#include "ir/unary_fns.def"
#undef INGOT_UNARY
    }
  }
  return unsupported(std::string("[unary] ") + unary_fn_name(fn) + " is not defined for floating-point tensors");
}

// Exact integer versions (input and output share the integer dtype T); false if fn has none.
template <typename T, typename Run> bool with_int_unary(UnaryFn fn, double alpha, double beta, Run&& run) {
  using Lim = std::numeric_limits<T>;
  // Two's-complement negation without signed overflow.
  auto neg = [](T x) { return static_cast<T>(static_cast<uint64_t>(0) - static_cast<uint64_t>(x)); };
  switch (fn) {
    case UnaryFn::kNeg: run(neg); return true;
    case UnaryFn::kAbs: run([=](T x) { return x < T(0) ? neg(x) : x; }); return true;
    case UnaryFn::kSign: run([](T x) { return static_cast<T>((T(0) < x) - (x < T(0))); }); return true;
    case UnaryFn::kRelu: run([](T x) { return x < T(0) ? T(0) : x; }); return true;
    case UnaryFn::kBitwiseNot: run([](T x) { return static_cast<T>(~x); }); return true;
    case UnaryFn::kFloor:
    case UnaryFn::kCeil:
    case UnaryFn::kRound:
    case UnaryFn::kTrunc: run([](T x) { return x; }); return true;
    case UnaryFn::kClamp: {
      auto bound = [](double v) {
        if (!(v > static_cast<double>(Lim::lowest()))) return Lim::lowest();  // also -inf
        if (v >= static_cast<double>(Lim::max())) return Lim::max();
        return static_cast<T>(v);
      };
      const T lo = bound(alpha), hi = bound(beta);
      run([=](T x) { return std::min(std::max(x, lo), hi); });
      return true;
    }
    default: return false;
  }
}

Status run_unary(const UnaryAttrs& a, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "unary"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  if (!unary_fn_valid(a.fn)) return invalid_argument("[unary] unknown fn " + std::to_string(a.fn));
  const auto fn = static_cast<UnaryFn>(a.fn);
  if (in.numel() != out.numel())
    return invalid_argument("[unary] output " + shape_str(out.shape) + " differs from input " + shape_str(in.shape));
  if (in.numel() == 0) return Status();
  const bool float_in = is_floating(in.dtype);
  const bool predicate = fn == UnaryFn::kLogicalNot || fn == UnaryFn::kIsNan;

  if (in.dtype == DType::kBool && out.dtype == DType::kBool &&
      (fn == UnaryFn::kLogicalNot || fn == UnaryFn::kBitwiseNot)) {
    map_unary<bool, bool>(in, out, [](bool x) { return !x; });
    return Status();
  }
  if (predicate && out.dtype == DType::kBool) {
    return visit_dtype(in.dtype, [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (kIsFloat<T>) {
        if (fn == UnaryFn::kIsNan) map_unary<T, bool>(in, out, [](Compute<T> x) { return x != x; });
        else map_unary<T, bool>(in, out, [](Compute<T> x) { return x == Compute<T>(0); });
      } else {
        if (fn == UnaryFn::kIsNan) map_unary<T, bool>(in, out, [](T) { return false; });
        else map_unary<T, bool>(in, out, [](T x) { return x == T(0); });
      }
      return Status();
    });
  }
  if (in.dtype == DType::kFloat32 && out.dtype == DType::kFloat32 && eigen_float_unary(fn, in, out)) return Status();
  if (in.dtype == out.dtype && float_in) {
    return visit_dtype(in.dtype, [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (kIsFloat<T>) {
        return with_float_unary<Compute<T>>(fn, a.alpha, a.beta, [&](auto f) {
          map_unary<T, T>(in, out, f);
          return Status();
        });
      } else {
        return internal_error("[unary] unreachable");
      }
    });
  }
  if (in.dtype == out.dtype && is_integral(in.dtype)) {
    const bool done = visit_dtype(in.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsInt<T>) {
        return with_int_unary<T>(fn, a.alpha, a.beta, [&](auto f) { map_unary<T, T>(in, out, f); });
      } else {
        return false;
      }
    });
    if (done) return Status();
    if (fn == UnaryFn::kBitwiseNot) return internal_error("[unary] bitwise_not missed its integer path");
  }
  if (fn == UnaryFn::kBitwiseNot)
    return unsupported(std::string("[unary] bitwise_not from ") + dtype_name(in.dtype) + " to " +
                       dtype_name(out.dtype));
  if (in.dtype == DType::kBool && !predicate && !is_floating(out.dtype))
    return unsupported(std::string("[unary] ") + unary_fn_name(fn) + " on bool");
  // Generic path: through double.
  std::vector<double> v = load_doubles(in);
  INGOT_RETURN_IF_ERROR(with_float_unary<double>(fn, a.alpha, a.beta, [&](auto f) {
    for (double& x : v) x = static_cast<double>(f(x));
    return Status();
  }));
  store_doubles(v, out);
  return Status();
}

// ------------------------------------------------------------------ binary

// out = f(a, b) with numpy broadcasting; contiguous and scalar cases are plain loops.
template <typename T, typename Out, typename F>
void broadcast_binary(const TensorRef& a, const TensorRef& b, TensorRef& out, F f) {
  using C = Compute<T>;
  const T* x = a.as<const T>();
  const T* y = b.as<const T>();
  Out* z = out.as<Out>();
  const int64_t n = out.numel();
  if (a.numel() == n && b.numel() == n) {
    parallel_range(n, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) z[i] = cast_value<Out>(f(static_cast<C>(x[i]), static_cast<C>(y[i])));
    });
    return;
  }
  if (a.numel() == n && b.numel() == 1) {
    const C yv = static_cast<C>(y[0]);
    parallel_range(n, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) z[i] = cast_value<Out>(f(static_cast<C>(x[i]), yv));
    });
    return;
  }
  if (a.numel() == 1 && b.numel() == n) {
    const C xv = static_cast<C>(x[0]);
    parallel_range(n, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) z[i] = cast_value<Out>(f(xv, static_cast<C>(y[i])));
    });
    return;
  }
  std::array<std::vector<int64_t>, 3> st;
  st[0] = contiguous_strides(out.shape);
  broadcast_strides(a.shape, out.shape, &st[1]);
  broadcast_strides(b.shape, out.shape, &st[2]);
  strided_loop<3>(out.shape, st, [&](const std::array<int64_t, 3>& off, int64_t m, const std::array<int64_t, 3>& inc) {
    Out* zp = z + off[0];
    const T* xp = x + off[1];
    const T* yp = y + off[2];
    if (inc[0] == 1 && inc[1] == 1 && inc[2] == 0) {
      const C yv = static_cast<C>(*yp);
      for (int64_t i = 0; i < m; ++i) zp[i] = cast_value<Out>(f(static_cast<C>(xp[i]), yv));
    } else if (inc[0] == 1 && inc[1] == 0 && inc[2] == 1) {
      const C xv = static_cast<C>(*xp);
      for (int64_t i = 0; i < m; ++i) zp[i] = cast_value<Out>(f(xv, static_cast<C>(yp[i])));
    } else if (inc[0] == 1 && inc[1] == 1 && inc[2] == 1) {
      for (int64_t i = 0; i < m; ++i) zp[i] = cast_value<Out>(f(static_cast<C>(xp[i]), static_cast<C>(yp[i])));
    } else {
      for (int64_t i = 0; i < m; ++i)
        zp[i * inc[0]] = cast_value<Out>(f(static_cast<C>(xp[i * inc[1]]), static_cast<C>(yp[i * inc[2]])));
    }
  });
}

// Comparison and logical fns, for any element type; run(f) with f returning bool.
template <typename C, typename Run> bool with_compare(BinaryFn fn, Run&& run) {
  switch (fn) {
    case BinaryFn::kEq: run([](C x, C y) { return x == y; }); return true;
    case BinaryFn::kNe: run([](C x, C y) { return x != y; }); return true;
    case BinaryFn::kLt: run([](C x, C y) { return x < y; }); return true;
    case BinaryFn::kLe: run([](C x, C y) { return x <= y; }); return true;
    case BinaryFn::kGt: run([](C x, C y) { return x > y; }); return true;
    case BinaryFn::kGe: run([](C x, C y) { return x >= y; }); return true;
    case BinaryFn::kLogicalAnd: run([](C x, C y) { return x != C(0) && y != C(0); }); return true;
    case BinaryFn::kLogicalOr: run([](C x, C y) { return x != C(0) || y != C(0); }); return true;
    case BinaryFn::kLogicalXor: run([](C x, C y) { return (x != C(0)) != (y != C(0)); }); return true;
    default: return false;
  }
}

// Arithmetic on floats (C = float or double): binary_float (elementwise_math.h)
// with fn a constant per case.
template <typename C, typename Run> bool with_float_binary(BinaryFn fn, Run&& run) {
  if (!binary_float_defined(fn)) return false;
  switch (fn) {
#define INGOT_BINARY(E, S, CMP) \
  case BinaryFn::k##E: run([](C x, C y) { return binary_float<C>(BinaryFn::k##E, x, y); }); return true;
#include "ir/binary_fns.def"
#undef INGOT_BINARY
  }
  return false;
}

// Arithmetic on integers (T also bool): wrapping, python-style floor division.
// Callers reject a zero divisor beforehand.
template <typename T, typename Run> bool with_int_binary(BinaryFn fn, Run&& run) {
  constexpr bool kSigned = std::is_signed_v<T>;
  auto wrap = [](uint64_t v) { return static_cast<T>(v); };
  auto neg = [](T x) { return static_cast<T>(uint64_t{0} - static_cast<uint64_t>(x)); };
  // a / b without the INT_MIN / -1 overflow.
  auto tdiv = [=](T x, T y) -> T {
    if constexpr (kSigned) {
      if (y == T(-1)) return neg(x);
    }
    return static_cast<T>(x / y);
  };
  auto tmod = [](T x, T y) -> T {
    if constexpr (kSigned) {
      if (y == T(-1)) return T(0);
    }
    return static_cast<T>(x % y);
  };
  switch (fn) {
    case BinaryFn::kAdd: run([=](T x, T y) { return wrap(uint64_t(x) + uint64_t(y)); }); return true;
    case BinaryFn::kSub: run([=](T x, T y) { return wrap(uint64_t(x) - uint64_t(y)); }); return true;
    case BinaryFn::kMul: run([=](T x, T y) { return wrap(uint64_t(x) * uint64_t(y)); }); return true;
    case BinaryFn::kTruncDiv: run(tdiv); return true;
    case BinaryFn::kFmod: run(tmod); return true;
    case BinaryFn::kFloorDiv:
      run([=](T x, T y) {
        T q = tdiv(x, y);
        if constexpr (kSigned) {
          if (tmod(x, y) != T(0) && ((x < T(0)) != (y < T(0)))) q = static_cast<T>(q - 1);
        }
        return q;
      });
      return true;
    case BinaryFn::kRemainder:
      run([=](T x, T y) {
        T r = tmod(x, y);
        if constexpr (kSigned) {
          if (r != T(0) && ((r < T(0)) != (y < T(0)))) r = static_cast<T>(r + y);
        }
        return r;
      });
      return true;
    case BinaryFn::kPow:
      run([=](T base, T e) -> T {
        if constexpr (kSigned) {
          if (e < T(0)) {  // torch: only 1 and -1 survive a negative exponent
            if (base == T(1)) return T(1);
            if (base == T(-1)) return (e % 2 == 0) ? T(1) : T(-1);
            return T(0);
          }
        }
        uint64_t result = 1, b = static_cast<uint64_t>(base);
        uint64_t ex = static_cast<uint64_t>(e);
        while (ex) {
          if (ex & 1) result *= b;
          b *= b;
          ex >>= 1;
        }
        return wrap(result);
      });
      return true;
    case BinaryFn::kMaximum: run([](T x, T y) { return std::max(x, y); }); return true;
    case BinaryFn::kMinimum: run([](T x, T y) { return std::min(x, y); }); return true;
    case BinaryFn::kBitwiseAnd: run([](T x, T y) { return static_cast<T>(x & y); }); return true;
    case BinaryFn::kBitwiseOr: run([](T x, T y) { return static_cast<T>(x | y); }); return true;
    case BinaryFn::kBitwiseXor: run([](T x, T y) { return static_cast<T>(x ^ y); }); return true;
    default: return false;
  }
}

bool is_int_division(BinaryFn fn) {
  return fn == BinaryFn::kFloorDiv || fn == BinaryFn::kTruncDiv || fn == BinaryFn::kFmod ||
         fn == BinaryFn::kRemainder;
}

Status run_binary(const BinaryAttrs& attrs, const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 2, 1, "binary"));
  const TensorRef& a = *args.in[0];
  const TensorRef& b = *args.in[1];
  TensorRef& out = *args.out[0];
  if (!binary_fn_valid(attrs.fn)) return invalid_argument("[binary] unknown fn " + std::to_string(attrs.fn));
  const auto fn = static_cast<BinaryFn>(attrs.fn);
  const char* name = binary_fn_name(fn);
  if (a.dtype != b.dtype)
    return invalid_argument(std::string("[binary] ") + name + " inputs differ in dtype: " + dtype_name(a.dtype) +
                            " and " + dtype_name(b.dtype));
  std::vector<int64_t> tmp;
  if (!broadcast_strides(a.shape, out.shape, &tmp) || !broadcast_strides(b.shape, out.shape, &tmp))
    return invalid_argument(std::string("[binary] ") + name + " shapes " + shape_str(a.shape) + " and " +
                            shape_str(b.shape) + " do not broadcast to " + shape_str(out.shape));
  if (out.numel() == 0) return Status();
  const bool compare = binary_fn_is_comparison(fn);

  if (!is_floating(a.dtype) && is_int_division(fn)) {
    bool zero = false;
    visit_dtype(b.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* p = b.as<const T>();
      for (int64_t i = 0; i < b.numel() && !zero; ++i) zero = p[i] == T(0);
    });
    if (zero) return invalid_argument(std::string("[binary] ") + name + ": integer division by zero");
  }

  // Typed paths: out has the input dtype, or bool for comparisons.
  if ((compare && out.dtype == DType::kBool) || (!compare && out.dtype == a.dtype)) {
    int handled = visit_dtype(a.dtype, [&](auto tag) -> int {
      using T = typename decltype(tag)::type;
      using C = Compute<T>;
      if (compare) return with_compare<C>(fn, [&](auto f) { broadcast_binary<T, bool>(a, b, out, f); });
      if constexpr (kIsFloat<T>) {
        return with_float_binary<C>(fn, [&](auto f) { broadcast_binary<T, T>(a, b, out, f); });
      } else if constexpr (std::is_same_v<T, bool>) {
        // bool arithmetic as torch does it: add/max = or, mul/min = and.
        if (fn == BinaryFn::kAdd || fn == BinaryFn::kMaximum || fn == BinaryFn::kBitwiseOr)
          return broadcast_binary<T, T>(a, b, out, [](bool x, bool y) { return x || y; }), 1;
        if (fn == BinaryFn::kMul || fn == BinaryFn::kMinimum || fn == BinaryFn::kBitwiseAnd)
          return broadcast_binary<T, T>(a, b, out, [](bool x, bool y) { return x && y; }), 1;
        if (fn == BinaryFn::kBitwiseXor) return broadcast_binary<T, T>(a, b, out, [](bool x, bool y) { return x != y; }), 1;
        return 0;
      } else {
        return with_int_binary<T>(fn, [&](auto f) { broadcast_binary<T, T>(a, b, out, f); });
      }
    });
    if (handled) return Status();
    if (a.dtype == out.dtype && fn != BinaryFn::kDiv && fn != BinaryFn::kAtan2)
      return unsupported(std::string("[binary] ") + name + " is not defined for " + dtype_name(a.dtype));
  }
  // Generic path through double (int true division, int atan2, mixed output dtypes).
  if (!compare && !is_floating(out.dtype) && !is_floating(a.dtype) && fn != BinaryFn::kDiv)
    return unsupported(std::string("[binary] ") + name + " from " + dtype_name(a.dtype) + " to " +
                       dtype_name(out.dtype));
  std::vector<double> av = load_doubles(a), bv = load_doubles(b), ov(out.numel());
  TensorRef ad{av.data(), DType::kFloat64, a.shape}, bd{bv.data(), DType::kFloat64, b.shape};
  TensorRef od{ov.data(), DType::kFloat64, out.shape};
  bool ok = compare ? with_compare<double>(fn, [&](auto f) { broadcast_binary<double, double>(ad, bd, od, f); })
                    : with_float_binary<double>(fn, [&](auto f) { broadcast_binary<double, double>(ad, bd, od, f); });
  if (!ok)
    return unsupported(std::string("[binary] ") + name + " from " + dtype_name(a.dtype) + " to " +
                       dtype_name(out.dtype));
  store_doubles(ov, out);
  return Status();
}

// ------------------------------------------------------------------ cast

Status run_cast(const KernelArgs& args) {
  INGOT_RETURN_IF_ERROR(check_arity(args, 1, 1, "cast"));
  const TensorRef& in = *args.in[0];
  TensorRef& out = *args.out[0];
  if (in.numel() != out.numel())
    return invalid_argument("[cast] output " + shape_str(out.shape) + " differs from input " + shape_str(in.shape));
  if (in.dtype == out.dtype) {
    if (in.data != out.data && in.numel() > 0) std::memmove(out.data, in.data, in.numel() * dtype_size(in.dtype));
    return Status();
  }
  convert_elements(in, out);
  return Status();
}

}  // namespace

void convert_elements(const TensorRef& in, TensorRef& out) {
  visit_dtype(in.dtype, [&](auto in_tag) {
    using From = typename decltype(in_tag)::type;
    visit_dtype(out.dtype, [&](auto out_tag) {
      using To = typename decltype(out_tag)::type;
      const From* x = in.as<const From>();
      To* y = out.as<To>();
      parallel_range(in.numel(), [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) y[i] = cast_value<To>(x[i]);
      });
    });
  });
}

Status elementwise(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kUnary: return run_unary(std::get<UnaryAttrs>(attrs), args);
    case OpKind::kBinary: return run_binary(std::get<BinaryAttrs>(attrs), args);
    case OpKind::kCast: return run_cast(args);
    default: break;
  }
  return unsupported(std::string("[cpu elementwise] op '") + op_name(op_kind(attrs)) + "' is not in this family");
}

}  // namespace ingot::cpu
