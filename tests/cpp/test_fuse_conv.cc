// Tests of the conv epilogue fusion pass (passes/fuse_conv.cc): after the pass
// the graph has the expected fused Conv (bias, residual input, activation
// attributes) and the CPU backend computes the same numbers as for the unfused
// graph, whose separate add and activation nodes run through other kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

std::vector<float> run(const Graph& g, uint32_t seed) {
  auto r = evaluate_graph(g, random_input_bytes(g, seed));
  EXPECT_TRUE(r.ok()) << r.status().to_string() << "\n" << print_graph(g);
  if (!r.ok()) return {};
  std::vector<float> out(r.value()[0].size() / sizeof(float));
  std::memcpy(out.data(), r.value()[0].data(), r.value()[0].size());
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  ASSERT_FALSE(want.empty());
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << "element " << i;
    err += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += double(want[i]) * want[i];
  }
  EXPECT_LE(std::sqrt(err), rel * std::sqrt(norm) + 1e-12);
}

const Node* only_conv(const Graph& g) {
  const Node* found = nullptr;
  for (const Node& n : g.nodes())
    if (n.kind() == OpKind::kConv) {
      if (found) return nullptr;
      found = &n;
    }
  return found;
}

// Runs fusion with the pipeline's cleanup, checks the graph, and compares numbers with the original.
void fuse_and_compare(Graph& g) {
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  const Graph original = g;
  const std::vector<float> want = run(original, 7);
  run_fuse_conv(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  run_canonicalize(g);
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  expect_close(run(g, 7), want);
}

OpAttrs conv2d(int64_t pad = 1) {
  ConvAttrs c;
  c.stride = {1, 1};
  c.padding = {pad, pad};
  c.dilation = {1, 1};
  return c;
}
OpAttrs add() { return BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}; }
OpAttrs unary(UnaryFn fn, double alpha = 0, double beta = 0) {
  return UnaryAttrs{.fn = static_cast<int64_t>(fn), .alpha = alpha, .beta = beta};
}

TEST(FuseConv, BiasConstantResidualAndRelu) {
  for (bool residual_first : {false, true}) {
    Graph g;
    ValueId x = add_input(g, "x", {2, 3, 6, 6});
    ValueId r = add_input(g, "r", {2, 4, 6, 6});
    ValueId w = add_constant(g, "w", {4, 3, 3, 3}, 1);
    ValueId b = add_constant(g, "b", {4, 1, 1}, 2);
    ValueId y = add_op(g, conv2d(), {x, w}, {2, 4, 6, 6});
    ValueId yb = add_op(g, add(), {y, b}, {2, 4, 6, 6});
    ValueId ys = add_op(g, add(), residual_first ? std::vector<ValueId>{r, yb} : std::vector<ValueId>{yb, r},
                        {2, 4, 6, 6});
    set_output(g, add_op(g, unary(UnaryFn::kRelu), {ys}, {2, 4, 6, 6}));
    fuse_and_compare(g);
    ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
    const Node& conv = g.node(0);
    ASSERT_EQ(conv.kind(), OpKind::kConv);
    ASSERT_EQ(conv.inputs.size(), 4u);
    EXPECT_EQ(g.value(conv.inputs[2]).shape, (std::vector<int64_t>{4}));
    EXPECT_EQ(conv.inputs[3], g.inputs[1]);
    EXPECT_EQ(std::get<ConvAttrs>(conv.attrs).activation, static_cast<int64_t>(UnaryFn::kRelu));
    EXPECT_EQ(conv.outputs[0], g.outputs[0]);
  }
}

TEST(FuseConv, EveryActivation) {
  const std::pair<UnaryFn, std::pair<double, double>> cases[] = {
      {UnaryFn::kRelu, {0, 0}},        {UnaryFn::kClamp, {0, 6}},     {UnaryFn::kSilu, {0, 0}},
      {UnaryFn::kSigmoid, {0, 0}},     {UnaryFn::kHardSwish, {0, 0}}, {UnaryFn::kHardSigmoid, {0, 0}},
      {UnaryFn::kGelu, {0, 0}},        {UnaryFn::kGeluTanh, {0, 0}},  {UnaryFn::kLeakyRelu, {0.1, 0}},
      {UnaryFn::kTanh, {0, 0}}};
  for (const auto& [fn, ab] : cases) {
    SCOPED_TRACE(unary_fn_name(fn));
    Graph g;
    ValueId x = add_input(g, "x", {1, 4, 5, 5});
    ValueId w = add_constant(g, "w", {6, 4, 3, 3}, 3);
    ValueId b = add_constant(g, "b", {6}, 4);
    ValueId y = add_op(g, conv2d(), {x, w, b}, {1, 6, 5, 5});
    set_output(g, add_op(g, unary(fn, ab.first, ab.second), {y}, {1, 6, 5, 5}));
    fuse_and_compare(g);
    const Node* conv = only_conv(g);
    ASSERT_NE(conv, nullptr);
    ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
    const auto& c = std::get<ConvAttrs>(conv->attrs);
    EXPECT_EQ(c.activation, static_cast<int64_t>(fn));
    EXPECT_EQ(c.activation_alpha, ab.first);
    EXPECT_EQ(c.activation_beta, ab.second);
  }
}

TEST(FuseConv, ExistingBiasPlusConstantIsSummed) {
  Graph g;
  ValueId x = add_input(g, "x", {1, 2, 4, 4});
  ValueId w = add_constant(g, "w", {3, 2, 1, 1}, 5);
  ValueId b = add_constant(g, "b", {3}, 6);
  ValueId c = add_constant(g, "c", {1, 3, 1, 1}, 7);
  ValueId y = add_op(g, conv2d(0), {x, w, b}, {1, 3, 4, 4});
  set_output(g, add_op(g, add(), {c, y}, {1, 3, 4, 4}));
  fuse_and_compare(g);
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  EXPECT_EQ(g.value(g.node(0).inputs[2]).shape, (std::vector<int64_t>{3}));
}

TEST(FuseConv, TransposedAndOneDimensional) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 4, 7});
  ValueId w = add_constant(g, "w", {4, 3, 3}, 8);  // transposed: [Cin, Cout/g, k]
  ValueId b = add_constant(g, "b", {3, 1}, 9);
  ConvAttrs c;
  c.transposed = true;
  c.stride = {2};
  c.padding = {1};
  c.dilation = {1};
  c.output_padding = {1};
  ValueId y = add_op(g, c, {x, w}, {2, 3, 14});
  ValueId yb = add_op(g, add(), {y, b}, {2, 3, 14});
  set_output(g, add_op(g, unary(UnaryFn::kSilu), {yb}, {2, 3, 14}));
  fuse_and_compare(g);
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  EXPECT_EQ(std::get<ConvAttrs>(g.node(0).attrs).activation, static_cast<int64_t>(UnaryFn::kSilu));
}

TEST(FuseConv, ActivationBeforeAddStopsTheChain) {
  Graph g;
  ValueId x = add_input(g, "x", {1, 3, 5, 5});
  ValueId r = add_input(g, "r", {1, 3, 5, 5});
  ValueId w = add_constant(g, "w", {3, 3, 3, 3}, 10);
  ValueId y = add_op(g, conv2d(), {x, w}, {1, 3, 5, 5});
  ValueId a = add_op(g, unary(UnaryFn::kRelu), {y}, {1, 3, 5, 5});
  set_output(g, add_op(g, add(), {a, r}, {1, 3, 5, 5}));
  fuse_and_compare(g);
  EXPECT_EQ(g.num_nodes(), 2u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kBinary), 1u);
  const Node* conv = only_conv(g);
  ASSERT_NE(conv, nullptr);
  EXPECT_TRUE(conv->inputs.size() < 4 || conv->inputs[3] == kNoValue);
}

TEST(FuseConv, ConvOutputWithAnotherUseIsNotFused) {
  Graph g;
  ValueId x = add_input(g, "x", {1, 3, 5, 5});
  ValueId r = add_input(g, "r", {1, 3, 5, 5});
  ValueId w = add_constant(g, "w", {3, 3, 3, 3}, 11);
  ValueId y = add_op(g, conv2d(), {x, w}, {1, 3, 5, 5});
  ValueId s = add_op(g, add(), {y, r}, {1, 3, 5, 5});
  set_output(g, add_op(g, unary(UnaryFn::kRelu), {s}, {1, 3, 5, 5}));
  set_output(g, y);  // y is read twice
  EXPECT_FALSE(run_fuse_conv(g));
  EXPECT_EQ(g.num_nodes(), 3u);
}

TEST(FuseConv, BroadcastingAddIsNotAResidual) {
  Graph g;
  ValueId x = add_input(g, "x", {1, 3, 5, 5});
  ValueId r = add_input(g, "r", {2, 3, 5, 5});  // grows the batch: not y's shape
  ValueId w = add_constant(g, "w", {3, 3, 3, 3}, 12);
  ValueId y = add_op(g, conv2d(), {x, w}, {1, 3, 5, 5});
  set_output(g, add_op(g, add(), {y, r}, {2, 3, 5, 5}));
  EXPECT_FALSE(run_fuse_conv(g));
}

TEST(FuseConv, ResidualBlockChain) {
  // relu(conv2(relu(conv1(x))) + x): both convs fuse, the second with x as residual.
  Graph g;
  ValueId x = add_input(g, "x", {2, 4, 6, 6});
  ValueId w1 = add_constant(g, "w1", {4, 4, 3, 3}, 13), b1 = add_constant(g, "b1", {4}, 14);
  ValueId w2 = add_constant(g, "w2", {4, 4, 3, 3}, 15), b2 = add_constant(g, "b2", {4}, 16);
  ValueId y1 = add_op(g, conv2d(), {x, w1, b1}, {2, 4, 6, 6});
  ValueId a1 = add_op(g, unary(UnaryFn::kRelu), {y1}, {2, 4, 6, 6});
  ValueId y2 = add_op(g, conv2d(), {a1, w2, b2}, {2, 4, 6, 6});
  ValueId s = add_op(g, add(), {y2, x}, {2, 4, 6, 6});
  set_output(g, add_op(g, unary(UnaryFn::kRelu), {s}, {2, 4, 6, 6}));
  fuse_and_compare(g);
  ASSERT_EQ(g.num_nodes(), 2u) << print_graph(g);
  EXPECT_EQ(g.node(1).inputs.size(), 4u);
  EXPECT_EQ(g.node(1).inputs[3], g.inputs[0]);
  EXPECT_FALSE(run_fuse_conv(g));  // nothing left to fuse
}

}  // namespace
}  // namespace ingot
