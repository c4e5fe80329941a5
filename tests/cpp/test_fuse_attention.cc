// Tests of the attention fusion pass (src/passes/fuse_attention.cc) on small
// hand-built graphs in the shapes the frontend produces for eager attention
// (T5Attention, GPT-2, hand-written blocks): after the pass (and the
// canonicalize/DCE round the pipeline runs after it) the IR has one Attention with
// the right scale and mask, and the graph computes the same numbers as before (the
// unfused graph runs the CPU matmul/binary/softmax kernels, the fused one the
// attention kernel), which also match a float64 reference computed here. Cases the
// pass must leave alone are checked too.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "pass_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

OpAttrs binary(BinaryFn fn) { return BinaryAttrs{.fn = static_cast<int64_t>(fn)}; }


bool fuse(Graph& g) {
  const bool changed = run_fuse_attention(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  run_canonicalize(g);
  run_dce(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  return changed;
}

enum class Scale { kNone, kMul, kMulFirst, kDiv, kOnQ };
enum class Mask { kNone, kAfter, kBefore };  // s + m, m + s
struct Spelling {
  Scale scale = Scale::kDiv;
  Mask mask = Mask::kAfter;
  int rank = 4;
  // Negative cases.
  int64_t softmax_dim = -1;     // -1: last dim
  bool permute_swaps_last_two = true;
  bool k_from_head_split = false;
  bool position_bias = false;      // a second add (bias [1, H, L, S]) after the mask, as T5 does  // k input [B, S, H, E], k^T = permute(0, 2, 3, 1) (rank 4)
  bool scores_used_twice = false;
};

constexpr int64_t kB = 2, kH = 3, kL = 5, kS = 7, kE = 8, kEv = 6;
constexpr float kC = 0.35f;  // the scalar of the scale op

std::vector<int64_t> lead(int rank) { return rank == 4 ? std::vector<int64_t>{kB, kH} : std::vector<int64_t>{kB * kH}; }
std::vector<int64_t> shape(int rank, int64_t a, int64_t b) {
  auto s = lead(rank);
  s.push_back(a);
  s.push_back(b);
  return s;
}

// Inputs q, k, v (and mask [B, 1, L, S] or [1, L, S] when masked); output the attention.
Graph attention_graph(const Spelling& sp) {
  Graph g;
  const int r = sp.rank;
  ValueId q = add_input(g, "q", shape(r, kL, kE));
  ValueId k = sp.k_from_head_split ? add_input(g, "k", {kB, kS, kH, kE}) : add_input(g, "k", shape(r, kS, kE));
  ValueId v = add_input(g, "v", shape(r, kS, kEv));
  ValueId m = kNoValue;
  if (sp.mask != Mask::kNone) {
    std::vector<int64_t> ms = r == 4 ? std::vector<int64_t>{kB, 1, kL, kS} : std::vector<int64_t>{1, kL, kS};
    m = add_input(g, "mask", ms);
  }
  ValueId bias = sp.position_bias ? add_input(g, "bias", {1, kH, kL, kS}) : kNoValue;
  const auto s_shape = shape(r, kL, kS);
  if (sp.scale == Scale::kOnQ) q = add_op(g, binary(BinaryFn::kMul), {q, scalar(g, "c", kC)}, shape(r, kL, kE));
  std::vector<int64_t> perm;
  for (int i = 0; i < r; ++i) perm.push_back(i);
  std::swap(perm[r - 1], perm[r - 2]);
  ValueId kt;
  if (sp.k_from_head_split) {
    kt = add_op(g, PermuteAttrs{.perm = {0, 2, 3, 1}}, {k}, shape(r, kE, kS));
  } else if (sp.permute_swaps_last_two) {
    kt = add_op(g, PermuteAttrs{.perm = perm}, {k}, shape(r, kE, kS));
  } else {
    // k^T arrives through a permute of the leading dims (rank 4 only): not the pattern.
    ValueId kk = add_input(g, "k_es", {kH, kB, kE, kS});
    kt = add_op(g, PermuteAttrs{.perm = {1, 0, 2, 3}}, {kk}, shape(r, kE, kS));
  }
  ValueId s = add_op(g, MatMulAttrs{}, {q, kt}, s_shape);
  ValueId extra_use = kNoValue;
  if (sp.scores_used_twice) extra_use = add_op(g, UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kExp)}, {s}, s_shape);
  switch (sp.scale) {
    case Scale::kMul: s = add_op(g, binary(BinaryFn::kMul), {s, scalar(g, "c", kC)}, s_shape); break;
    case Scale::kMulFirst: s = add_op(g, binary(BinaryFn::kMul), {scalar(g, "c", kC), s}, s_shape); break;
    case Scale::kDiv: s = add_op(g, binary(BinaryFn::kDiv), {s, scalar(g, "c", 1.f / kC)}, s_shape); break;
    default: break;
  }
  if (sp.mask == Mask::kAfter) s = add_op(g, binary(BinaryFn::kAdd), {s, m}, s_shape);
  if (sp.mask == Mask::kBefore) s = add_op(g, binary(BinaryFn::kAdd), {m, s}, s_shape);
  if (bias != kNoValue) s = add_op(g, binary(BinaryFn::kAdd), {s, bias}, s_shape);
  const int64_t dim = sp.softmax_dim < 0 ? r - 1 : sp.softmax_dim;
  ValueId p = add_op(g, SoftmaxAttrs{.dim = dim, .log = false}, {s}, s_shape);
  ValueId out =
      add_op(g, MatMulAttrs{}, {p, v}, DType::kFloat32, shape(r, kL, kEv), "matmul_1", "model.py:42");
  set_output(g, out);
  if (extra_use != kNoValue) set_output(g, extra_use);
  return g;
}

// float64 attention of the graph's inputs (as run() feeds them), for the spelling.
std::vector<float> reference(const Graph& g, const Spelling& sp) {
  auto in = random_input_bytes(g);
  auto q = floats_of(in[0]), k = floats_of(in[1]), v = floats_of(in[2]);
  std::vector<float> m;
  if (sp.mask != Mask::kNone) m = floats_of(in[3]);
  std::vector<float> bias;
  if (sp.position_bias) bias = floats_of(in[sp.mask != Mask::kNone ? 4 : 3]);
  const double scale = sp.scale == Scale::kNone ? 1.0 : double(kC);
  const int64_t heads = kB * kH;
  std::vector<float> out(static_cast<size_t>(heads * kL * kEv));
  for (int64_t bh = 0; bh < heads; ++bh) {
    const int64_t b = bh / kH;
    for (int64_t i = 0; i < kL; ++i) {
      std::vector<double> s(kS);
      double mx = -INFINITY;
      for (int64_t j = 0; j < kS; ++j) {
        double acc = 0;
        const int64_t h = bh % kH;
        for (int64_t e = 0; e < kE; ++e) {
          const int64_t ki = sp.k_from_head_split ? ((b * kS + j) * kH + h) * kE + e : (bh * kS + j) * kE + e;
          acc += double(q[(bh * kL + i) * kE + e]) * k[ki];
        }
        acc *= scale;
        if (!m.empty()) acc += sp.rank == 4 ? m[(b * kL + i) * kS + j] : m[i * kS + j];
        if (!bias.empty()) acc += bias[(h * kL + i) * kS + j];
        s[j] = acc;
        mx = std::max(mx, acc);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t e = 0; e < kEv; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < kS; ++j) acc += s[j] / sum * v[(bh * kS + j) * kEv + e];
        out[(bh * kL + i) * kEv + e] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

void expect_fused(const Spelling& sp) {
  Graph g = attention_graph(sp);
  auto before = run(g);
  ASSERT_EQ(before.size(), 1u);
  expect_close(before[0], reference(g, sp));
  EXPECT_TRUE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kAttention), 1u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kSoftmax), 0u);
  EXPECT_EQ(count_ops(g, OpKind::kMatMul), 0u);
  // Two masks are summed by one new add.
  EXPECT_EQ(count_ops(g, OpKind::kBinary), sp.position_bias ? 1u : 0u);
  // The head-split form keeps one permute making k [B, H, S, E] from the input.
  const size_t permutes = sp.k_from_head_split ? 1u : 0u;
  EXPECT_EQ(count_ops(g, OpKind::kPermute), permutes);
  const size_t extra = permutes + (sp.position_bias ? 1u : 0u);
  ASSERT_EQ(g.num_nodes(), 1u + extra) << print_graph(g);
  const Node& a = g.node(static_cast<NodeId>(extra));
  const auto& attrs = std::get<AttentionAttrs>(a.attrs);
  EXPECT_NEAR(attrs.scale, sp.scale == Scale::kNone ? 1.0 : kC, 1e-6);
  EXPECT_FALSE(attrs.is_causal);
  EXPECT_TRUE(attrs.dims.empty());
  EXPECT_TRUE(attrs.views.empty());
  ASSERT_EQ(a.inputs.size(), sp.mask == Mask::kNone ? 3u : 4u);
  EXPECT_EQ(a.inputs[0], g.inputs[0]);
  if (sp.k_from_head_split) {
    const Node& p = g.node(0);
    EXPECT_EQ(std::get<PermuteAttrs>(p.attrs).perm, (std::vector<int64_t>{0, 2, 1, 3}));
    EXPECT_EQ(p.inputs[0], g.inputs[1]);
    EXPECT_EQ(a.inputs[1], p.outputs[0]);
    EXPECT_EQ(g.value(a.inputs[1]).shape, (std::vector<int64_t>{kB, kH, kS, kE}));
  } else {
    EXPECT_EQ(a.inputs[1], g.inputs[1]);
  }
  EXPECT_EQ(a.inputs[2], g.inputs[2]);
  if (sp.position_bias) {
    const Node& sum = g.node(static_cast<NodeId>(extra - 1));
    EXPECT_EQ(a.inputs[3], sum.outputs[0]);
    EXPECT_EQ(g.value(sum.outputs[0]).shape, (std::vector<int64_t>{kB, kH, kL, kS}));
  } else if (sp.mask != Mask::kNone) {
    EXPECT_EQ(a.inputs[3], g.inputs[3]);
  }
  EXPECT_EQ(a.outputs[0], g.outputs[0]);
  EXPECT_EQ(a.source.location, "model.py:42");
  auto after = run(g);
  ASSERT_EQ(after.size(), 1u);
  expect_close(after[0], before[0]);
  expect_close(after[0], reference(g, sp));
}

TEST(FuseAttention, Gpt2StyleDivScaleAndMask) { expect_fused({.scale = Scale::kDiv, .mask = Mask::kAfter}); }
TEST(FuseAttention, T5StyleNoScaleMaskFirst) { expect_fused({.scale = Scale::kNone, .mask = Mask::kBefore}); }
TEST(FuseAttention, MulScale) { expect_fused({.scale = Scale::kMul, .mask = Mask::kNone}); }
TEST(FuseAttention, MulScaleConstantFirst) { expect_fused({.scale = Scale::kMulFirst, .mask = Mask::kAfter}); }
TEST(FuseAttention, ScaleOnQ) { expect_fused({.scale = Scale::kOnQ, .mask = Mask::kAfter}); }
TEST(FuseAttention, NoScaleNoMask) { expect_fused({.scale = Scale::kNone, .mask = Mask::kNone}); }
TEST(FuseAttention, KeyTransposeFoldedIntoHeadSplit) {
  expect_fused({.scale = Scale::kDiv, .mask = Mask::kAfter, .k_from_head_split = true});
}
TEST(FuseAttention, T5EagerMaskAndPositionBias) {
  expect_fused({.scale = Scale::kMul, .mask = Mask::kAfter, .position_bias = true});
}
TEST(FuseAttention, Rank3) { expect_fused({.scale = Scale::kDiv, .mask = Mask::kAfter, .rank = 3}); }
TEST(FuseAttention, Rank3ScaleOnQ) { expect_fused({.scale = Scale::kOnQ, .mask = Mask::kBefore, .rank = 3}); }

void expect_not_fused(const Spelling& sp) {
  Graph g = attention_graph(sp);
  auto before = run(g);
  EXPECT_FALSE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kAttention), 0u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kSoftmax), 1u);
  auto after = run(g);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) expect_close(after[i], before[i]);
}

TEST(FuseAttention, SoftmaxNotOnLastDimIsNotFused) { expect_not_fused({.softmax_dim = 2}); }
TEST(FuseAttention, ScoresUsedTwiceIsNotFused) { expect_not_fused({.scores_used_twice = true}); }
TEST(FuseAttention, PermuteNotSwappingLastTwoIsNotFused) { expect_not_fused({.permute_swaps_last_two = false}); }

TEST(FuseAttention, ProbabilitiesAsGraphOutputAreNotFused) {
  Graph g = attention_graph({});
  // The softmax output is also returned: it must stay materialized.
  for (const Node& n : g.nodes())
    if (n.kind() == OpKind::kSoftmax) set_output(g, n.outputs[0]);
  EXPECT_FALSE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kAttention), 0u);
}

TEST(FuseAttention, ScaleAfterMaskIsNotFused) {
  Graph g;
  ValueId q = add_input(g, "q", {kB, kL, kE});
  ValueId k = add_input(g, "k", {kB, kS, kE});
  ValueId v = add_input(g, "v", {kB, kS, kEv});
  ValueId m = add_input(g, "m", {kB, kL, kS});
  ValueId kt = add_op(g, PermuteAttrs{.perm = {0, 2, 1}}, {k}, {kB, kE, kS});
  ValueId s = add_op(g, MatMulAttrs{}, {q, kt}, {kB, kL, kS});
  // Scale applied after the mask: softmax((s + m) * c) is not attention's form.
  ValueId a = add_op(g, binary(BinaryFn::kAdd), {s, m}, {kB, kL, kS});
  ValueId c = add_op(g, binary(BinaryFn::kMul), {a, scalar(g, "c", kC)}, {kB, kL, kS});
  ValueId p = add_op(g, SoftmaxAttrs{.dim = 2}, {c}, {kB, kL, kS});
  set_output(g, add_op(g, MatMulAttrs{}, {p, v}, {kB, kL, kEv}));
  EXPECT_FALSE(fuse(g));
}

}  // namespace
}  // namespace ingot
