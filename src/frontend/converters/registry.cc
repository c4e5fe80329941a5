// The default converter table: every op family's register function, called
// explicitly (no static registration, see DESIGN.md), built once on first use.
#include "frontend/converter.h"

namespace ingot::frontend {

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
    return t;
  }();
  return table;
}

}  // namespace ingot::frontend
