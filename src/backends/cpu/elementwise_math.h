// The scalar math of the float unary and binary functions (unary_fns.def,
// binary_fns.def) with torch's definitions, shared by the elementwise kernels
// (elementwise.cc) and the Pointwise interpreter (pointwise.cc) so that a fused
// chain computes exactly what the unfused ops compute.
//
// unary_float / binary_float take the fn at run time; callers that pass a
// constant fn (the elementwise kernels, one lambda per fn) get the switch folded
// away by inlining, so their inner loops stay plain and vectorizable.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include "ir/ops.h"

#if defined(__GNUC__)
#define INGOT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define INGOT_ALWAYS_INLINE inline
#endif

namespace ingot::cpu {

// Whether unary_float defines fn (everything but the integer-only bitwise_not).
inline bool unary_float_defined(UnaryFn fn) { return fn != UnaryFn::kBitwiseNot; }

// fn(x) in C (float or double); alpha/beta as documented in unary_fns.def.
// Predicates (logical_not, isnan) give 1 or 0.
template <typename C> INGOT_ALWAYS_INLINE C unary_float(UnaryFn fn, C x, C alpha, C beta) {
  const C kSqrt1_2 = static_cast<C>(0.70710678118654752440), kSqrt2OverPi = static_cast<C>(0.79788456080286535588);
  switch (fn) {
    case UnaryFn::kNeg: return -x;
    case UnaryFn::kAbs: return std::abs(x);
    case UnaryFn::kExp: return std::exp(x);
    case UnaryFn::kLog: return std::log(x);
    case UnaryFn::kSqrt: return std::sqrt(x);
    case UnaryFn::kRsqrt: return C(1) / std::sqrt(x);
    case UnaryFn::kReciprocal: return C(1) / x;
    case UnaryFn::kSin: return std::sin(x);
    case UnaryFn::kCos: return std::cos(x);
    case UnaryFn::kTan: return std::tan(x);
    case UnaryFn::kAtan: return std::atan(x);
    case UnaryFn::kTanh: return std::tanh(x);
    case UnaryFn::kSigmoid: return C(1) / (C(1) + std::exp(-x));
    case UnaryFn::kRelu: return x < C(0) ? C(0) : x;  // keeps NaN
    case UnaryFn::kGelu: return C(0.5) * x * (C(1) + std::erf(x * kSqrt1_2));
    case UnaryFn::kGeluTanh: return C(0.5) * x * (C(1) + std::tanh(kSqrt2OverPi * (x + C(0.044715) * x * x * x)));
    case UnaryFn::kSilu: return x / (C(1) + std::exp(-x));
    case UnaryFn::kHardSwish: return x * std::min(std::max(x + C(3), C(0)), C(6)) / C(6);
    case UnaryFn::kHardSigmoid: return std::min(std::max(x + C(3), C(0)), C(6)) / C(6);
    case UnaryFn::kErf: return std::erf(x);
    case UnaryFn::kFloor: return std::floor(x);
    case UnaryFn::kCeil: return std::ceil(x);
    case UnaryFn::kRound: return std::nearbyint(x);  // ties to even
    case UnaryFn::kTrunc: return std::trunc(x);
    case UnaryFn::kSign: return static_cast<C>((C(0) < x) - (x < C(0)));  // NaN -> 0
    case UnaryFn::kLogicalNot: return x == C(0) ? C(1) : C(0);
    case UnaryFn::kIsNan: return x != x ? C(1) : C(0);
    // min(max(x, lo), hi): NaN propagates and lo > hi gives hi, as in torch.
    case UnaryFn::kClamp: return std::min(std::max(x, alpha), beta);
    case UnaryFn::kLeakyRelu: return x > C(0) ? x : x * alpha;
    case UnaryFn::kElu: return x > C(0) ? x : alpha * std::expm1(x);
    case UnaryFn::kSoftplus: return x * alpha > beta ? x : std::log1p(std::exp(x * alpha)) / alpha;
    case UnaryFn::kLog1p: return std::log1p(x);
    case UnaryFn::kExpm1: return std::expm1(x);
    case UnaryFn::kPowScalar: return std::pow(x, alpha);
    case UnaryFn::kScalarPow: return std::pow(alpha, x);
    case UnaryFn::kMish: return x * std::tanh(std::log1p(std::exp(x)));
    case UnaryFn::kLog2: return std::log2(x);
    case UnaryFn::kExp2: return std::exp2(x);
    case UnaryFn::kBitwiseNot: break;
  }
  return x;
}

// Whether binary_float defines fn (float arithmetic; no comparisons or bitwise ops).
inline bool binary_float_defined(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd: case BinaryFn::kSub: case BinaryFn::kMul: case BinaryFn::kDiv: case BinaryFn::kTruncDiv:
    case BinaryFn::kFloorDiv: case BinaryFn::kPow: case BinaryFn::kMaximum: case BinaryFn::kMinimum:
    case BinaryFn::kFmod: case BinaryFn::kRemainder: case BinaryFn::kAtan2:
      return true;
    default: return false;
  }
}

// fn(x, y) in C (float or double), torch's definitions.
template <typename C> INGOT_ALWAYS_INLINE C binary_float(BinaryFn fn, C x, C y) {
  switch (fn) {
    case BinaryFn::kAdd: return x + y;
    case BinaryFn::kSub: return x - y;
    case BinaryFn::kMul: return x * y;
    case BinaryFn::kDiv: return x / y;
    case BinaryFn::kTruncDiv: return std::trunc(x / y);
    case BinaryFn::kFloorDiv: {  // c10's div_floor_floating
      if (y == C(0)) return x / y;
      const C mod = std::fmod(x, y);
      C div = (x - mod) / y;
      if (mod != C(0) && (y < C(0)) != (mod < C(0))) div -= C(1);
      if (div == C(0)) return std::copysign(C(0), x / y);
      C fl = std::floor(div);
      if (div - fl > C(0.5)) fl += C(1);
      return fl;
    }
    case BinaryFn::kPow: return std::pow(x, y);
    case BinaryFn::kMaximum: return (x != x || y != y) ? x + y : std::max(x, y);
    case BinaryFn::kMinimum: return (x != x || y != y) ? x + y : std::min(x, y);
    case BinaryFn::kFmod: return std::fmod(x, y);
    case BinaryFn::kRemainder: {
      C mod = std::fmod(x, y);
      if (mod != C(0) && (y < C(0)) != (mod < C(0))) mod += y;
      return mod;
    }
    case BinaryFn::kAtan2: return std::atan2(x, y);
    default: break;
  }
  return x;
}

// float32 activations that dominate model run time, over n contiguous floats, with
// Eigen's vectorized exp, tanh, logistic and erf (a few ulp, NaN-preserving)
// instead of scalar libm calls. False (nothing written) for other fns. dst may equal src.
inline bool eigen_unary_fn(UnaryFn fn) {
  switch (fn) {
    case UnaryFn::kExp: case UnaryFn::kTanh: case UnaryFn::kSigmoid:
    case UnaryFn::kGelu: case UnaryFn::kGeluTanh: case UnaryFn::kSilu: return true;
    default: return false;
  }
}
inline bool eigen_unary_block(UnaryFn fn, const float* src, float* dst, int64_t n) {
  if (!eigen_unary_fn(fn)) return false;
  Eigen::Map<const Eigen::ArrayXf> x(src, n);
  Eigen::Map<Eigen::ArrayXf> y(dst, n);
  switch (fn) {
    case UnaryFn::kExp: y = x.exp(); break;
    case UnaryFn::kTanh: y = x.tanh(); break;
    case UnaryFn::kSigmoid: y = x.logistic(); break;
    case UnaryFn::kSilu: y = x * x.logistic(); break;
    case UnaryFn::kGelu: y = 0.5f * x * (1.0f + (x * 0.70710678118654752440f).erf()); break;
    case UnaryFn::kGeluTanh:
      y = 0.5f * x * (1.0f + (0.79788456080286535588f * (x + 0.044715f * x * x * x)).tanh());
      break;
    default: break;
  }
  return true;
}

}  // namespace ingot::cpu
