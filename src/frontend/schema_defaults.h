// ATen schema defaults: torch.export leaves out arguments at their default, so
// converters read them from this table (generated from native_functions.yaml by
// tools/gen_schema_defaults.py into schema_defaults.inc).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "frontend/export_program.h"

namespace ingot::frontend {

// The default of `arg_name` of the overload `target` ("aten.add.Tensor", no
// "torch.ops." prefix) as a typed Argument; nullptr when the argument has no
// default or the overload is unknown.
const Argument* schema_default(std::string_view target, std::string_view arg_name);

// The overload's argument names in schema order; nullptr for an unknown overload.
const std::vector<std::string>* schema_arg_names(std::string_view target);

}  // namespace ingot::frontend
