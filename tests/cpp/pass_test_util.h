// Numbers checks shared by the pass tests (test_fuse_gemm.cc, test_fuse_norm.cc,
// test_merge_sibling_gemms.cc): run a graph on the CPU backend with the fixed
// random inputs of ir_test_util.h and get every output as floats, so a test
// compares a graph before and after a pass.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <string>
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

// A float32 scalar constant.
inline ValueId scalar(Graph& g, const std::string& name, float v) { return add_f32_constant(g, name, {}, {v}); }

// ||got - want|| <= rel * ||want|| (NaN fails).
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << "element " << i;
    err += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += double(want[i]) * want[i];
  }
  EXPECT_LE(std::sqrt(err), rel * std::sqrt(norm) + 1e-30);
}

}  // namespace ingot::test
