// Tests of the patch-embedding rewrite (src/passes/conv_as_gemm.cc) and of
// collapse_view_chains on a ViT-style stem: a 4x4/4 conv on 3 channels becomes a
// patch gather + Gemm, the NCHW permute meets the model's flatten + transpose and
// collapses into a reshape, and the graph computes the same numbers as before on
// the CPU backend (the original conv is the reference: the CPU conv kernel is
// tested against PyTorch). Convs that are not patchify stems stay convs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

// x [2, 3, 8, 12] -> conv 4x4/4 -> [2, 6, 2, 3] -> flatten [2, 6, 6] -> transpose [2, 6, 6].
Graph stem(ConvAttrs conv, bool bias) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 3, 8, 12});
  ValueId w = add_constant(g, "w", {6, 3, 4, 4}, 3);
  std::vector<ValueId> in = {x, w};
  if (bias) in.push_back(add_constant(g, "b", {6}, 4));
  const int64_t ho = (8 + 2 * (conv.padding.empty() ? 0 : conv.padding[0]) - 4) / conv.stride[0] + 1;
  const int64_t wo = (12 + 2 * (conv.padding.empty() ? 0 : conv.padding[1]) - 4) / conv.stride[1] + 1;
  ValueId y = add_op(g, conv, in, {2, 6, ho, wo});
  ValueId f = add_op(g, ReshapeAttrs{.shape = {2, 6, ho * wo}}, {y}, {2, 6, ho * wo});
  set_output(g, add_op(g, PermuteAttrs{.perm = {0, 2, 1}}, {f}, {2, ho * wo, 6}));
  return g;
}

ConvAttrs conv_attrs(int64_t stride, int64_t pad) {
  ConvAttrs a;
  a.stride = {stride, stride};
  a.padding = {pad, pad};
  a.dilation = {1, 1};
  return a;
}

void rewrite_and_compare(Graph& g, bool expect_change) {
  const auto inputs = random_input_bytes(g, 11);
  auto before = evaluate_graph(g, inputs);
  ASSERT_TRUE(before.ok()) << before.status().message();
  bool changed = run_conv_as_gemm(g);
  ASSERT_EQ(changed, expect_change) << print_graph(g);
  ASSERT_TRUE(verify_graph(g).ok()) << verify_graph(g).message();
  run_collapse_view_chains(g);
  ASSERT_TRUE(verify_graph(g).ok());
  run_dce(g);
  auto after = evaluate_graph(g, inputs);
  ASSERT_TRUE(after.ok()) << after.status().message() << "\n" << print_graph(g);
  const auto x = floats_of(before.value()[0]), y = floats_of(after.value()[0]);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_FALSE(std::isnan(y[i]));
    ASSERT_NEAR(x[i], y[i], 1e-5f) << "element " << i;
  }
}

TEST(ConvAsGemm, PatchifyStemBecomesOneGatherAndGemm) {
  for (bool bias : {true, false}) {
    Graph g = stem(conv_attrs(4, 0), bias);
    rewrite_and_compare(g, true);
    EXPECT_EQ(count_ops(g, OpKind::kConv), 0u);
    EXPECT_EQ(count_ops(g, OpKind::kGemm), 1u);
    // One permute (the patch gather); the NCHW permute and the model's transpose collapsed.
    EXPECT_EQ(count_ops(g, OpKind::kPermute), 1u) << print_graph(g);
  }
}

TEST(ConvAsGemm, OtherConvsStay) {
  Graph overlapping = stem(conv_attrs(2, 0), true);  // stride != kernel
  rewrite_and_compare(overlapping, false);
  Graph padded = stem(conv_attrs(4, 1), true);
  rewrite_and_compare(padded, false);
  EXPECT_EQ(count_ops(padded, OpKind::kConv), 1u);
}

TEST(CollapseViewChains, OnlyChainsThatRestoreTheLayout) {
  // transpose -> reshape -> transpose back is the identity layout: one reshape.
  Graph g;
  ValueId x = add_input(g, "x", {2, 3, 4});
  ValueId t = add_op(g, PermuteAttrs{.perm = {0, 2, 1}}, {x}, {2, 4, 3});
  ValueId r = add_op(g, ReshapeAttrs{.shape = {2, 4, 3, 1}}, {t}, {2, 4, 3, 1});
  set_output(g, add_op(g, PermuteAttrs{.perm = {0, 2, 1, 3}}, {r}, {2, 3, 4, 1}));
  EXPECT_TRUE(run_collapse_view_chains(g));
  run_dce(g);
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 0u) << print_graph(g);
  // A single real transpose is left alone.
  Graph h;
  ValueId y = add_input(h, "y", {2, 3, 4});
  set_output(h, add_op(h, PermuteAttrs{.perm = {0, 2, 1}}, {y}, {2, 4, 3}));
  EXPECT_FALSE(run_collapse_view_chains(h));
}

}  // namespace
}  // namespace ingot
