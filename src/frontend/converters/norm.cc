// Converters for normalizations: batch norm (inference form only, every spelling
// from batch_norm to _native_batch_norm_legit_no_training), layer norm
// (layer_norm, native_layer_norm), group and instance norm, and RMS norm.
//
// The decomposed native_* ops also return statistics (mean, rstd). Those are
// almost never used in inference graphs; when they are, layer/group norm compute
// them with Reduce ops, and batch norm (whose statistics exist only in training)
// refuses.
#include <cmath>
#include <limits>
#include <string>

#include "frontend/converters/nn_common.h"

namespace ingot::frontend {
namespace {

using namespace nn;

// Optional per-channel parameter (weight/bias/running stats) in the compute dtype.
Result<ValueId> optional_param(ConvertContext& ctx, const char* name, DType dtype) {
  INGOT_ASSIGN_OR_RETURN(ValueId v, optional_tensor(ctx, name));
  return v == kNoValue ? v : ctx.cast(v, dtype);
}

// Refuses when an output that ingot cannot produce is used.
Status require_unused(ConvertContext& ctx, size_t first, const char* why) {
  for (size_t i = first; i < ctx.num_outputs(); ++i) {
    if (ctx.output_used(i)) return ctx.unsupported_error(std::string(why) + " (output " + std::to_string(i) + " is used)");
  }
  return Status::ok_status();
}

ValueId reduce(ConvertContext& ctx, ReduceFn fn, ValueId x, std::vector<int64_t> dims, bool keepdim,
               double correction = 0.0) {
  std::vector<int64_t> shape = ctx.value(x).shape;
  for (size_t i = dims.size(); i-- > 0;) {
    const size_t d = static_cast<size_t>(dims[i]);
    if (keepdim) {
      shape[d] = 1;
    } else {
      shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(d));
    }
  }
  ReduceAttrs attrs;
  attrs.fn = static_cast<int64_t>(fn);
  attrs.dims = std::move(dims);
  attrs.keepdim = keepdim;
  attrs.correction = correction;
  return ctx.add_node(attrs, {x}, ctx.value(x).dtype, shape);
}

// Binds mean (output mean_index) and 1/sqrt(biased var + eps) (mean_index + 1)
// of x over `dims`, for the outputs that are used.
Status bind_statistics(ConvertContext& ctx, ValueId x, const std::vector<int64_t>& dims, bool keepdim, double eps,
                       size_t mean_index) {
  if (ctx.output_used(mean_index)) {
    INGOT_RETURN_IF_ERROR(bind_cast_reshape(ctx, mean_index, reduce(ctx, ReduceFn::kMean, x, dims, keepdim)));
  }
  if (ctx.num_outputs() > mean_index + 1 && ctx.output_used(mean_index + 1)) {
    ValueId var = reduce(ctx, ReduceFn::kVar, x, dims, keepdim, /*correction=*/0.0);
    var = ctx.binary(BinaryFn::kAdd, var, scalar_value(ctx, eps, ctx.value(var).dtype));
    INGOT_RETURN_IF_ERROR(bind_cast_reshape(ctx, mean_index + 1, ctx.unary(UnaryFn::kRsqrt, var)));
  }
  return Status::ok_status();
}

// --- batch norm -----------------------------------------------------------------

Status emit_batch_norm(ConvertContext& ctx, bool has_training_arg) {
  if (has_training_arg) {
    INGOT_ASSIGN_OR_RETURN(bool training, bool_or(ctx, "training", false));
    if (training) {
      return ctx.unsupported_error("batch norm in training mode (batch statistics) is not supported; "
                                   "call model.eval() before torch.export");
    }
  }
  INGOT_RETURN_IF_ERROR(require_unused(ctx, 1, "batch norm saved statistics exist only in training"));
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  x = ctx.cast(x, out.dtype);
  if (rank_of(ctx, x) < 2) return ctx.error("batch norm input must have rank >= 2");
  INGOT_ASSIGN_OR_RETURN(ValueId weight, optional_param(ctx, "weight", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_param(ctx, "bias", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId mean, optional_param(ctx, "running_mean", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId var, optional_param(ctx, "running_var", out.dtype));
  if (mean == kNoValue || var == kNoValue) {
    return ctx.unsupported_error("batch norm without running statistics normalizes with batch statistics, "
                                 "which is not supported");
  }
  INGOT_ASSIGN_OR_RETURN(double eps, float_or(ctx, "eps", 1e-5));
  return ctx.bind_output(0, ctx.add_node(BatchNormAttrs{eps}, {x, weight, bias, mean, var}, out.dtype, out.shape));
}

// _native_batch_norm_legit.no_stats: batch statistics. torch's instance_norm
// decomposition produces it on a [1, N*C, ...] view, where per-channel batch
// statistics are per-sample statistics: exactly group norm with one channel per group.
Status convert_batch_norm_no_stats(ConvertContext& ctx) {
  INGOT_RETURN_IF_ERROR(require_unused(ctx, 1, "batch norm saved statistics are not supported"));
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  x = ctx.cast(x, out.dtype);
  const std::vector<int64_t> shape = ctx.value(x).shape;
  if (shape.size() < 3 || shape[0] != 1) {
    return ctx.unsupported_error("batch norm with batch statistics is only supported for a batch of 1 "
                                 "(the instance-norm pattern); call model.eval() before torch.export");
  }
  INGOT_ASSIGN_OR_RETURN(ValueId weight, optional_param(ctx, "weight", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_param(ctx, "bias", out.dtype));
  INGOT_ASSIGN_OR_RETURN(double eps, float_or(ctx, "eps", 1e-5));
  return ctx.bind_output(0, ctx.add_node(GroupNormAttrs{shape[1], eps}, {x, weight, bias}, out.dtype, out.shape));
}

// instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled)
Status convert_instance_norm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(bool use_input_stats, bool_or(ctx, "use_input_stats", true));
  if (!use_input_stats) return emit_batch_norm(ctx, /*has_training_arg=*/false);
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  x = ctx.cast(x, out.dtype);
  if (rank_of(ctx, x) < 3) return ctx.error("instance norm input must have rank >= 3");
  INGOT_ASSIGN_OR_RETURN(ValueId weight, optional_param(ctx, "weight", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_param(ctx, "bias", out.dtype));
  INGOT_ASSIGN_OR_RETURN(double eps, float_or(ctx, "eps", 1e-5));
  const int64_t channels = ctx.value(x).shape[1];
  return ctx.bind_output(0, ctx.add_node(GroupNormAttrs{channels, eps}, {x, weight, bias}, out.dtype, out.shape));
}

// --- layer norm -------------------------------------------------------------------

Status convert_layer_norm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  x = ctx.cast(x, out.dtype);
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> normalized_shape, ctx.get_ints("normalized_shape"));
  const int64_t rank = rank_of(ctx, x);
  const int64_t n = static_cast<int64_t>(normalized_shape.size());
  if (n < 1 || n > rank) return ctx.error("normalized_shape must have between 1 and rank(input) entries");
  for (int64_t i = 0; i < n; ++i) {
    if (ctx.value(x).shape[static_cast<size_t>(rank - n + i)] != normalized_shape[static_cast<size_t>(i)]) {
      return ctx.error("normalized_shape does not match the trailing dims of the input");
    }
  }
  INGOT_ASSIGN_OR_RETURN(ValueId weight, optional_param(ctx, "weight", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_param(ctx, "bias", out.dtype));
  INGOT_ASSIGN_OR_RETURN(double eps, float_or(ctx, "eps", 1e-5));
  INGOT_RETURN_IF_ERROR(
      ctx.bind_output(0, ctx.add_node(LayerNormAttrs{n, eps}, {x, weight, bias}, out.dtype, out.shape)));
  if (ctx.num_outputs() > 1) {  // native_layer_norm: mean and rstd, keepdim over the normalized dims
    std::vector<int64_t> dims;
    for (int64_t d = rank - n; d < rank; ++d) dims.push_back(d);
    INGOT_RETURN_IF_ERROR(bind_statistics(ctx, x, dims, /*keepdim=*/true, eps, 1));
  }
  return Status::ok_status();
}

// --- group norm ---------------------------------------------------------------------

Status emit_group_norm(ConvertContext& ctx, int64_t groups) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  x = ctx.cast(x, out.dtype);
  const std::vector<int64_t> shape = ctx.value(x).shape;
  if (shape.size() < 2) return ctx.error("group norm input must have rank >= 2");
  if (groups < 1 || shape[1] % groups != 0) {
    return ctx.error("groups=" + std::to_string(groups) + " does not divide channels=" + std::to_string(shape[1]));
  }
  INGOT_ASSIGN_OR_RETURN(ValueId weight, optional_param(ctx, "weight", out.dtype));
  INGOT_ASSIGN_OR_RETURN(ValueId bias, optional_param(ctx, "bias", out.dtype));
  INGOT_ASSIGN_OR_RETURN(double eps, float_or(ctx, "eps", 1e-5));
  INGOT_RETURN_IF_ERROR(
      ctx.bind_output(0, ctx.add_node(GroupNormAttrs{groups, eps}, {x, weight, bias}, out.dtype, out.shape)));
  if (ctx.num_outputs() > 1) {  // native_group_norm: mean and rstd of shape [N, G]
    ValueId grouped = ctx.reshape(x, {shape[0], groups, -1});
    INGOT_RETURN_IF_ERROR(bind_statistics(ctx, grouped, {2}, /*keepdim=*/false, eps, 1));
  }
  return Status::ok_status();
}

Status convert_group_norm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(int64_t groups, ctx.get_int("num_groups"));
  return emit_group_norm(ctx, groups);
}

// native_group_norm(input, weight, bias, N, C, HxW, group, eps)
Status convert_native_group_norm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(int64_t groups, ctx.get_int("group"));
  return emit_group_norm(ctx, groups);
}

// --- RMS norm -----------------------------------------------------------------------

// rms_norm(input, normalized_shape, weight?, eps?) and _fused_rms_norm (+ rstd output).
// A missing eps is torch.finfo(input.dtype).eps.
Status convert_rms_norm(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  x = ctx.cast(x, out.dtype);
  INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> normalized_shape, ctx.get_ints("normalized_shape"));
  const int64_t n = static_cast<int64_t>(normalized_shape.size());
  const int64_t rank = rank_of(ctx, x);
  if (n < 1 || n > rank) return ctx.error("normalized_shape must have between 1 and rank(input) entries");
  INGOT_ASSIGN_OR_RETURN(ValueId weight, optional_param(ctx, "weight", out.dtype));
  double eps = 0;
  if (ctx.has_arg("eps")) {
    INGOT_ASSIGN_OR_RETURN(eps, ctx.get_float("eps"));
  } else {
    switch (out.dtype) {
      case DType::kFloat16: eps = 0.0009765625; break;
      case DType::kBFloat16: eps = 0.0078125; break;
      case DType::kFloat64: eps = std::numeric_limits<double>::epsilon(); break;
      default: eps = static_cast<double>(std::numeric_limits<float>::epsilon()); break;
    }
  }
  INGOT_RETURN_IF_ERROR(ctx.bind_output(0, ctx.add_node(RmsNormAttrs{n, eps}, {x, weight}, out.dtype, out.shape)));
  if (ctx.num_outputs() > 1 && ctx.output_used(1)) {  // _fused_rms_norm: rstd, keepdim
    std::vector<int64_t> dims;
    for (int64_t d = rank - n; d < rank; ++d) dims.push_back(d);
    ValueId ms = reduce(ctx, ReduceFn::kMean, ctx.binary(BinaryFn::kMul, x, x), dims, /*keepdim=*/true);
    ms = ctx.binary(BinaryFn::kAdd, ms, scalar_value(ctx, eps, ctx.value(ms).dtype));
    INGOT_RETURN_IF_ERROR(bind_cast_reshape(ctx, 1, ctx.unary(UnaryFn::kRsqrt, ms)));
  }
  return Status::ok_status();
}

}  // namespace

void register_norm_converters(ConverterTable& table) {
  auto with_training = [](ConvertContext& ctx) { return emit_batch_norm(ctx, true); };
  auto without_training = [](ConvertContext& ctx) { return emit_batch_norm(ctx, false); };
  table.add("aten.batch_norm.default", with_training);
  table.add("aten.native_batch_norm.default", with_training);
  table.add("aten._native_batch_norm_legit.default", with_training);
  table.add("aten._native_batch_norm_legit_no_training.default", without_training);
  table.add("aten._native_batch_norm_legit.no_stats", convert_batch_norm_no_stats);
  table.add("aten.instance_norm.default", convert_instance_norm);
  table.add("aten.layer_norm.default", convert_layer_norm);
  table.add("aten.native_layer_norm.default", convert_layer_norm);
  table.add("aten.group_norm.default", convert_group_norm);
  table.add("aten.native_group_norm.default", convert_native_group_norm);
  table.add("aten.rms_norm.default", convert_rms_norm);
  table.add("aten._fused_rms_norm.default", convert_rms_norm);
}

}  // namespace ingot::frontend
