// Converters for pooling and resizing: max/avg pooling (1d, 2d, 3d, with or
// without indices), adaptive avg/max pooling, and the upsample family
// (nearest, nearest-exact, linear/bilinear/trilinear, bicubic) in both the
// `.vec` form (output_size or scale_factors) and the `.default` form (explicit
// output_size plus optional per-dim scales). Output sizes always come from the
// export meta, so ceil_mode and adaptive bin arithmetic need no re-derivation here.
#include <string>

#include "frontend/converters/nn_common.h"

namespace ingot::frontend {
namespace {

using namespace nn;

Result<ValueId> pooled_input(ConvertContext& ctx, size_t spatial, const OutType& out) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  x = ctx.cast(x, out.dtype);
  if (rank_of(ctx, x) < static_cast<int64_t>(spatial) + 1) {
    return ctx.error("input of rank " + std::to_string(rank_of(ctx, x)) + " is too small for " +
                     std::to_string(spatial) + "-d pooling");
  }
  return x;
}

// max_poolNd(self, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False)
// and avg_poolNd(self, kernel_size, stride=[], padding=0, ceil_mode=False,
// count_include_pad=True, divisor_override=None).
ConverterFn pool(PoolKind kind, size_t spatial) {
  return [=](ConvertContext& ctx) -> Status {
    if (ctx.num_outputs() > 1 && ctx.output_used(1)) {
      return ctx.unsupported_error("max pooling indices are not supported (output 1 is used)");
    }
    INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
    INGOT_ASSIGN_OR_RETURN(ValueId x, pooled_input(ctx, spatial, out));
    PoolAttrs attrs;
    attrs.kind = static_cast<int64_t>(kind);
    INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, ctx.get_ints("kernel_size"));
    INGOT_ASSIGN_OR_RETURN(attrs.kernel, spatial_list(ctx, kernel, spatial, "kernel_size"));
    INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> stride, ints_or(ctx, "stride", {}));
    if (stride.empty()) {
      attrs.stride = attrs.kernel;  // torch: an empty stride means stride = kernel_size
    } else {
      INGOT_ASSIGN_OR_RETURN(attrs.stride, spatial_list(ctx, stride, spatial, "stride"));
    }
    INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> padding, ints_or(ctx, "padding", {0}));
    INGOT_ASSIGN_OR_RETURN(attrs.padding, spatial_list(ctx, padding, spatial, "padding"));
    INGOT_ASSIGN_OR_RETURN(attrs.ceil_mode, bool_or(ctx, "ceil_mode", false));
    if (kind == PoolKind::kMax) {
      INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> dilation, ints_or(ctx, "dilation", {1}));
      INGOT_ASSIGN_OR_RETURN(attrs.dilation, spatial_list(ctx, dilation, spatial, "dilation"));
    } else {
      attrs.dilation.assign(spatial, 1);
      INGOT_ASSIGN_OR_RETURN(attrs.count_include_pad, bool_or(ctx, "count_include_pad", true));
      INGOT_ASSIGN_OR_RETURN(attrs.divisor_override, int_or(ctx, "divisor_override", 0));
      if (attrs.divisor_override < 0) return ctx.error("divisor_override must be positive");
    }
    for (size_t d = 0; d < spatial; ++d) {
      if (attrs.kernel[d] < 1 || attrs.stride[d] < 1 || attrs.dilation[d] < 1) {
        return ctx.error("kernel_size, stride and dilation must be positive");
      }
      if (attrs.padding[d] < 0) return ctx.error("padding must not be negative");
    }
    return ctx.bind_output(0, ctx.add_node(attrs, {x}, out.dtype, out.shape));
  };
}

// adaptive_{avg,max}_poolNd(self, output_size): the output shape carries the sizes.
ConverterFn adaptive_pool(PoolKind kind, size_t spatial) {
  return [=](ConvertContext& ctx) -> Status {
    if (ctx.num_outputs() > 1 && ctx.output_used(1)) {
      return ctx.unsupported_error("adaptive max pooling indices are not supported (output 1 is used)");
    }
    INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
    INGOT_ASSIGN_OR_RETURN(ValueId x, pooled_input(ctx, spatial, out));
    if (out.shape.size() != ctx.value(x).shape.size()) return ctx.error("adaptive pooling changed the rank");
    AdaptivePoolAttrs attrs;
    attrs.kind = static_cast<int64_t>(kind);
    return ctx.bind_output(0, ctx.add_node(attrs, {x}, out.dtype, out.shape));
  };
}

// The upsample family. `.vec` overloads: (input, output_size?, [align_corners,]
// scale_factors?). `.default` overloads: (self, output_size, [align_corners,]
// scales_*?) with one optional scale per spatial dim.
ConverterFn upsample(UpsampleMode mode, size_t spatial, bool has_align_corners) {
  return [=](ConvertContext& ctx) -> Status {
    INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
    const bool vec = ctx.target().size() >= 4 && ctx.target().substr(ctx.target().size() - 4) == ".vec";
    INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor(vec ? "input" : "self"));
    x = ctx.cast(x, out.dtype);
    const std::vector<int64_t> in_shape = ctx.value(x).shape;
    if (in_shape.size() != spatial + 2 || out.shape.size() != spatial + 2) {
      return ctx.error("upsampling expects an input of rank " + std::to_string(spatial + 2));
    }
    UpsampleAttrs attrs;
    attrs.mode = static_cast<int64_t>(mode);
    if (has_align_corners) {
      INGOT_ASSIGN_OR_RETURN(attrs.align_corners, bool_or(ctx, "align_corners", false));
    }
    if (vec) {
      if (ctx.has_arg("scale_factors")) {
        INGOT_ASSIGN_OR_RETURN(std::vector<double> scales, ctx.get_floats("scale_factors"));
        if (scales.size() == 1) scales.assign(spatial, scales[0]);
        if (scales.size() != spatial) return ctx.error("scale_factors must have one entry per spatial dim");
        attrs.scales = scales;
      }
    } else {
      // Per-dim scales; a missing one means out/in, which is also what torch uses then.
      static const char* const kNames1[] = {"scales"};
      static const char* const kNames2[] = {"scales_h", "scales_w"};
      static const char* const kNames3[] = {"scales_d", "scales_h", "scales_w"};
      const char* const* names = spatial == 1 ? kNames1 : spatial == 2 ? kNames2 : kNames3;
      bool any = false;
      std::vector<double> scales(spatial);
      for (size_t d = 0; d < spatial; ++d) {
        if (ctx.has_arg(names[d])) {
          INGOT_ASSIGN_OR_RETURN(scales[d], ctx.get_float(names[d]));
          any = true;
        } else {
          scales[d] = static_cast<double>(out.shape[2 + d]) / static_cast<double>(in_shape[2 + d]);
        }
      }
      if (any) attrs.scales = scales;
    }
    for (double s : attrs.scales) {
      if (!(s > 0)) return ctx.error("scale factors must be positive");
    }
    return ctx.bind_output(0, ctx.add_node(attrs, {x}, out.dtype, out.shape));
  };
}

}  // namespace

void register_pool_converters(ConverterTable& table) {
  for (size_t spatial = 1; spatial <= 3; ++spatial) {
    const std::string n = std::to_string(spatial) + "d";
    table.add("aten.max_pool" + n + ".default", pool(PoolKind::kMax, spatial));
    table.add("aten.max_pool" + n + "_with_indices.default", pool(PoolKind::kMax, spatial));
    table.add("aten.avg_pool" + n + ".default", pool(PoolKind::kAvg, spatial));
    table.add("aten.adaptive_avg_pool" + n + ".default", adaptive_pool(PoolKind::kAvg, spatial));
    if (spatial > 1) table.add("aten._adaptive_avg_pool" + n + ".default", adaptive_pool(PoolKind::kAvg, spatial));
    table.add("aten.adaptive_max_pool" + n + ".default", adaptive_pool(PoolKind::kMax, spatial));

    for (const char* overload : {".vec", ".default"}) {
      table.add("aten.upsample_nearest" + n + overload, upsample(UpsampleMode::kNearest, spatial, false));
      table.add("aten._upsample_nearest_exact" + n + overload, upsample(UpsampleMode::kNearestExact, spatial, false));
    }
  }
  for (const char* overload : {".vec", ".default"}) {
    table.add(std::string("aten.upsample_linear1d") + overload, upsample(UpsampleMode::kLinear, 1, true));
    table.add(std::string("aten.upsample_bilinear2d") + overload, upsample(UpsampleMode::kLinear, 2, true));
    table.add(std::string("aten.upsample_trilinear3d") + overload, upsample(UpsampleMode::kLinear, 3, true));
    table.add(std::string("aten.upsample_bicubic2d") + overload, upsample(UpsampleMode::kBicubic, 2, true));
  }
}

}  // namespace ingot::frontend
