// Converters for convolutions: the core ATen `convolution` (and `_convolution`),
// the training-IR conv1d/2d/3d (with int or string "same"/"valid" padding) and
// conv_transpose1d/2d/3d, all to the single N-d Conv op. Attribute lists get one
// entry per spatial dim (a single int broadcasts, as in torch). Unbatched inputs
// ([C, L...]) get a batch dim of 1 for the op and lose it again in the result.
#include <string>

#include "frontend/converters/nn_common.h"

namespace ingot::frontend {
namespace {

using namespace nn;

struct ConvParams {
  std::vector<int64_t> stride, padding, dilation, output_padding;
  int64_t groups = 1;
  bool transposed = false;
};

// Builds the Conv node; handles unbatched input and binds output 0.
Status emit_conv(ConvertContext& ctx, ValueId x, ValueId w, ValueId bias, const ConvParams& p) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  const int64_t spatial = rank_of(ctx, w) - 2;
  if (spatial < 1) return ctx.error("convolution weight must have rank >= 3");
  const DType dtype = out.dtype;
  x = ctx.cast(x, dtype);
  w = ctx.cast(w, dtype);
  if (bias != kNoValue) bias = ctx.cast(bias, dtype);

  const bool unbatched = rank_of(ctx, x) == spatial + 1;
  if (unbatched) {
    std::vector<int64_t> shape = ctx.value(x).shape;
    shape.insert(shape.begin(), 1);
    x = ctx.reshape(x, shape);
  }
  if (rank_of(ctx, x) != spatial + 2) {
    return ctx.error("convolution input of rank " + std::to_string(rank_of(ctx, x)) + " does not fit a " +
                     std::to_string(spatial) + "-d weight");
  }
  ConvAttrs attrs;
  INGOT_ASSIGN_OR_RETURN(attrs.stride, spatial_list(ctx, p.stride, static_cast<size_t>(spatial), "stride"));
  INGOT_ASSIGN_OR_RETURN(attrs.padding, spatial_list(ctx, p.padding, static_cast<size_t>(spatial), "padding"));
  INGOT_ASSIGN_OR_RETURN(attrs.dilation, spatial_list(ctx, p.dilation, static_cast<size_t>(spatial), "dilation"));
  INGOT_ASSIGN_OR_RETURN(attrs.output_padding,
                         spatial_list(ctx, p.output_padding, static_cast<size_t>(spatial), "output_padding"));
  attrs.groups = p.groups;
  attrs.transposed = p.transposed;
  if (p.groups < 1) return ctx.error("groups must be >= 1, got " + std::to_string(p.groups));
  const int64_t in_channels = ctx.value(x).shape[1];
  const int64_t weight_in = p.transposed ? ctx.value(w).shape[0] : ctx.value(w).shape[1] * p.groups;
  if (in_channels != weight_in) {
    return ctx.error("input has " + std::to_string(in_channels) + " channels but the weight expects " +
                     std::to_string(weight_in) + " (groups=" + std::to_string(p.groups) + ")");
  }

  std::vector<int64_t> shape = out.shape;
  if (unbatched) shape.insert(shape.begin(), 1);
  ValueId y = ctx.add_node(attrs, {x, w, bias}, dtype, shape);
  if (unbatched) y = ctx.reshape(y, out.shape);
  return ctx.bind_output(0, y);
}

Result<std::vector<int64_t>> list_arg(ConvertContext& ctx, const char* name, int64_t fallback) {
  return ints_or(ctx, name, {fallback});
}

// convolution / _convolution: every parameter is explicit.
Status convert_convolution(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  INGOT_ASSIGN_OR_RETURN(ValueId w, ctx.get_tensor("weight"));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_tensor(ctx, "bias"));
  ConvParams p;
  INGOT_ASSIGN_OR_RETURN(p.stride, list_arg(ctx, "stride", 1));
  INGOT_ASSIGN_OR_RETURN(p.padding, list_arg(ctx, "padding", 0));
  INGOT_ASSIGN_OR_RETURN(p.dilation, list_arg(ctx, "dilation", 1));
  INGOT_ASSIGN_OR_RETURN(p.output_padding, list_arg(ctx, "output_padding", 0));
  INGOT_ASSIGN_OR_RETURN(p.groups, int_or(ctx, "groups", 1));
  INGOT_ASSIGN_OR_RETURN(p.transposed, bool_or(ctx, "transposed", false));
  return emit_conv(ctx, x, w, bias, p);
}

// conv1d/2d/3d, .default (int padding) and .padding (string padding).
Status convert_convnd(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  INGOT_ASSIGN_OR_RETURN(ValueId w, ctx.get_tensor("weight"));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_tensor(ctx, "bias"));
  ConvParams p;
  INGOT_ASSIGN_OR_RETURN(p.stride, list_arg(ctx, "stride", 1));
  INGOT_ASSIGN_OR_RETURN(p.dilation, list_arg(ctx, "dilation", 1));
  INGOT_ASSIGN_OR_RETURN(p.groups, int_or(ctx, "groups", 1));
  p.output_padding = {0};

  const Argument* padding = ctx.arg("padding");
  if (!padding || padding->kind != Argument::Kind::kString) {
    INGOT_ASSIGN_OR_RETURN(p.padding, list_arg(ctx, "padding", 0));
    return emit_conv(ctx, x, w, bias, p);
  }
  const std::string& mode = padding->s;
  if (mode == "valid") {
    p.padding = {0};
    return emit_conv(ctx, x, w, bias, p);
  }
  if (mode != "same") return ctx.error("conv padding must be 'same' or 'valid', got '" + mode + "'");

  // "same": total padding dilation*(k-1) per dim, the odd extra element on the
  // right, as torch's _convolution_mode does it (it requires stride 1).
  const int64_t spatial = rank_of(ctx, w) - 2;
  if (spatial < 1) return ctx.error("convolution weight must have rank >= 3");
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dilation, spatial_list(ctx, p.dilation, static_cast<size_t>(spatial), "dilation"));
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> stride, spatial_list(ctx, p.stride, static_cast<size_t>(spatial), "stride"));
  for (int64_t s : stride) {
    if (s != 1) return ctx.error("padding='same' requires stride 1");
  }
  const std::vector<int64_t> ws = ctx.value(w).shape;
  const int64_t x_rank = rank_of(ctx, x);
  std::vector<int64_t> pads(static_cast<size_t>(x_rank) * 2, 0);
  std::vector<int64_t> padded_shape = ctx.value(x).shape;
  bool asymmetric = false;
  p.padding.assign(static_cast<size_t>(spatial), 0);
  for (int64_t d = 0; d < spatial; ++d) {
    const int64_t total = dilation[static_cast<size_t>(d)] * (ws[static_cast<size_t>(2 + d)] - 1);
    const int64_t left = total / 2;
    p.padding[static_cast<size_t>(d)] = left;
    const int64_t extra = total - 2 * left;
    if (extra != 0) {
      asymmetric = true;
      const int64_t x_dim = x_rank - spatial + d;
      pads[static_cast<size_t>(2 * x_dim + 1)] = extra;
      padded_shape[static_cast<size_t>(x_dim)] += extra;
    }
  }
  if (asymmetric) {
    PadAttrs pad;
    pad.pads = pads;
    pad.mode = static_cast<int64_t>(PadMode::kConstant);
    pad.value = 0.0;
    x = ctx.add_node(pad, {x}, ctx.value(x).dtype, padded_shape);
  }
  return emit_conv(ctx, x, w, bias, p);
}

// conv_transpose1d/2d/3d(input, weight, bias, stride, padding, output_padding, groups, dilation)
Status convert_conv_transpose(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  INGOT_ASSIGN_OR_RETURN(ValueId w, ctx.get_tensor("weight"));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_tensor(ctx, "bias"));
  ConvParams p;
  p.transposed = true;
  INGOT_ASSIGN_OR_RETURN(p.stride, list_arg(ctx, "stride", 1));
  INGOT_ASSIGN_OR_RETURN(p.padding, list_arg(ctx, "padding", 0));
  INGOT_ASSIGN_OR_RETURN(p.output_padding, list_arg(ctx, "output_padding", 0));
  INGOT_ASSIGN_OR_RETURN(p.dilation, list_arg(ctx, "dilation", 1));
  INGOT_ASSIGN_OR_RETURN(p.groups, int_or(ctx, "groups", 1));
  return emit_conv(ctx, x, w, bias, p);
}

}  // namespace

void register_conv_converters(ConverterTable& table) {
  table.add("aten.convolution.default", convert_convolution);
  table.add("aten._convolution.default", convert_convolution);
  for (const char* op : {"conv1d", "conv2d", "conv3d"}) {
    table.add(std::string("aten.") + op + ".default", convert_convnd);
    table.add(std::string("aten.") + op + ".padding", convert_convnd);
  }
  // torch names the 1-d overload "default" and the 2-d/3-d ones "input".
  table.add("aten.conv_transpose1d.default", convert_conv_transpose);
  table.add("aten.conv_transpose2d.input", convert_conv_transpose);
  table.add("aten.conv_transpose3d.input", convert_conv_transpose);
}

}  // namespace ingot::frontend
