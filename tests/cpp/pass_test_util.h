// Numbers checks shared by the pass tests (test_fuse_gemm.cc, test_fuse_norm.cc,
// test_merge_sibling_gemms.cc, test_hoist_slices.cc, test_fold_gemm_bias_into_norm.cc): run a graph on the CPU backend with the fixed
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
#include "passes/passes.h"

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

// Runs `change` on g (a pass, and whatever cleanup the test wants after it) and checks
// that the graph still verifies and every output keeps its value on the same random
// inputs (elementwise within 1e-5; NaN fails). Returns what `change` returned.
template <typename Change>
auto change_and_compare(Graph& g, uint32_t seed, Change&& change) {
  const auto inputs = random_input_bytes(g, seed);
  auto before = evaluate_graph(g, inputs);
  EXPECT_TRUE(before.ok()) << before.status().message();
  auto result = change(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).message() << "\n" << print_graph(g);
  auto after = evaluate_graph(g, inputs);
  EXPECT_TRUE(after.ok()) << after.status().message() << "\n" << print_graph(g);
  if (!before.ok() || !after.ok()) return result;
  EXPECT_EQ(before.value().size(), after.value().size());
  for (size_t o = 0; o < before.value().size() && o < after.value().size(); ++o) {
    const auto x = floats_of(before.value()[o]), y = floats_of(after.value()[o]);
    EXPECT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      EXPECT_FALSE(std::isnan(y[i])) << "output " << o << " element " << i;
      EXPECT_NEAR(x[i], y[i], 1e-5f) << "output " << o << " element " << i;
    }
  }
  return result;
}

}  // namespace ingot::test
