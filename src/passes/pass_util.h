// Small queries the pattern-matching passes share (fuse_norm.cc,
// fuse_attention.cc, canonicalize.cc): reading a constant operand's value.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "ir/graph.h"

namespace ingot {

// The value of a one-element float constant (any float dtype), or nullopt.
std::optional<double> scalar_constant(const Value& v);

// The elements of an int64/int32 constant, or nullopt for anything else.
std::optional<std::vector<int64_t>> int_constant(const Value& v);

// True for a bool constant whose every element is true.
bool all_true_constant(const Value& v);

}  // namespace ingot
