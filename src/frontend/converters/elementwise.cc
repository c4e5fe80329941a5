// Converters for two-or-more-input elementwise ops: arithmetic (add, sub, mul,
// div with rounding modes, remainder, fmod, pow is in activation.cc), min/max,
// comparisons, logical and bitwise ops, where / masked_fill, lerp/addcmul, and
// dtype casts (_to_copy, to.*, type_as).
//
// Type promotion: arithmetic results are computed in the dtype the export
// recorded for the output (which is torch's promoted type, wrapped numbers
// included), so operands are simply cast to it. Comparisons and logical ops
// output bool, so their compute dtype comes from ctx.result_type() (tensor
// operands) or from the wrapped-number rule (Scalar overloads).
#include <string>

#include "frontend/converters/nn_common.h"

namespace ingot::frontend {
namespace {

using namespace nn;

void add_both(ConverterTable& table, const std::string& op, const std::string& overload, const ConverterFn& fn) {
  table.add("aten." + op + "." + overload, fn);
  table.add("aten." + op + "_." + overload, fn);
}

// The second operand: a tensor for the Tensor overloads, a constant for Scalar ones.
// Scalars become constants of `dtype` directly (the output/compute dtype).
Result<ValueId> operand(ConvertContext& ctx, const char* name, DType dtype) {
  const Argument* a = ctx.arg(name);
  if (a && a->kind != Argument::Kind::kTensor) {
    INGOT_ASSIGN_OR_RETURN(ScalarArg s, get_scalar(ctx, name));
    return scalar_value(ctx, s.value, dtype);
  }
  INGOT_ASSIGN_OR_RETURN(ValueId v, ctx.get_tensor(name));
  return ctx.cast(v, dtype);
}

// bool tensors: torch's add is logical or and mul is logical and.
BinaryFn bool_equivalent(BinaryFn fn, DType dtype) {
  if (dtype != DType::kBool) return fn;
  if (fn == BinaryFn::kAdd) return BinaryFn::kLogicalOr;
  if (fn == BinaryFn::kMul) return BinaryFn::kLogicalAnd;
  return fn;
}

// self <fn> other computed in the output dtype; `alpha` scales `other` (add/sub).
ConverterFn arithmetic(BinaryFn fn, bool has_alpha = false, bool reversed = false) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
    INGOT_ASSIGN_OR_RETURN(ValueId a, operand(ctx, "self", out.dtype));
    INGOT_ASSIGN_OR_RETURN(ValueId b, operand(ctx, "other", out.dtype));
    if (has_alpha) {
      INGOT_ASSIGN_OR_RETURN(double alpha, scalar_or(ctx, "alpha", 1.0));
      // rsub(self, other, alpha) = other - alpha * self: alpha scales self there.
      ValueId& scaled = reversed ? a : b;
      if (alpha != 1.0) scaled = ctx.binary(BinaryFn::kMul, scaled, scalar_value(ctx, alpha, out.dtype));
    }
    if (reversed) std::swap(a, b);
    return bind_cast(ctx, 0, ctx.binary(bool_equivalent(fn, out.dtype), a, b));
  };
}

// div with an optional rounding_mode: None (true division), "floor" or "trunc".
Status convert_div(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId a, operand(ctx, "self", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId b, operand(ctx, "other", out.dtype));
  BinaryFn fn = BinaryFn::kDiv;
  if (ctx.has_arg("rounding_mode")) {
    INGOT_ASSIGN_OR_RETURN(std::string mode, ctx.get_string("rounding_mode"));
    if (mode == "floor") {
      fn = BinaryFn::kFloorDiv;
    } else if (mode == "trunc") {
      fn = BinaryFn::kTruncDiv;
    } else {
      return ctx.error("div rounding_mode must be None, 'floor' or 'trunc', got '" + mode + "'");
    }
  }
  if (fn == BinaryFn::kDiv && !is_floating(out.dtype)) {
    return ctx.error(std::string("true division must produce a floating dtype, the export recorded ") +
                     dtype_name(out.dtype));
  }
  return ctx.bind_output(0, ctx.binary(fn, a, b));
}

// remainder.Scalar_Tensor(Scalar self, Tensor other) and friends reuse `operand`.

// Comparisons and logical ops: operands promoted together, output bool.
ConverterFn comparison(BinaryFn fn) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId a, ctx.get_tensor("self"));
    const Argument* other = ctx.arg("other");
    ValueId b = kNoValue;
    if (other && other->kind != Argument::Kind::kTensor) {
      INGOT_ASSIGN_OR_RETURN(ScalarArg s, get_scalar(ctx, "other"));
      const DType dtype = scalar_promote(ctx.value(a).dtype, s.kind);
      a = ctx.cast(a, dtype);
      b = scalar_value(ctx, s.value, dtype);
    } else {
      INGOT_ASSIGN_OR_RETURN(b, ctx.get_tensor("other"));
      std::vector<ValueId> ab = ctx.promote({a, b});
      a = ab[0];
      b = ab[1];
    }
    return bind_cast(ctx, 0, ctx.binary(fn, a, b));
  };
}

// logical_and/or/xor: truthiness of each operand, so both become bool.
ConverterFn logical(BinaryFn fn) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId a, ctx.get_tensor("self"));
    INGOT_ASSIGN_OR_RETURN(ValueId b, ctx.get_tensor("other"));
    return bind_cast(ctx, 0, ctx.binary(fn, ctx.cast(a, DType::kBool), ctx.cast(b, DType::kBool)));
  };
}

// bitwise ops: integer or bool operands, computed in the output dtype.
ConverterFn bitwise(BinaryFn fn) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
    if (is_floating(out.dtype)) return ctx.error("bitwise ops need integer or bool tensors");
    INGOT_ASSIGN_OR_RETURN(ValueId a, operand(ctx, "self", out.dtype));
    INGOT_ASSIGN_OR_RETURN(ValueId b, operand(ctx, "other", out.dtype));
    return ctx.bind_output(0, ctx.binary(fn, a, b));
  };
}

// where(cond, a, b) for every overload (either branch may be a Scalar).
Status convert_where(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId cond, ctx.get_tensor("condition"));
  INGOT_ASSIGN_OR_RETURN(ValueId a, operand(ctx, "self", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId b, operand(ctx, "other", out.dtype));
  cond = ctx.cast(cond, DType::kBool);
  return ctx.bind_output(0, ctx.add_node(WhereAttrs{}, {cond, a, b}, out.dtype, out.shape));
}

// masked_fill(self, mask, value) = where(mask, value, self); value takes self's dtype.
Status convert_masked_fill(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId mask, ctx.get_tensor("mask"));
  INGOT_ASSIGN_OR_RETURN(ValueId value, operand(ctx, "value", out.dtype));
  if (ctx.value(value).shape.size() != 0) {
    return ctx.error("masked_fill value must be a 0-dim tensor or a number");
  }
  self = ctx.cast(self, out.dtype);
  mask = ctx.cast(mask, DType::kBool);
  return ctx.bind_output(0, ctx.add_node(WhereAttrs{}, {mask, value, self}, out.dtype, out.shape));
}

// Every dtype conversion: the export meta already names the target dtype, and
// device/layout/memory_format mean nothing for a dense ingot tensor.
Status convert_cast(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  return bind_cast(ctx, 0, x);
}

// lerp(self, end, weight) = self + weight * (end - self)
Status convert_lerp(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId start, operand(ctx, "self", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId end, operand(ctx, "end", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId weight, operand(ctx, "weight", out.dtype));
  ValueId diff = ctx.binary(BinaryFn::kSub, end, start);
  return bind_cast(ctx, 0, ctx.binary(BinaryFn::kAdd, start, ctx.binary(BinaryFn::kMul, weight, diff)));
}

// addcmul/addcdiv(self, t1, t2, value) = self + value * (t1 op t2)
ConverterFn addc(BinaryFn fn) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
    INGOT_ASSIGN_OR_RETURN(ValueId self, operand(ctx, "self", out.dtype));
    INGOT_ASSIGN_OR_RETURN(ValueId t1, operand(ctx, "tensor1", out.dtype));
    INGOT_ASSIGN_OR_RETURN(ValueId t2, operand(ctx, "tensor2", out.dtype));
    INGOT_ASSIGN_OR_RETURN(double value, scalar_or(ctx, "value", 1.0));
    ValueId prod = ctx.binary(fn, t1, t2);
    if (value != 1.0) prod = ctx.binary(BinaryFn::kMul, prod, scalar_value(ctx, value, out.dtype));
    return bind_cast(ctx, 0, ctx.binary(BinaryFn::kAdd, self, prod));
  };
}

}  // namespace

void register_elementwise_converters(ConverterTable& table) {
  for (const char* overload : {"Tensor", "Scalar"}) {
    add_both(table, "add", overload, arithmetic(BinaryFn::kAdd, /*has_alpha=*/true));
    add_both(table, "sub", overload, arithmetic(BinaryFn::kSub, /*has_alpha=*/true));
    add_both(table, "subtract", overload, arithmetic(BinaryFn::kSub, /*has_alpha=*/true));
    table.add(std::string("aten.rsub.") + overload, arithmetic(BinaryFn::kSub, /*has_alpha=*/true, /*reversed=*/true));
    add_both(table, "mul", overload, arithmetic(BinaryFn::kMul));
    add_both(table, "multiply", overload, arithmetic(BinaryFn::kMul));
    add_both(table, "div", overload, convert_div);
    add_both(table, "divide", overload, convert_div);
    add_both(table, "true_divide", overload, convert_div);
    add_both(table, "remainder", overload, arithmetic(BinaryFn::kRemainder));
    add_both(table, "fmod", overload, arithmetic(BinaryFn::kFmod));
    add_both(table, "eq", overload, comparison(BinaryFn::kEq));
    add_both(table, "ne", overload, comparison(BinaryFn::kNe));
    add_both(table, "lt", overload, comparison(BinaryFn::kLt));
    add_both(table, "le", overload, comparison(BinaryFn::kLe));
    add_both(table, "gt", overload, comparison(BinaryFn::kGt));
    add_both(table, "ge", overload, comparison(BinaryFn::kGe));
    add_both(table, "bitwise_and", overload, bitwise(BinaryFn::kBitwiseAnd));
    add_both(table, "bitwise_or", overload, bitwise(BinaryFn::kBitwiseOr));
    add_both(table, "bitwise_xor", overload, bitwise(BinaryFn::kBitwiseXor));
    table.add(std::string("aten.__and__.") + overload, bitwise(BinaryFn::kBitwiseAnd));
    table.add(std::string("aten.__or__.") + overload, bitwise(BinaryFn::kBitwiseOr));
    table.add(std::string("aten.__xor__.") + overload, bitwise(BinaryFn::kBitwiseXor));
    table.add(std::string("aten.__iand__.") + overload, bitwise(BinaryFn::kBitwiseAnd));
    table.add(std::string("aten.__ior__.") + overload, bitwise(BinaryFn::kBitwiseOr));
    table.add(std::string("aten.__ixor__.") + overload, bitwise(BinaryFn::kBitwiseXor));
    add_both(table, "masked_fill", overload, convert_masked_fill);
    add_both(table, "lerp", overload, convert_lerp);
  }

  add_both(table, "div", "Tensor_mode", convert_div);
  add_both(table, "div", "Scalar_mode", convert_div);
  add_both(table, "divide", "Tensor_mode", convert_div);
  add_both(table, "divide", "Scalar_mode", convert_div);
  table.add("aten.floor_divide.default", arithmetic(BinaryFn::kFloorDiv));
  table.add("aten.floor_divide_.Tensor", arithmetic(BinaryFn::kFloorDiv));
  add_both(table, "floor_divide", "Scalar", arithmetic(BinaryFn::kFloorDiv));
  table.add("aten.remainder.Scalar_Tensor", arithmetic(BinaryFn::kRemainder));

  table.add("aten.maximum.default", arithmetic(BinaryFn::kMaximum));
  table.add("aten.minimum.default", arithmetic(BinaryFn::kMinimum));
  table.add("aten.max.other", arithmetic(BinaryFn::kMaximum));
  table.add("aten.min.other", arithmetic(BinaryFn::kMinimum));
  add_both(table, "atan2", "default", arithmetic(BinaryFn::kAtan2));
  add_both(table, "arctan2", "default", arithmetic(BinaryFn::kAtan2));

  add_both(table, "logical_and", "default", logical(BinaryFn::kLogicalAnd));
  add_both(table, "logical_or", "default", logical(BinaryFn::kLogicalOr));
  add_both(table, "logical_xor", "default", logical(BinaryFn::kLogicalXor));

  for (const char* overload : {"self", "ScalarSelf", "ScalarOther", "Scalar"}) {
    table.add(std::string("aten.where.") + overload, convert_where);
  }

  for (const char* target : {"aten._to_copy.default", "aten.to.dtype", "aten.to.dtype_layout", "aten.to.device",
                             "aten.to.other", "aten.type_as.default"}) {
    table.add(target, convert_cast);
  }

  add_both(table, "addcmul", "default", addc(BinaryFn::kMul));
  add_both(table, "addcdiv", "default", addc(BinaryFn::kDiv));
}

}  // namespace ingot::frontend
