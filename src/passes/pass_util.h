// Small queries the pattern-matching passes share (fuse_norm.cc, recognize_gelu.cc,
// fuse_attention.cc, canonicalize.cc): reading a constant operand's value, who
// reads a value, what a node computes.
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

// Which nodes read each value (with repeats) and which values are graph outputs:
// what a pattern matcher needs to know that an intermediate has no other use.
struct UseIndex {
  explicit UseIndex(const Graph& g);
  std::vector<std::vector<NodeId>> consumers;
  std::vector<bool> is_output;
  // The one node reading v, exactly once; -1 when v has other uses or is a graph output.
  NodeId sole_consumer(ValueId v) const;
};

// Drops the nodes marked in `remove` (one flag per node), keeping the others' order.
void erase_nodes(Graph& g, const std::vector<bool>& remove);

// Whether n is a one-output binary (unary) node computing fn.
bool binary_fn_is(const Node& n, BinaryFn fn);
bool unary_fn_is(const Node& n, UnaryFn fn);

}  // namespace ingot
