// Numbers checks shared by the pass tests (test_fuse_gemm.cc, test_fuse_norm.cc,
// test_merge_sibling_gemms.cc): run a graph on the CPU backend with the fixed
// random inputs of ir_test_util.h and get every output as floats, so a test
// compares a graph before and after a pass.
#pragma once
#include <gtest/gtest.h>

#include <vector>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "passes/evaluate.h"

namespace ingot::test {

// Every output of g as floats (empty, with a test failure, when evaluation fails).
inline std::vector<std::vector<float>> run(const Graph& g) {
  auto r = evaluate_graph(g, random_input_bytes(g));
  EXPECT_TRUE(r.ok()) << r.status().to_string() << "\n" << print_graph(g);
  std::vector<std::vector<float>> outs;
  if (r.ok())
    for (const auto& b : r.value()) outs.push_back(floats_of(b));
  return outs;
}

}  // namespace ingot::test
