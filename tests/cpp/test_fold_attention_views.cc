// Tests of attention view folding (src/passes/fold_attention_views.cc, with the
// sibling merge before it) on hand-built graphs shaped like BERT's and ViT's
// attention blocks: the head transposes, the packed-QKV split and the output
// transpose disappear from the IR, the attention reads and writes through views,
// and the graph computes the same numbers as before on the CPU backend (the
// unfolded graph is the reference: its permutes and dense attention are CPU
// kernels tested against PyTorch). Also: what must not fold, and the geometry
// checks that reject views reaching outside their tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "ir/attention_geometry.h"
#include "ir/graph.h"
#include "ir_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

constexpr int64_t kB = 2, kL = 5, kH = 4, kE = 4, kD = kH * kE;

// Runs fold (merge first, as the pipeline does) and checks the numbers are unchanged.
void fold_and_compare(Graph& g, bool expect_change, bool cuda = false) {
  const auto inputs = random_input_bytes(g, 7);
  auto before = evaluate_graph(g, inputs);
  ASSERT_TRUE(before.ok()) << before.status().message();
  bool changed = run_merge_sibling_gemms(g, true, cuda);
  changed |= run_fold_attention_views(g, cuda);
  ASSERT_EQ(changed, expect_change);
  ASSERT_TRUE(verify_graph(g).ok()) << verify_graph(g).message() << "\n" << print_graph(g);
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok());
  auto after = evaluate_graph(g, inputs);
  ASSERT_TRUE(after.ok()) << after.status().message() << "\n" << print_graph(g);
  ASSERT_EQ(before.value().size(), after.value().size());
  for (size_t o = 0; o < before.value().size(); ++o) {
    const auto x = floats_of(before.value()[o]), y = floats_of(after.value()[o]);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_FALSE(std::isnan(y[i])) << "output " << o << " element " << i;
      ASSERT_NEAR(x[i], y[i], 1e-5f) << "output " << o << " element " << i;
    }
  }
}

const Node* find_attention(const Graph& g) {
  for (const Node& n : g.nodes())
    if (n.kind() == OpKind::kAttention) return &n;
  return nullptr;
}

// BERT: three projections, [B, L, D] -> [B, L, H, E] -> [B, H, L, E], attention, and back.
Graph bert_block(bool with_mask) {
  Graph g;
  ValueId x = add_input(g, "x", {kB, kL, kD});
  ValueId mask = with_mask ? add_input(g, "mask", {kB, 1, 1, kL}) : kNoValue;
  ValueId heads[3];
  for (int i = 0; i < 3; ++i) {
    ValueId w = add_constant(g, "w" + std::to_string(i), {kD, kD}, 30 + i);
    ValueId b = add_constant(g, "b" + std::to_string(i), {kD}, 40 + i);
    ValueId p = add_op(g, GemmAttrs{.trans_b = true}, {x, w, b}, {kB, kL, kD});
    ValueId r = add_op(g, ReshapeAttrs{.shape = {kB, kL, kH, kE}}, {p}, {kB, kL, kH, kE});
    heads[i] = add_op(g, PermuteAttrs{.perm = {0, 2, 1, 3}}, {r}, {kB, kH, kL, kE});
  }
  std::vector<ValueId> in = {heads[0], heads[1], heads[2]};
  if (with_mask) in.push_back(mask);
  ValueId a = add_op(g, AttentionAttrs{.scale = 0.5}, in, {kB, kH, kL, kE});
  ValueId t = add_op(g, PermuteAttrs{.perm = {0, 2, 1, 3}}, {a}, {kB, kL, kH, kE});
  set_output(g, add_op(g, ReshapeAttrs{.shape = {kB, kL, kD}}, {t}, {kB, kL, kD}));
  return g;
}

TEST(FoldAttentionViews, BertBlockLosesEveryTransposeAndKeepsNumbers) {
  for (bool mask : {false, true}) {
    Graph g = bert_block(mask);
    fold_and_compare(g, true);
    EXPECT_EQ(count_ops(g, OpKind::kPermute), 0u) << print_graph(g);
    EXPECT_EQ(count_ops(g, OpKind::kGemm), 1u) << "q/k/v projections merged";
    const Node* att = find_attention(g);
    ASSERT_NE(att, nullptr);
    const auto& a = std::get<AttentionAttrs>(att->attrs);
    ASSERT_EQ(a.views.size(), kAttnViewInts);
    // q is the first slice of the merged [B, L, 3D] projection: rows 3D apart, heads E apart.
    EXPECT_EQ(a.views[0], 0);
    EXPECT_EQ(a.views[1], kL * 3 * kD);
    EXPECT_EQ(a.views[2], kE);
    EXPECT_EQ(a.views[3], 3 * kD);
    EXPECT_EQ(a.views[4], kD) << "k starts after q's columns";
    // out is written as [B, L, H, E].
    EXPECT_EQ(a.views[13], kL * kD);
    EXPECT_EQ(a.views[14], kE);
    EXPECT_EQ(a.views[15], kD);
  }
}

// ViT (nn.MultiheadAttention, batch_first): x -> [L, B, D], packed projection,
// unflatten/transpose/select, q.view(L, B*H, E).transpose(0, 1).view(B, H, L, E).
Graph vit_block() {
  Graph g;
  ValueId x = add_input(g, "x", {kB, kL, kD});
  ValueId xt = add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {x}, {kL, kB, kD});
  ValueId w = add_constant(g, "in_proj_weight", {3 * kD, kD}, 50);
  ValueId b = add_constant(g, "in_proj_bias", {3 * kD}, 51);
  ValueId proj = add_op(g, GemmAttrs{.trans_b = true}, {xt, w, b}, {kL, kB, 3 * kD});
  ValueId un = add_op(g, ReshapeAttrs{.shape = {1, kL, kB, 3, kD}}, {proj}, {1, kL, kB, 3, kD});
  ValueId tr = add_op(g, PermuteAttrs{.perm = {3, 1, 2, 0, 4}}, {un}, {3, kL, kB, 1, kD});
  ValueId sq = add_op(g, ReshapeAttrs{.shape = {3, kL, kB, kD}}, {tr}, {3, kL, kB, kD});
  ValueId heads[3];
  for (int i = 0; i < 3; ++i) {
    ValueId sel = add_op(g, SliceAttrs{.dim = 0, .start = i, .end = i + 1, .step = 1}, {sq}, {1, kL, kB, kD});
    ValueId v3 = add_op(g, ReshapeAttrs{.shape = {kL, kB * kH, kE}}, {sel}, {kL, kB * kH, kE});
    ValueId t3 = add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {v3}, {kB * kH, kL, kE});
    heads[i] = add_op(g, ReshapeAttrs{.shape = {kB, kH, kL, kE}}, {t3}, {kB, kH, kL, kE});
  }
  ValueId a = add_op(g, AttentionAttrs{.scale = 0.5}, {heads[0], heads[1], heads[2]}, {kB, kH, kL, kE});
  ValueId o = add_op(g, PermuteAttrs{.perm = {2, 0, 1, 3}}, {a}, {kL, kB, kH, kE});
  set_output(g, add_op(g, ReshapeAttrs{.shape = {kL * kB, kD}}, {o}, {kL * kB, kD}));
  return g;
}

TEST(FoldAttentionViews, VitPackedProjectionIsReadInPlace) {
  Graph g = vit_block();
  fold_and_compare(g, true);
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 0u) << "batch-first transpose sunk and absorbed\n" << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kSlice), 0u);
  const Node* att = find_attention(g);
  ASSERT_NE(att, nullptr);
  EXPECT_FALSE(std::get<AttentionAttrs>(att->attrs).views.empty());
}

TEST(FoldAttentionViews, CudaFoldsOnlyWhereFlashRuns) {
  // float32 with E = 4: the cuda kernels would need the dense layout, nothing changes.
  Graph g = bert_block(false);
  const size_t nodes = g.num_nodes();
  fold_and_compare(g, false, /*cuda=*/true);
  EXPECT_EQ(g.num_nodes(), nodes);
  EXPECT_EQ(count_ops(g, OpKind::kGemm), 3u) << "no merge where nothing folds";
}

TEST(FoldAttentionViews, OperandWithTransposedHeadDimStaysDense) {
  // k arrives as a transpose of [B, H, E, L]: E is not contiguous, so that operand
  // cannot be a view; its permute must stay (q and v still fold).
  Graph g;
  ValueId q = add_input(g, "q", {kB, kL, kH, kE});
  ValueId kt = add_input(g, "k_t", {kB, kH, kE, kL});
  ValueId v = add_input(g, "v", {kB, kL, kH, kE});
  ValueId qh = add_op(g, PermuteAttrs{.perm = {0, 2, 1, 3}}, {q}, {kB, kH, kL, kE});
  ValueId kh = add_op(g, PermuteAttrs{.perm = {0, 1, 3, 2}}, {kt}, {kB, kH, kL, kE});
  ValueId vh = add_op(g, PermuteAttrs{.perm = {0, 2, 1, 3}}, {v}, {kB, kH, kL, kE});
  set_output(g, add_op(g, AttentionAttrs{.scale = 1.0, .is_causal = true}, {qh, kh, vh}, {kB, kH, kL, kE}));
  fold_and_compare(g, true);
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 1u) << print_graph(g);
  const Node* att = find_attention(g);
  ASSERT_NE(att, nullptr);
  EXPECT_EQ(att->inputs[0], q);
  EXPECT_EQ(att->inputs[2], v);
}

TEST(FoldAttentionViews, GraphOutputsAndSharedValuesStay) {
  // The attention output is also a graph output: it cannot be written transposed.
  Graph g = bert_block(false);
  const Node* att = find_attention(g);
  set_output(g, att->outputs[0]);
  fold_and_compare(g, true);
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 1u) << "the output transpose stays\n" << print_graph(g);
}

TEST(AttentionGeometry, RejectsViewsOutsideTheirTensorsAndOverlappingWrites) {
  AttentionAttrs a;
  a.dims = {1, 2, 2, 3, 3, 4, 4};
  // q, k, v, out: dense [1, 2, 3, 4] each.
  a.views = {0, 24, 12, 4, 0, 24, 12, 4, 0, 24, 12, 4, 0, 24, 12, 4};
  const std::vector<int64_t> s = {1, 2, 3, 4};
  EXPECT_TRUE(attention_geometry(a, s, s, s, s, "t").ok());
  AttentionAttrs past = a;
  past.views[0] = 1;  // q would read one element past its end
  EXPECT_FALSE(attention_geometry(past, s, s, s, s, "t").ok());
  AttentionAttrs overlap = a;
  overlap.views[14] = 4;  // two heads writing the same rows
  auto r = attention_geometry(overlap, s, s, s, s, "t");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("twice"), std::string::npos);
  AttentionAttrs short_dims = a;
  short_dims.dims.pop_back();
  EXPECT_FALSE(attention_geometry(short_dims, s, s, s, s, "t").ok());
}

}  // namespace
}  // namespace ingot
