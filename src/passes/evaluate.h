// Running IR nodes on the CPU backend at build time. Constant folding uses it to
// evaluate nodes with constant inputs; tests use evaluate_graph to check that a
// pass leaves a graph's numbers unchanged.
#pragma once
#include <cstdint>
#include <vector>

#include "ir/graph.h"

namespace ingot {

// Runs one node whose inputs are all constants (or absent); returns the bytes of
// each output.
Result<std::vector<std::vector<uint8_t>>> evaluate_constant_node(const Graph& g, const Node& n);

// Runs the whole graph on the given input bytes (one per graph input, dense);
// returns the bytes of each graph output.
Result<std::vector<std::vector<uint8_t>>> evaluate_graph(const Graph& g,
                                                         const std::vector<std::vector<uint8_t>>& inputs);

}  // namespace ingot
