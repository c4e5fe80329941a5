// Small queries the pattern-matching passes share (fuse_norm.cc,
// fuse_attention.cc): reading a constant operand's value.
#pragma once
#include <optional>

#include "ir/graph.h"

namespace ingot {

// The value of a one-element float constant (any float dtype), or nullopt.
std::optional<double> scalar_constant(const Value& v);

}  // namespace ingot
