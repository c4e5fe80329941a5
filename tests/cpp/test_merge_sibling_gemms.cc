// Tests of the sibling GEMM merge (src/passes/merge_sibling_gemms.cc) on small
// hand-built graphs shaped like attention's q/k/v projections: the IR gets one
// Gemm over the concatenated weights and a Slice per old output (same value ids),
// the graph still verifies, and it computes the same numbers as before on the CPU
// backend (the unmerged graph is the reference: each Gemm there is the CPU kernel
// on the original weights, which is itself tested against PyTorch). Cases the pass
// must leave alone are checked too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "pass_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

struct Options {
  bool trans_b = true;
  bool bias = true;
  int count = 3;
};

// x [2,5,8] -> count Gemms with weights [6,8] (trans_b) or [8,N] and bias [N];
// N differs per Gemm (6, 4, 6, ...) so slice offsets are not all multiples of one
// width. Every output is a graph output.
Graph sibling_graph(const Options& o, std::vector<ValueId>* outs = nullptr) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  const int64_t widths[] = {6, 4, 6, 5};
  for (int i = 0; i < o.count; ++i) {
    const int64_t n = widths[i];
    std::vector<int64_t> wshape = o.trans_b ? std::vector<int64_t>{n, 8} : std::vector<int64_t>{8, n};
    ValueId w = add_constant(g, "w" + std::to_string(i), wshape, 10 + i);
    std::vector<ValueId> in = {x, w};
    if (o.bias) in.push_back(add_constant(g, "b" + std::to_string(i), {n}, 20 + i));
    ValueId y = add_op(g, GemmAttrs{.trans_b = o.trans_b}, in, DType::kFloat32, {2, 5, n},
                       "proj_" + std::to_string(i), "model.py:" + std::to_string(40 + i));
    set_output(g, y);
    if (outs) outs->push_back(y);
  }
  return g;
}

// Element-wise |got - want| <= rel * max|want| (NaN fails).
void expect_close(const std::vector<std::vector<float>>& got, const std::vector<std::vector<float>>& want,
                  double rel = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    ASSERT_EQ(got[o].size(), want[o].size());
    ASSERT_FALSE(want[o].empty());
    double scale = 0;
    for (float w : want[o]) scale = std::max(scale, std::fabs(double(w)));
    for (size_t i = 0; i < got[o].size(); ++i) {
      ASSERT_FALSE(std::isnan(got[o][i])) << "output " << o << " element " << i;
      ASSERT_LE(std::fabs(double(got[o][i]) - want[o][i]), rel * scale) << "output " << o << " element " << i;
    }
  }
}

bool merge(Graph& g) {
  const bool changed = run_merge_sibling_gemms(g, /*attention_operands_only=*/false);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  return changed;
}

TEST(MergeSiblingGemms, BertLikeQkvBecomesOneGemmAndSlices) {
  std::vector<ValueId> outs;
  Graph g = sibling_graph({}, &outs);
  const ValueId x = g.inputs[0];
  ASSERT_TRUE(merge(g));
  ASSERT_EQ(count_ops(g, OpKind::kGemm), 1u) << print_graph(g);
  ASSERT_EQ(count_ops(g, OpKind::kSlice), 3u) << print_graph(g);
  ASSERT_EQ(g.num_nodes(), 4u);

  const Node& gemm = g.node(0);
  ASSERT_EQ(gemm.kind(), OpKind::kGemm);
  EXPECT_TRUE(std::get<GemmAttrs>(gemm.attrs).trans_b);
  EXPECT_EQ(gemm.source.node_name, "proj_0");
  ASSERT_EQ(gemm.inputs.size(), 3u);
  EXPECT_EQ(gemm.inputs[0], x);
  const Value& w = g.value(gemm.inputs[1]);
  ASSERT_TRUE(w.is_constant());
  EXPECT_EQ(w.shape, (std::vector<int64_t>{16, 8}));
  const Value& b = g.value(gemm.inputs[2]);
  ASSERT_TRUE(b.is_constant());
  EXPECT_EQ(b.shape, (std::vector<int64_t>{16}));
  const Value& merged = g.value(gemm.outputs[0]);
  EXPECT_EQ(merged.shape, (std::vector<int64_t>{2, 5, 16}));
  EXPECT_EQ(merged.name, "proj_0_merged");

  // Weight rows are the three weights one after another (exact bytes).
  std::vector<float> want_w;
  for (int i = 0; i < 3; ++i) {
    const int64_t n = i == 1 ? 4 : 6;
    std::vector<float> part = random_floats(static_cast<size_t>(n * 8), 10 + i);
    want_w.insert(want_w.end(), part.begin(), part.end());
  }
  ASSERT_EQ(w.constant->size(), want_w.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(w.constant->data(), want_w.data(), w.constant->size()), 0);

  const int64_t starts[] = {0, 6, 10}, ends[] = {6, 10, 16};
  for (size_t i = 0; i < 3; ++i) {
    const Node& s = g.node(static_cast<NodeId>(i + 1));
    ASSERT_EQ(s.kind(), OpKind::kSlice);
    EXPECT_EQ(s.inputs, std::vector<ValueId>{gemm.outputs[0]});
    EXPECT_EQ(s.outputs, std::vector<ValueId>{outs[i]});  // same value: consumers untouched
    EXPECT_EQ(s.source.node_name, "proj_" + std::to_string(i));
    const auto& a = std::get<SliceAttrs>(s.attrs);
    EXPECT_EQ(a.dim, 2);
    EXPECT_EQ(a.start, starts[i]);
    EXPECT_EQ(a.end, ends[i]);
    EXPECT_EQ(a.step, 1);
    EXPECT_EQ(g.value(outs[i]).shape, (std::vector<int64_t>{2, 5, ends[i] - starts[i]}));
  }
  EXPECT_EQ(g.outputs, outs);

  // A second run has nothing left to merge; DCE keeps the graph valid.
  EXPECT_FALSE(run_merge_sibling_gemms(g, /*attention_operands_only=*/false));
  run_dce(g);
  EXPECT_TRUE(verify_graph(g).ok()) << print_graph(g);
}

TEST(MergeSiblingGemms, SameNumbersEachLayout) {
  for (bool trans_b : {true, false}) {
    for (bool bias : {true, false}) {
      for (int count : {2, 3, 4}) {
        SCOPED_TRACE(std::string(trans_b ? "trans_b" : "no trans_b") + (bias ? " bias " : " no bias ") +
                     std::to_string(count));
        Graph g = sibling_graph({.trans_b = trans_b, .bias = bias, .count = count});
        const auto before = run(g);
        ASSERT_TRUE(merge(g));
        EXPECT_EQ(count_ops(g, OpKind::kGemm), 1u);
        EXPECT_EQ(count_ops(g, OpKind::kSlice), static_cast<size_t>(count));
        expect_close(run(g), before);
        run_dce(g);
        ASSERT_TRUE(verify_graph(g).ok());
        expect_close(run(g), before);
      }
    }
  }
}

// Siblings interleaved with other work and consumers between them: the merged
// Gemm sits where the first one was and every consumer still sees its value.
TEST(MergeSiblingGemms, InterleavedConsumersKeepOrder) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  ValueId h = add_op(g, UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kTanh)}, {x}, {2, 5, 8});
  ValueId q = add_op(g, GemmAttrs{.trans_b = true}, {h, add_constant(g, "wq", {6, 8}, 1), add_constant(g, "bq", {6}, 2)},
                     {2, 5, 6});
  ValueId q2 = add_op(g, UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kRelu)}, {q}, {2, 5, 6});
  ValueId k = add_op(g, GemmAttrs{.trans_b = true}, {h, add_constant(g, "wk", {6, 8}, 3), add_constant(g, "bk", {6}, 4)},
                     {2, 5, 6});
  ValueId s = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}, {q2, k}, {2, 5, 6});
  set_output(g, s);
  const auto before = run(g);
  ASSERT_TRUE(merge(g));
  EXPECT_EQ(count_ops(g, OpKind::kGemm), 1u);
  EXPECT_EQ(g.node(1).kind(), OpKind::kGemm);  // after the tanh, before the first slice
  EXPECT_EQ(g.node(2).kind(), OpKind::kSlice);
  expect_close(run(g), before);
}

// Lowered to float16 first (the pass runs after precision lowering): the 16-bit
// constants are concatenated bytewise and the numbers are unchanged.
TEST(MergeSiblingGemms, Float16Constants) {
  for (bool trans_b : {true, false}) {
    SCOPED_TRACE(trans_b ? "trans_b" : "no trans_b");
    Graph g = sibling_graph({.trans_b = trans_b, .bias = true, .count = 3});
    ASSERT_TRUE(run_lower_precision(g, DType::kFloat16));
    run_canonicalize(g);
    run_dce(g);
    ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
    ASSERT_EQ(count_ops(g, OpKind::kGemm), 3u) << print_graph(g);
    const auto before = run(g);
    ASSERT_TRUE(merge(g)) << print_graph(g);
    ASSERT_EQ(count_ops(g, OpKind::kGemm), 1u) << print_graph(g);
    for (const Node& n : g.nodes())
      if (n.kind() == OpKind::kGemm) {
        EXPECT_EQ(g.value(n.inputs[1]).dtype, DType::kFloat16);
        EXPECT_EQ(g.value(n.inputs[2]).dtype, DType::kFloat16);
        EXPECT_EQ(g.value(n.outputs[0]).dtype, DType::kFloat16);
      }
    expect_close(run(g), before, 1e-3);  // one fp16 rounding of possibly differently ordered sums
  }
}

void expect_unchanged(Graph& g) {
  const std::string before = print_graph(g);
  EXPECT_FALSE(run_merge_sibling_gemms(g, /*attention_operands_only=*/false));
  EXPECT_EQ(print_graph(g), before);
}

TEST(MergeSiblingGemms, DifferentInputsAreLeftAlone) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  ValueId y = add_input(g, "y", {2, 5, 8});
  set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {x, add_constant(g, "w0", {6, 8}, 1)}, {2, 5, 6}));
  set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {y, add_constant(g, "w1", {6, 8}, 2)}, {2, 5, 6}));
  expect_unchanged(g);
}

TEST(MergeSiblingGemms, NonConstantWeightIsLeftAlone) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  ValueId w = add_input(g, "w", {6, 8});
  set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {x, add_constant(g, "w0", {6, 8}, 1)}, {2, 5, 6}));
  set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {x, w}, {2, 5, 6}));
  expect_unchanged(g);
}

TEST(MergeSiblingGemms, DifferentActivationIsLeftAlone) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {x, add_constant(g, "w0", {6, 8}, 1)}, {2, 5, 6}));
  set_output(g, add_op(g, GemmAttrs{.trans_b = true, .activation = static_cast<int64_t>(UnaryFn::kRelu)},
                       {x, add_constant(g, "w1", {6, 8}, 2)}, {2, 5, 6}));
  expect_unchanged(g);
  // Both with the same activation: still not merged (only plain Gemms are).
  Graph h;
  x = add_input(h, "x", {2, 5, 8});
  for (int i = 0; i < 2; ++i)
    set_output(h, add_op(h, GemmAttrs{.trans_b = true, .activation = static_cast<int64_t>(UnaryFn::kRelu)},
                         {x, add_constant(h, "w" + std::to_string(i), {6, 8}, i + 1)}, {2, 5, 6}));
  expect_unchanged(h);
}

TEST(MergeSiblingGemms, ResidualInputIsLeftAlone) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  ValueId r = add_input(g, "r", {2, 5, 6});
  set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {x, add_constant(g, "w0", {6, 8}, 1)}, {2, 5, 6}));
  set_output(g, add_op(g, GemmAttrs{.trans_b = true},
                       {x, add_constant(g, "w1", {6, 8}, 2), add_constant(g, "b1", {6}, 3), r}, {2, 5, 6}));
  expect_unchanged(g);
}

TEST(MergeSiblingGemms, MixedBiasAttrsOrConstantInputAreLeftAlone) {
  {  // one with bias, one without
    Graph g;
    ValueId x = add_input(g, "x", {2, 5, 8});
    set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {x, add_constant(g, "w0", {6, 8}, 1)}, {2, 5, 6}));
    set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {x, add_constant(g, "w1", {6, 8}, 2), add_constant(g, "b", {6}, 3)},
                         {2, 5, 6}));
    expect_unchanged(g);
  }
  {  // different alpha
    Graph g;
    ValueId x = add_input(g, "x", {2, 5, 8});
    set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {x, add_constant(g, "w0", {6, 8}, 1)}, {2, 5, 6}));
    set_output(g, add_op(g, GemmAttrs{.trans_b = true, .alpha = 0.5}, {x, add_constant(g, "w1", {6, 8}, 2)}, {2, 5, 6}));
    expect_unchanged(g);
  }
  {  // the shared input is a constant (constant folding's business)
    Graph g;
    ValueId c = add_constant(g, "c", {5, 8}, 9);
    set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {c, add_constant(g, "w0", {6, 8}, 1)}, {5, 6}));
    set_output(g, add_op(g, GemmAttrs{.trans_b = true}, {c, add_constant(g, "w1", {6, 8}, 2)}, {5, 6}));
    expect_unchanged(g);
  }
  {  // a lone Gemm
    Graph g = sibling_graph({.count = 1});
    expect_unchanged(g);
  }
}

}  // namespace
}  // namespace ingot
