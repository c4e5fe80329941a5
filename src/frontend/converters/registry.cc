// The default converter table: every op family's register function, called
// explicitly (no static registration, see DESIGN.md), built once on first use.
#include "frontend/converter.h"

namespace ingot::frontend {

// Families added for Hugging Face model coverage; declared here rather than in
// converter.h so that adding them does not rebuild every converter.
void register_sorting_converters(ConverterTable&);      // sort, argsort, topk, histc (composed from comparisons)
void register_scatter_converters(ConverterTable&);      // index_put, transformers.grouped_mm_fallback (MoE experts)
void register_model_extra_converters(ConverterTable&);  // numpy_T, meshgrid, _weight_norm, empty_permuted, unused random draws
void register_einsum_converters(ConverterTable&);       // einsum (training IR of MaxViT and other einsum users)
void register_vision_extra_converters(ConverterTable&); // tensor_split (torchvision MViT)

const ConverterTable& default_converter_table() {
  static const ConverterTable table = [] {
    ConverterTable t;
    register_activation_converters(t);
    register_elementwise_converters(t);
    register_linear_converters(t);
    register_conv_converters(t);
    register_norm_converters(t);
    register_pool_converters(t);
    register_attention_converters(t);
    register_reduction_converters(t);
    register_shape_converters(t);
    register_indexing_converters(t);
    register_creation_converters(t);
    register_misc_converters(t);
    register_sorting_converters(t);
    register_scatter_converters(t);
    register_model_extra_converters(t);
    register_einsum_converters(t);
    register_vision_extra_converters(t);
    return t;
  }();
  return table;
}

}  // namespace ingot::frontend
