// The device math of the float unary and binary functions (unary_fns.def,
// binary_fns.def) with torch's definitions, shared by the elementwise kernels
// (elementwise.cu) and the Pointwise interpreter (pointwise.cu), so that a fused
// chain computes exactly what the unfused kernels compute. C is float (16-bit
// floats widen to it) or double (the generic mixed-dtype paths).
#pragma once
#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {

// fn(x); alpha/beta as documented in unary_fns.def. Predicates give 1 or 0;
// bitwise_not (integers only) returns x.
template <typename C> __device__ __forceinline__ C unary_math(UnaryFn fn, C x, C alpha, C beta) {
  switch (fn) {
    case UnaryFn::kNeg: return -x;
    case UnaryFn::kAbs: return m_fabs(x);
    case UnaryFn::kExp: return m_exp(x);
    case UnaryFn::kLog: return m_log(x);
    case UnaryFn::kSqrt: return m_sqrt(x);
    case UnaryFn::kRsqrt: return C(1) / m_sqrt(x);
    case UnaryFn::kReciprocal: return C(1) / x;
    case UnaryFn::kSin: return m_sin(x);
    case UnaryFn::kCos: return m_cos(x);
    case UnaryFn::kTan: return m_tan(x);
    case UnaryFn::kAtan: return m_atan(x);
    case UnaryFn::kTanh: return m_tanh(x);
    case UnaryFn::kSigmoid: return C(1) / (C(1) + m_exp(-x));
    case UnaryFn::kRelu: return x < C(0) ? C(0) : x;
    case UnaryFn::kGelu: return C(0.5) * x * (C(1) + m_erf(x * C(0.70710678118654752440)));
    case UnaryFn::kGeluTanh:
      return C(0.5) * x * (C(1) + m_tanh(C(0.79788456080286535588) * (x + C(0.044715) * x * x * x)));
    case UnaryFn::kSilu: return x / (C(1) + m_exp(-x));
    case UnaryFn::kHardSwish: return x * std_min(std_max(x + C(3), C(0)), C(6)) / C(6);
    case UnaryFn::kHardSigmoid: return std_min(std_max(x + C(3), C(0)), C(6)) / C(6);
    case UnaryFn::kErf: return m_erf(x);
    case UnaryFn::kFloor: return m_floor(x);
    case UnaryFn::kCeil: return m_ceil(x);
    case UnaryFn::kRound: return m_rint(x);  // ties to even
    case UnaryFn::kTrunc: return m_trunc(x);
    case UnaryFn::kSign: return static_cast<C>((C(0) < x) - (x < C(0)));  // NaN -> 0, like the CPU kernel
    case UnaryFn::kLogicalNot: return x == C(0) ? C(1) : C(0);
    case UnaryFn::kIsNan: return x != x ? C(1) : C(0);
    case UnaryFn::kClamp: return std_min(std_max(x, alpha), beta);
    case UnaryFn::kLeakyRelu: return x > C(0) ? x : x * alpha;
    case UnaryFn::kElu: return x > C(0) ? x : alpha * m_expm1(x);
    case UnaryFn::kSoftplus: return x * alpha > beta ? x : m_log1p(m_exp(x * alpha)) / alpha;
    case UnaryFn::kLog1p: return m_log1p(x);
    case UnaryFn::kExpm1: return m_expm1(x);
    case UnaryFn::kPowScalar: return m_pow(x, alpha);
    case UnaryFn::kScalarPow: return m_pow(alpha, x);
    case UnaryFn::kMish: return x * m_tanh(m_log1p(m_exp(x)));
    case UnaryFn::kLog2: return m_log2(x);
    case UnaryFn::kExp2: return m_exp2(x);
    case UnaryFn::kBitwiseNot: break;
  }
  return x;
}

// Float arithmetic fn(x, y); comparisons and bitwise fns (not float functions) return x.
template <typename C> __device__ __forceinline__ C float_binary_math(BinaryFn fn, C x, C y) {
  switch (fn) {
    case BinaryFn::kAdd: return x + y;
    case BinaryFn::kSub: return x - y;
    case BinaryFn::kMul: return x * y;
    case BinaryFn::kDiv: return x / y;
    case BinaryFn::kTruncDiv: return m_trunc(x / y);
    case BinaryFn::kFloorDiv: {  // c10's div_floor_floating
      if (y == C(0)) return x / y;
      const C mod = m_fmod(x, y);
      C div = (x - mod) / y;
      if (mod != C(0) && (y < C(0)) != (mod < C(0))) div -= C(1);
      if (div == C(0)) return m_copysign(C(0), x / y);
      C fl = m_floor(div);
      if (div - fl > C(0.5)) fl += C(1);
      return fl;
    }
    case BinaryFn::kPow: return m_pow(x, y);
    case BinaryFn::kMaximum: return (x != x || y != y) ? x + y : std_max(x, y);
    case BinaryFn::kMinimum: return (x != x || y != y) ? x + y : std_min(x, y);
    case BinaryFn::kFmod: return m_fmod(x, y);
    case BinaryFn::kRemainder: {
      C mod = m_fmod(x, y);
      if (mod != C(0) && (y < C(0)) != (mod < C(0))) mod += y;
      return mod;
    }
    case BinaryFn::kAtan2: return m_atan2(x, y);
    default: return x;
  }
}

}  // namespace ingot::cuda
