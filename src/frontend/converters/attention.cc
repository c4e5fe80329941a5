// Converters for scaled dot-product attention: the public
// scaled_dot_product_attention and the backend-specific _scaled_dot_product_*
// variants that some export paths record. All become the Attention op; only the
// attention output (output 0) is supported, the logsumexp/debug/RNG outputs of
// the variants must be unused.
//
// dropout_p is ignored: an inference engine never drops out, and eval-mode
// exports (HF passes `dropout=0.0 if not training`) record 0 anyway.
#include <cmath>
#include <string>

#include "frontend/converters/nn_common.h"

namespace ingot::frontend {
namespace {

using namespace nn;

// mask_name: the schema name of the mask ("attn_mask", "attn_bias") or nullptr.
ConverterFn attention(const char* mask_name) {
  return [=](ConvertContext& ctx) -> Status {
    for (size_t i = 1; i < ctx.num_outputs(); ++i) {
      if (ctx.output_used(i)) {
        return ctx.unsupported_error("only the attention output is supported (output " + std::to_string(i) +
                                     " is used)");
      }
    }
    INGOT_ASSIGN_OR_RETURN(OutType out, out_type(ctx));
    INGOT_ASSIGN_OR_RETURN(ValueId q, ctx.get_tensor("query"));
    INGOT_ASSIGN_OR_RETURN(ValueId k, ctx.get_tensor("key"));
    INGOT_ASSIGN_OR_RETURN(ValueId v, ctx.get_tensor("value"));
    q = ctx.cast(q, out.dtype);
    k = ctx.cast(k, out.dtype);
    v = ctx.cast(v, out.dtype);
    ValueId mask = kNoValue;
    if (mask_name) {
      INGOT_ASSIGN_OR_RETURN(mask, optional_tensor(ctx, mask_name));
    }

    // The op wants [B.., H, L, E]; a bare [L, E] gets a head dim of 1.
    if (rank_of(ctx, q) < 2 || rank_of(ctx, k) != rank_of(ctx, q) || rank_of(ctx, v) != rank_of(ctx, q)) {
      return ctx.unsupported_error("query, key and value must have the same rank >= 2");
    }
    if (rank_of(ctx, q) == 2) {
      q = lift_rank(ctx, q, 3);
      k = lift_rank(ctx, k, 3);
      v = lift_rank(ctx, v, 3);
    }
    const std::vector<int64_t> qs = ctx.value(q).shape;
    const std::vector<int64_t> ks = ctx.value(k).shape;
    const std::vector<int64_t> vs = ctx.value(v).shape;
    const size_t rank = qs.size();
    for (size_t d = 0; d + 3 < rank; ++d) {
      if (ks[d] != qs[d] || vs[d] != qs[d]) {
        return ctx.unsupported_error("query, key and value must share their batch dims (broadcasting them is not supported)");
      }
    }
    const int64_t hq = qs[rank - 3], hkv = ks[rank - 3];
    if (vs[rank - 3] != hkv || hkv == 0 || hq % hkv != 0) {
      return ctx.error("query heads (" + std::to_string(hq) + ") must be a multiple of key/value heads (" +
                       std::to_string(hkv) + ")");
    }
    if (ks.back() != qs.back() || vs[rank - 2] != ks[rank - 2]) {
      return ctx.error("query/key embedding sizes or key/value sequence lengths differ");
    }

    AttentionAttrs attrs;
    INGOT_ASSIGN_OR_RETURN(attrs.is_causal, bool_or(ctx, "is_causal", false));
    if (ctx.has_arg("scale")) {
      INGOT_ASSIGN_OR_RETURN(attrs.scale, ctx.get_float("scale"));
    } else {
      attrs.scale = 1.0 / std::sqrt(static_cast<double>(qs.back()));
    }
    if (mask != kNoValue) {
      if (attrs.is_causal) return ctx.error("attn_mask and is_causal cannot both be set");
      if (ctx.value(mask).dtype != DType::kBool) mask = ctx.cast(mask, out.dtype);
      if (rank_of(ctx, mask) > static_cast<int64_t>(rank)) return ctx.error("attn_mask has a higher rank than query");
      mask = lift_rank(ctx, mask, static_cast<int64_t>(rank));
      std::vector<int64_t> scores_shape = qs;
      scores_shape.back() = ks[rank - 2];
      std::optional<std::vector<int64_t>> b = broadcast_shapes(ctx.value(mask).shape, scores_shape);
      if (!b || *b != scores_shape) return ctx.error("attn_mask does not broadcast to the attention scores");
    }

    std::vector<int64_t> shape = qs;
    shape.back() = vs.back();
    ValueId y = ctx.add_node(attrs, {q, k, v, mask}, out.dtype, shape);
    return bind_cast_reshape(ctx, 0, y);
  };
}

}  // namespace

void register_attention_converters(ConverterTable& table) {
  table.add("aten.scaled_dot_product_attention.default", attention("attn_mask"));
  table.add("aten._scaled_dot_product_attention_math.default", attention("attn_mask"));
  table.add("aten._scaled_dot_product_flash_attention_for_cpu.default", attention("attn_mask"));
  table.add("aten._scaled_dot_product_flash_attention.default", attention(nullptr));
  table.add("aten._scaled_dot_product_efficient_attention.default", attention("attn_bias"));
  table.add("aten._scaled_dot_product_cudnn_attention.default", attention("attn_bias"));
}

}  // namespace ingot::frontend
