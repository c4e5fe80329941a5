// Converters for activations and other one-input math functions (relu, gelu,
// silu, hardswish, clamp, pow, exp, ...), in both the functional and the in-place
// ("relu_") spellings: the frontend keeps values in SSA form, so an in-place op is
// converted exactly like its functional twin.
//
// Dtypes follow the export meta: torch promotes an integer input of a float
// function (sigmoid(int) -> float32), so the input is cast to the recorded output
// dtype before the IR op, which then always computes in the output dtype.
#include <cmath>
#include <limits>
#include <string>

#include "frontend/converters/nn_common.h"

namespace ingot::frontend {
namespace {

using namespace nn;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Registers "aten.<op>.<overload>" and the in-place "aten.<op>_.<overload>".
void add_both(ConverterTable& table, const std::string& op, const std::string& overload, const ConverterFn& fn) {
  table.add("aten." + op + "." + overload, fn);
  table.add("aten." + op + "_." + overload, fn);
}

// x cast to the output dtype, the common first step of these converters.
Result<ValueId> input_as_output_dtype(ConvertContext& ctx, const char* name = "self") {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor(name));
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  return ctx.cast(x, out.dtype);
}

// A unary fn with fixed parameters, computed in the output dtype.
ConverterFn simple_unary(UnaryFn fn, double alpha = 0, double beta = 0) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
    return ctx.bind_output(0, ctx.unary(fn, x, alpha, beta));
  };
}

// A predicate (bool output) that reads its input in its own dtype.
ConverterFn predicate_unary(UnaryFn fn) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    return bind_cast(ctx, 0, ctx.unary(fn, x));
  };
}

// floor/ceil/round/trunc: identity on integer tensors (torch returns a copy).
ConverterFn rounding_unary(UnaryFn fn) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
    if (!is_floating(ctx.value(x).dtype)) return ctx.bind_output(0, x);
    return ctx.bind_output(0, ctx.unary(fn, x));
  };
}

// Clamps x to [lo, hi] (either may be absent). Floats use the Clamp fn (with
// +-inf for a missing bound); integers use maximum/minimum with constants so that
// no infinity ever meets an integer kernel.
ValueId clamp_scalar(ConvertContext& ctx, ValueId x, std::optional<double> lo, std::optional<double> hi) {
  const DType dtype = ctx.value(x).dtype;
  if (is_floating(dtype)) return ctx.unary(UnaryFn::kClamp, x, lo.value_or(-kInf), hi.value_or(kInf));
  if (lo) x = ctx.binary(BinaryFn::kMaximum, x, scalar_value(ctx, *lo, dtype));
  if (hi) x = ctx.binary(BinaryFn::kMinimum, x, scalar_value(ctx, *hi, dtype));
  return x;
}

Status convert_clamp_scalar(ConvertContext& ctx, const char* min_name, const char* max_name) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  std::optional<double> lo, hi;
  if (min_name) {
    INGOT_ASSIGN_OR_RETURN(std::optional<ScalarArg> s, optional_scalar(ctx, min_name));
    if (s) lo = s->value;
  }
  if (max_name) {
    INGOT_ASSIGN_OR_RETURN(std::optional<ScalarArg> s, optional_scalar(ctx, max_name));
    if (s) hi = s->value;
  }
  return ctx.bind_output(0, clamp_scalar(ctx, x, lo, hi));
}

// clamp.Tensor and friends: min(max(x, lo), hi) with broadcasting tensor bounds.
Status convert_clamp_tensor(ConvertContext& ctx, const char* min_name, const char* max_name) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  const DType dtype = ctx.value(x).dtype;
  if (min_name) {
    INGOT_ASSIGN_OR_RETURN(ValueId lo, optional_tensor(ctx, min_name));
    if (lo != kNoValue) x = ctx.binary(BinaryFn::kMaximum, x, ctx.cast(lo, dtype));
  }
  if (max_name) {
    INGOT_ASSIGN_OR_RETURN(ValueId hi, optional_tensor(ctx, max_name));
    if (hi != kNoValue) x = ctx.binary(BinaryFn::kMinimum, x, ctx.cast(hi, dtype));
  }
  // Broadcasting against a larger bound can grow the shape; the meta has the final one.
  return bind_cast(ctx, 0, x);
}

Status convert_gelu(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(std::string approximate, string_or(ctx, "approximate", "none"));
  if (approximate == "none") return ctx.bind_output(0, ctx.unary(UnaryFn::kGelu, x));
  if (approximate == "tanh") return ctx.bind_output(0, ctx.unary(UnaryFn::kGeluTanh, x));
  return ctx.error("gelu approximate must be 'none' or 'tanh', got '" + approximate + "'");
}

Status convert_hardtanh(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(double lo, scalar_or(ctx, "min_val", -1.0));
  INGOT_ASSIGN_OR_RETURN(double hi, scalar_or(ctx, "max_val", 1.0));
  return ctx.bind_output(0, clamp_scalar(ctx, x, lo, hi));
}

Status convert_relu6(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  return ctx.bind_output(0, clamp_scalar(ctx, x, 0.0, 6.0));
}

Status convert_relu(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  if (!is_floating(ctx.value(x).dtype)) return ctx.bind_output(0, clamp_scalar(ctx, x, 0.0, std::nullopt));
  return ctx.bind_output(0, ctx.unary(UnaryFn::kRelu, x));
}

Status convert_leaky_relu(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(double slope, scalar_or(ctx, "negative_slope", 0.01));
  return ctx.bind_output(0, ctx.unary(UnaryFn::kLeakyRelu, x, slope));
}

// elu(x) = scale * (x > 0 ? x : alpha * (exp(input_scale * x) - 1))
Status convert_elu(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(double alpha, scalar_or(ctx, "alpha", 1.0));
  INGOT_ASSIGN_OR_RETURN(double scale, scalar_or(ctx, "scale", 1.0));
  INGOT_ASSIGN_OR_RETURN(double input_scale, scalar_or(ctx, "input_scale", 1.0));
  if (input_scale != 1.0) return ctx.unsupported_error("elu with input_scale != 1 is not supported");
  ValueId y = ctx.unary(UnaryFn::kElu, x, alpha);
  if (scale != 1.0) y = ctx.binary(BinaryFn::kMul, y, scalar_value(ctx, scale, ctx.value(y).dtype));
  return ctx.bind_output(0, y);
}

Status convert_selu(ConvertContext& ctx) {
  constexpr double kAlpha = 1.6732632423543772848170429916717;
  constexpr double kScale = 1.0507009873554804934193349852946;
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  ValueId y = ctx.unary(UnaryFn::kElu, x, kAlpha);
  return ctx.bind_output(0, ctx.binary(BinaryFn::kMul, y, scalar_value(ctx, kScale, ctx.value(y).dtype)));
}

Status convert_softplus(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(double beta, scalar_or(ctx, "beta", 1.0));
  INGOT_ASSIGN_OR_RETURN(double threshold, scalar_or(ctx, "threshold", 20.0));
  return ctx.bind_output(0, ctx.unary(UnaryFn::kSoftplus, x, beta, threshold));
}

// threshold(x, t, v) = x > t ? x : v
Status convert_threshold(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(ScalarArg t, get_scalar(ctx, "threshold"));
  INGOT_ASSIGN_OR_RETURN(ScalarArg v, get_scalar(ctx, "value"));
  const DType dtype = ctx.value(x).dtype;
  const std::vector<int64_t> shape = ctx.value(x).shape;
  ValueId keep = ctx.binary(BinaryFn::kGt, x, scalar_value(ctx, t.value, dtype));
  ValueId fill = scalar_value(ctx, v.value, dtype);
  return ctx.bind_output(0, ctx.add_node(WhereAttrs{}, {keep, x, fill}, dtype, shape));
}

// prelu(x, w) = x > 0 ? x : w * x, with w of shape [C] (or [1]) along dim 1.
Status convert_prelu(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId w, ctx.get_tensor("weight"));
  const DType dtype = ctx.value(x).dtype;
  w = ctx.cast(w, dtype);
  const std::vector<int64_t> xs = ctx.value(x).shape;
  const std::vector<int64_t> ws = ctx.value(w).shape;
  // _prelu_kernel receives a weight already shaped for broadcasting; prelu gets [C].
  if (ws.size() == 1 && xs.size() >= 2 && ctx.target().find("_prelu_kernel") == std::string::npos) {
    std::vector<int64_t> shape(xs.size(), 1);
    shape[1] = ws[0];
    w = ctx.reshape(w, shape);
  }
  ValueId positive = ctx.binary(BinaryFn::kGt, x, scalar_value(ctx, 0.0, dtype));
  ValueId scaled = ctx.binary(BinaryFn::kMul, x, w);
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  return ctx.bind_output(0, ctx.add_node(WhereAttrs{}, {positive, x, scaled}, dtype, out.shape));
}

// glu(x, dim) = a * sigmoid(b) where a, b are the two halves of x along dim.
Status convert_glu(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(int64_t dim_arg, int_or(ctx, "dim", -1));
  INGOT_ASSIGN_OR_RETURN(int64_t dim, normalize_dim(dim_arg, rank_of(ctx, x)));
  std::vector<int64_t> half = ctx.value(x).shape;
  const int64_t n = half[static_cast<size_t>(dim)];
  if (n % 2 != 0) return ctx.error("glu needs an even size along dim " + std::to_string(dim));
  half[static_cast<size_t>(dim)] = n / 2;
  const DType dtype = ctx.value(x).dtype;
  ValueId a = ctx.add_node(SliceAttrs{dim, 0, n / 2, 1}, {x}, dtype, half);
  ValueId b = ctx.add_node(SliceAttrs{dim, n / 2, n, 1}, {x}, dtype, half);
  return ctx.bind_output(0, ctx.binary(BinaryFn::kMul, a, ctx.unary(UnaryFn::kSigmoid, b)));
}

Status convert_square(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  return ctx.bind_output(0, ctx.binary(BinaryFn::kMul, x, x));
}

Status convert_log10(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  ValueId ln = ctx.unary(UnaryFn::kLog, x);
  return ctx.bind_output(0, ctx.binary(BinaryFn::kMul, ln, scalar_value(ctx, 1.0 / std::log(10.0), ctx.value(x).dtype)));
}

// round(x, decimals=d) = round(x * 10^d) / 10^d, as torch computes it.
Status convert_round_decimals(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(int64_t decimals, int_or(ctx, "decimals", 0));
  const DType dtype = ctx.value(x).dtype;
  if (!is_floating(dtype)) return ctx.bind_output(0, x);
  if (decimals == 0) return ctx.bind_output(0, ctx.unary(UnaryFn::kRound, x));
  ValueId ten_pow = scalar_value(ctx, std::pow(10.0, static_cast<double>(decimals)), dtype);
  ValueId scaled = ctx.binary(BinaryFn::kMul, x, ten_pow);
  return ctx.bind_output(0, ctx.binary(BinaryFn::kDiv, ctx.unary(UnaryFn::kRound, scaled), ten_pow));
}

// isinf(x) = |x| == inf; integers are never infinite.
Status convert_isinf(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  if (!is_floating(ctx.value(x).dtype)) x = ctx.cast(x, DType::kFloat32);
  ValueId inf = scalar_value(ctx, kInf, ctx.value(x).dtype);
  return bind_cast(ctx, 0, ctx.binary(BinaryFn::kEq, ctx.unary(UnaryFn::kAbs, x), inf));
}

// pow(x, scalar): x*x for the common square, PowScalar otherwise.
Status convert_pow_tensor_scalar(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, input_as_output_dtype(ctx));
  INGOT_ASSIGN_OR_RETURN(ScalarArg e, get_scalar(ctx, "exponent"));
  if (e.value == 1.0) return ctx.bind_output(0, x);
  if (e.value == 2.0) return ctx.bind_output(0, ctx.binary(BinaryFn::kMul, x, x));
  return ctx.bind_output(0, ctx.unary(UnaryFn::kPowScalar, x, e.value));
}

// pow(scalar, x) = base ** x
Status convert_pow_scalar(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ScalarArg base, get_scalar(ctx, "self"));
  INGOT_ASSIGN_OR_RETURN(ValueId e, ctx.get_tensor("exponent"));
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  e = ctx.cast(e, out.dtype);
  return ctx.bind_output(0, ctx.unary(UnaryFn::kScalarPow, e, base.value));
}

Status convert_pow_tensor_tensor(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId e, ctx.get_tensor("exponent"));
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  return ctx.bind_output(0, ctx.binary(BinaryFn::kPow, ctx.cast(x, out.dtype), ctx.cast(e, out.dtype)));
}

}  // namespace

void register_activation_converters(ConverterTable& table) {
  struct Simple {
    const char* op;
    UnaryFn fn;
  };
  // Functions whose torch signature is just (self) and whose IR fn has no parameters.
  static const Simple kSimple[] = {
      {"sigmoid", UnaryFn::kSigmoid}, {"tanh", UnaryFn::kTanh},         {"silu", UnaryFn::kSilu},
      {"hardswish", UnaryFn::kHardSwish}, {"hardsigmoid", UnaryFn::kHardSigmoid}, {"mish", UnaryFn::kMish},
      {"erf", UnaryFn::kErf},         {"exp", UnaryFn::kExp},           {"log", UnaryFn::kLog},
      {"sqrt", UnaryFn::kSqrt},       {"rsqrt", UnaryFn::kRsqrt},       {"neg", UnaryFn::kNeg},
      {"negative", UnaryFn::kNeg},    {"abs", UnaryFn::kAbs},           {"absolute", UnaryFn::kAbs},
      {"reciprocal", UnaryFn::kReciprocal}, {"sin", UnaryFn::kSin},     {"cos", UnaryFn::kCos},
      {"tan", UnaryFn::kTan},         {"atan", UnaryFn::kAtan},         {"arctan", UnaryFn::kAtan},
      {"log2", UnaryFn::kLog2},       {"exp2", UnaryFn::kExp2},         {"sign", UnaryFn::kSign},
      {"bitwise_not", UnaryFn::kBitwiseNot}, {"log1p", UnaryFn::kLog1p}, {"expm1", UnaryFn::kExpm1},
  };
  for (const Simple& s : kSimple) add_both(table, s.op, "default", simple_unary(s.fn));

  add_both(table, "floor", "default", rounding_unary(UnaryFn::kFloor));
  add_both(table, "ceil", "default", rounding_unary(UnaryFn::kCeil));
  add_both(table, "round", "default", rounding_unary(UnaryFn::kRound));
  add_both(table, "trunc", "default", rounding_unary(UnaryFn::kTrunc));
  add_both(table, "fix", "default", rounding_unary(UnaryFn::kTrunc));
  add_both(table, "round", "decimals", convert_round_decimals);

  add_both(table, "logical_not", "default", predicate_unary(UnaryFn::kLogicalNot));
  table.add("aten.isnan.default", predicate_unary(UnaryFn::kIsNan));
  table.add("aten.isinf.default", convert_isinf);

  add_both(table, "relu", "default", convert_relu);
  add_both(table, "relu6", "default", convert_relu6);
  add_both(table, "gelu", "default", convert_gelu);
  add_both(table, "hardtanh", "default", convert_hardtanh);
  add_both(table, "leaky_relu", "default", convert_leaky_relu);
  add_both(table, "elu", "default", convert_elu);
  add_both(table, "selu", "default", convert_selu);
  table.add("aten.softplus.default", convert_softplus);
  add_both(table, "threshold", "default", convert_threshold);
  table.add("aten.prelu.default", convert_prelu);
  table.add("aten._prelu_kernel.default", convert_prelu);
  table.add("aten.glu.default", convert_glu);
  add_both(table, "square", "default", convert_square);
  add_both(table, "log10", "default", convert_log10);

  auto clamp_default = [](ConvertContext& ctx) { return convert_clamp_scalar(ctx, "min", "max"); };
  auto clamp_tensor = [](ConvertContext& ctx) { return convert_clamp_tensor(ctx, "min", "max"); };
  add_both(table, "clamp", "default", clamp_default);
  add_both(table, "clip", "default", clamp_default);
  add_both(table, "clamp", "Tensor", clamp_tensor);
  add_both(table, "clip", "Tensor", clamp_tensor);
  add_both(table, "clamp_min", "default", [](ConvertContext& ctx) { return convert_clamp_scalar(ctx, "min", nullptr); });
  add_both(table, "clamp_max", "default", [](ConvertContext& ctx) { return convert_clamp_scalar(ctx, nullptr, "max"); });
  add_both(table, "clamp_min", "Tensor", [](ConvertContext& ctx) { return convert_clamp_tensor(ctx, "min", nullptr); });
  add_both(table, "clamp_max", "Tensor", [](ConvertContext& ctx) { return convert_clamp_tensor(ctx, nullptr, "max"); });

  // The in-place overloads are named differently: pow_.Scalar is x **= scalar.
  table.add("aten.pow.Tensor_Scalar", convert_pow_tensor_scalar);
  table.add("aten.pow_.Scalar", convert_pow_tensor_scalar);
  table.add("aten.pow.Tensor_Tensor", convert_pow_tensor_tensor);
  table.add("aten.pow_.Tensor", convert_pow_tensor_tensor);
  table.add("aten.pow.Scalar", convert_pow_scalar);
}

}  // namespace ingot::frontend
