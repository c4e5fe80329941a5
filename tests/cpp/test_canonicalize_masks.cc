// Tests of the canonicalize rules for transformers-style attention masks
// (src/passes/canonicalize.cc): an index by constant aranges becomes a reshape,
// and(x, all-true) an expand of x, and an attention reads the unexpanded mask.
// Each rewrite is checked on the IR and on numbers: the graph before the pass,
// run on the CPU backend, is the reference. Near misses (a transposing or
// reversed index, a constant with one false) must stay as they are.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "pass_test_util.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

ValueId int64_constant(Graph& g, const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& v) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(v.size() * 8);
  std::memcpy(bytes->data(), v.data(), bytes->size());
  return g.add_constant(name, DType::kInt64, std::move(shape), bytes);
}

ValueId bool_constant(Graph& g, const std::string& name, std::vector<int64_t> shape, const std::vector<uint8_t>& v) {
  return g.add_constant(name, DType::kBool, std::move(shape), std::make_shared<std::vector<uint8_t>>(v));
}

std::vector<int64_t> iota(int64_t n, bool reversed = false) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = reversed ? n - 1 - i : i;
  return v;
}

// x[idx0, idx1] for x [2, 5] (float), as transformers indexes its padding mask:
// idx0 = arange(2) along `axis0`, idx1 = arange(5) along `axis1` of a rank-4
// index shape; out = [the broadcast index shape] * 3.
Graph indexed(int axis0, int axis1, bool reversed = false) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 5});
  std::vector<int64_t> s0 = {1, 1, 1, 1}, s1 = {1, 1, 1, 1};
  s0[static_cast<size_t>(axis0)] = 2;
  s1[static_cast<size_t>(axis1)] = 5;
  std::vector<int64_t> out = {1, 1, 1, 1};
  out[static_cast<size_t>(axis0)] = 2;
  out[static_cast<size_t>(axis1)] = 5;
  ValueId i0 = int64_constant(g, "batch_idx", s0, iota(2));
  ValueId i1 = int64_constant(g, "kv_idx", s1, iota(5, reversed));
  ValueId y = add_op(g, IndexAttrs{.indexed_dims = {0, 1}}, {x, i0, i1}, out);
  ValueId three = scalar(g, "three", 3.f);
  set_output(g, add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kMul)}, {y, three}, out));
  return g;
}

TEST(CanonicalizeMasks, IndexByOrderedArangesBecomesReshape) {
  Graph g = indexed(0, 3);
  const auto before = run(g);
  ASSERT_TRUE(run_canonicalize(g));
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kIndex), 0u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kReshape), 1u) << print_graph(g);
  expect_close(run(g)[0], before[0], 0);
  EXPECT_FALSE(run_canonicalize(g));  // a fixed point
}

TEST(CanonicalizeMasks, IndexThatTransposesOrReversesStays) {
  for (auto [a0, a1, reversed] : {std::tuple{3, 0, false}, std::tuple{0, 3, true}, std::tuple{2, 2, false}}) {
    SCOPED_TRACE(std::to_string(a0) + "," + std::to_string(a1) + (reversed ? " reversed" : ""));
    if (a0 == a1) {
      // Both indices along one axis: a diagonal gather of [2, 2] (not a reshape).
      Graph g;
      ValueId x = add_input(g, "x", {2, 2});
      ValueId i0 = int64_constant(g, "i0", {1, 2}, iota(2));
      ValueId i1 = int64_constant(g, "i1", {1, 2}, iota(2));
      set_output(g, add_op(g, IndexAttrs{.indexed_dims = {0, 1}}, {x, i0, i1}, {1, 2}));
      EXPECT_FALSE(run_canonicalize(g));
      EXPECT_EQ(count_ops(g, OpKind::kIndex), 1u);
      continue;
    }
    Graph g = indexed(a0, a1, reversed);
    EXPECT_FALSE(run_canonicalize(g)) << print_graph(g);
    EXPECT_EQ(count_ops(g, OpKind::kIndex), 1u);
  }
}

// Index dims in the middle (a prefix and a suffix dim kept), and a size-1 dim
// indexed by a lone 0: still reshapes. Non-adjacent indexed dims (torch moves the
// broadcast dims to the front) stay gathers.
TEST(CanonicalizeMasks, IndexWithKeptDimsAndSizeOneDims) {
  {
    Graph g;
    ValueId x = add_input(g, "x", {4, 2, 5, 3});
    ValueId i0 = int64_constant(g, "i0", {2, 1}, iota(2));
    ValueId i1 = int64_constant(g, "i1", {1, 5}, iota(5));
    ValueId y = add_op(g, IndexAttrs{.indexed_dims = {1, 2}}, {x, i0, i1}, {4, 2, 5, 3});
    set_output(g, add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kMul)}, {y, scalar(g, "two", 2.f)},
                         {4, 2, 5, 3}));
    const auto before = run(g);
    ASSERT_TRUE(run_canonicalize(g));
    EXPECT_EQ(count_ops(g, OpKind::kIndex), 0u) << print_graph(g);
    expect_close(run(g)[0], before[0], 0);
  }
  {
    Graph g;
    ValueId x = add_input(g, "x", {1, 5});
    ValueId i0 = int64_constant(g, "i0", {1, 1}, {0});
    ValueId i1 = int64_constant(g, "i1", {1, 5}, iota(5));
    ValueId y = add_op(g, IndexAttrs{.indexed_dims = {0, 1}}, {x, i0, i1}, {1, 5});
    set_output(g, add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kMul)}, {y, scalar(g, "two", 2.f)},
                         {1, 5}));
    const auto before = run(g);
    ASSERT_TRUE(run_canonicalize(g));
    EXPECT_EQ(count_ops(g, OpKind::kIndex), 0u) << print_graph(g);
    expect_close(run(g)[0], before[0], 0);
  }
  {
    Graph g;
    // out[b0, b1, m] = x[b0, m, b1]: a transpose, although every size lines up.
    ValueId x = add_input(g, "x", {2, 3, 3});
    ValueId i0 = int64_constant(g, "i0", {2, 1}, iota(2));
    ValueId i2 = int64_constant(g, "i2", {1, 3}, iota(3));
    set_output(g, add_op(g, IndexAttrs{.indexed_dims = {0, 2}}, {x, i0, i2}, {2, 3, 3}));
    EXPECT_FALSE(run_canonicalize(g)) << print_graph(g);
    EXPECT_EQ(count_ops(g, OpKind::kIndex), 1u);
  }
}

// cast_to_float(and(m > 0, c)) with m [2, 1, 1, 5] and c a bool constant [1, 1, 4, 1].
Graph and_with(bool all_true) {
  Graph g;
  ValueId m = add_input(g, "m", {2, 1, 1, 5});
  ValueId keep = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kGt)}, {m, scalar(g, "zero", 0.f)},
                        DType::kBool, {2, 1, 1, 5});
  ValueId c = bool_constant(g, "c", {1, 1, 4, 1}, {1, 1, static_cast<uint8_t>(all_true), 1});
  ValueId both = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kBitwiseAnd)}, {c, keep}, DType::kBool,
                        {2, 1, 4, 5});
  set_output(g, add_op(g, CastAttrs{}, {both}, DType::kFloat32, {2, 1, 4, 5}));
  return g;
}

TEST(CanonicalizeMasks, AndWithAllTrueConstantBecomesExpand) {
  Graph g = and_with(true);
  const auto before = run(g);
  ASSERT_TRUE(run_canonicalize(g));
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kBinary), 1u) << print_graph(g);  // only the comparison
  EXPECT_EQ(count_ops(g, OpKind::kExpand), 1u) << print_graph(g);
  expect_close(run(g)[0], before[0], 0);
}

TEST(CanonicalizeMasks, AndWithAnyFalseStays) {
  Graph g = and_with(false);
  EXPECT_FALSE(run_canonicalize(g));
  EXPECT_EQ(count_ops(g, OpKind::kBinary), 2u);
}

TEST(CanonicalizeMasks, AttentionReadsTheUnexpandedMask) {
  constexpr int64_t B = 2, H = 3, L = 6, E = 8;
  Graph g;
  const std::vector<int64_t> shape = {B, H, L, E};
  ValueId q = add_input(g, "q", shape), k = add_input(g, "k", shape), v = add_input(g, "v", shape);
  // Keys kept where m > 0; batch 1 keeps none (its rows must come out as zeros).
  ValueId m = add_input(g, "m", {B, 1, 1, L});
  ValueId offset = add_f32_constant(g, "offset", {B, 1, 1, 1}, {0.f, -5.f});
  ValueId shifted = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}, {m, offset}, {B, 1, 1, L});
  ValueId keep = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kGt)}, {shifted, scalar(g, "zero", 0.f)},
                        DType::kBool, {B, 1, 1, L});
  ValueId full = add_op(g, ExpandAttrs{.shape = {B, H, L, L}}, {keep}, DType::kBool, {B, H, L, L});
  set_output(g, add_op(g, AttentionAttrs{.scale = 0.35}, {q, k, v, full}, shape));
  const auto before = run(g);
  ASSERT_TRUE(run_canonicalize(g));
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kExpand), 0u) << print_graph(g);
  const auto after = run(g);
  expect_close(after[0], before[0], 0);
  // Batch 1 is fully masked: zeros, as torch's SDPA gives.
  for (size_t i = static_cast<size_t>(H * L * E); i < after[0].size(); ++i) ASSERT_EQ(after[0][i], 0.f) << i;
}

}  // namespace
}  // namespace ingot
