// Converters for aten ops that create tensors from nothing but static arguments
// (arange, full, zeros/ones/empty and their *_like / new_* forms, scalar_tensor,
// eye, linspace) plus tril/triu. Shapes are static, so creations become constants
// written on the host; their dtype and shape come from the export's recorded meta,
// which already applied torch's dtype inference (int args -> int64, float ->
// default dtype, bool -> bool) and any dtype= keyword.
#include <cmath>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

// A constant of the recorded output type filled with `value`.
Status bind_filled(ConvertContext& ctx, const Scalar& value) {
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  return ctx.bind_output(0, fill_constant(ctx, ot.dtype, ot.shape, value));
}

ConverterFn fill_with(Scalar value) {
  return [value](ConvertContext& ctx) { return bind_filled(ctx, value); };
}

ConverterFn fill_from_arg(const char* name) {
  return [name](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(Scalar v, get_scalar(ctx, name));
    return bind_filled(ctx, v);
  };
}

// fill.Tensor: the 0-d value broadcast to self's shape.
Status convert_fill_tensor(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId value, ctx.get_tensor("value"));
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  if (numel_of(ctx.value(value).shape) != 1) return ctx.error("fill value must be a 0-d tensor");
  ValueId v = ctx.reshape(ctx.cast(value, ot.dtype), std::vector<int64_t>(ot.shape.size(), 1));
  INGOT_ASSIGN_OR_RETURN(v, expand_to(ctx, v, ot.shape));
  return ctx.bind_output(0, v);
}

Status convert_arange(ConvertContext& ctx) {
  Scalar start = int_scalar(0), step = int_scalar(1);
  if (ctx.target() != "aten.arange.default") { INGOT_ASSIGN_OR_RETURN(start, get_scalar(ctx, "start")); }
  if (ctx.has_arg("step")) { INGOT_ASSIGN_OR_RETURN(step, get_scalar(ctx, "step")); }
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  if (ot.shape.size() != 1) return ctx.error("arange output must be 1-d");
  int64_t n = ot.shape[0];
  std::vector<uint8_t> bytes(static_cast<size_t>(n) * dtype_size(ot.dtype));
  bool exact_ints = (start.is_int || start.is_bool) && (step.is_int || step.is_bool);
  for (int64_t i = 0; i < n; ++i) {
    // torch computes float aranges as start + i * step in double precision.
    Scalar v = exact_ints ? int_scalar(start.i + i * step.i)
                          : float_scalar(start.as_double() + static_cast<double>(i) * step.as_double());
    store_element(bytes, ot.dtype, static_cast<size_t>(i), v);
  }
  return ctx.bind_output(0, ctx.add_constant(ot.dtype, ot.shape, std::move(bytes)));
}

Status convert_linspace(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(Scalar start, get_scalar(ctx, "start"));
  INGOT_ASSIGN_OR_RETURN(Scalar end, get_scalar(ctx, "end"));
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  if (ot.shape.size() != 1) return ctx.error("linspace output must be 1-d");
  int64_t n = ot.shape[0];
  std::vector<uint8_t> bytes(static_cast<size_t>(n) * dtype_size(ot.dtype));
  double a = start.as_double(), b = end.as_double();
  double step = n > 1 ? (b - a) / static_cast<double>(n - 1) : 0.0;
  int64_t half = n / 2;
  for (int64_t i = 0; i < n; ++i) {
    // torch fills the first half from start and the second half from end (symmetric rounding).
    double v = i < half ? a + step * static_cast<double>(i) : b - step * static_cast<double>(n - 1 - i);
    store_element(bytes, ot.dtype, static_cast<size_t>(i), float_scalar(v));
  }
  return ctx.bind_output(0, ctx.add_constant(ot.dtype, ot.shape, std::move(bytes)));
}

Status convert_eye(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 0));
  if (ot.shape.size() != 2) return ctx.error("eye output must be 2-d");
  std::vector<uint8_t> bytes(static_cast<size_t>(numel_of(ot.shape)) * dtype_size(ot.dtype), 0);
  // Zero bytes are 0 in every ingot dtype; write the ones.
  for (int64_t i = 0; i < std::min(ot.shape[0], ot.shape[1]); ++i)
    store_element(bytes, ot.dtype, static_cast<size_t>(i * ot.shape[1] + i), int_scalar(1));
  return ctx.bind_output(0, ctx.add_constant(ot.dtype, ot.shape, std::move(bytes)));
}

ConverterFn triangular(bool upper) {
  return [upper](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
    int64_t diagonal = 0;
    if (ctx.has_arg("diagonal")) { INGOT_ASSIGN_OR_RETURN(diagonal, ctx.get_int("diagonal")); }
    if (ctx.value(x).shape.size() < 2) return ctx.error("tril/triu needs a tensor of at least 2 dims");
    ValueId y = ctx.add_node(TriangularAttrs{.upper = upper, .diagonal = diagonal}, {x}, ctx.value(x).dtype,
                             ctx.value(x).shape);
    return bind_as_meta(ctx, 0, y);
  };
}

void add_all(ConverterTable& t, std::initializer_list<const char*> names, const ConverterFn& fn) {
  for (const char* n : names) t.add(n, fn);
}

}  // namespace

void register_creation_converters(ConverterTable& t) {
  add_all(t, {"aten.arange.default", "aten.arange.start", "aten.arange.start_step"}, convert_arange);
  add_all(t, {"aten.full.default", "aten.new_full.default"}, fill_from_arg("fill_value"));
  add_all(t, {"aten.full_like.default"}, fill_from_arg("fill_value"));
  add_all(t, {"aten.scalar_tensor.default"}, fill_from_arg("s"));
  add_all(t, {"aten.fill.Scalar"}, fill_from_arg("value"));
  add_all(t, {"aten.fill.Tensor"}, convert_fill_tensor);
  // empty tensors have unspecified contents; zeros are a valid choice.
  add_all(t, {"aten.zeros.default", "aten.zeros_like.default", "aten.new_zeros.default", "aten.empty.memory_format",
              "aten.empty_like.default", "aten.new_empty.default", "aten.empty_strided.default",
              "aten.new_empty_strided.default", "aten.zero.default", "aten.empty.default"},
          fill_with(int_scalar(0)));
  add_all(t, {"aten.ones.default", "aten.ones_like.default", "aten.new_ones.default"}, fill_with(int_scalar(1)));
  add_all(t, {"aten.eye.default", "aten.eye.m"}, convert_eye);
  add_all(t, {"aten.linspace.default"}, convert_linspace);
  add_all(t, {"aten.tril.default", "aten.tril_.default"}, triangular(false));
  add_all(t, {"aten.triu.default", "aten.triu_.default"}, triangular(true));
}

}  // namespace ingot::frontend
