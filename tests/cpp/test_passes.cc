// Tests of the optimization passes on small hand-built graphs: after each pass
// the IR has the expected shape, and the numbers are unchanged (the graph is run
// on the CPU backend before and after) or equal exact hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
std::vector<float> as_floats(const std::vector<uint8_t>& b) {
  std::vector<float> v(b.size() / sizeof(float));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  return v;
}
std::vector<float> constant_floats(const Value& v) { return as_floats(*v.constant); }

OpAttrs unary(UnaryFn fn) { return UnaryAttrs{.fn = static_cast<int64_t>(fn)}; }
OpAttrs binary(BinaryFn fn) { return BinaryAttrs{.fn = static_cast<int64_t>(fn)}; }

std::vector<float> run_f32(const Graph& g, const std::vector<std::vector<float>>& inputs, size_t output = 0) {
  std::vector<std::vector<uint8_t>> in;
  for (const auto& v : inputs) in.push_back(f32_bytes(v));
  auto r = evaluate_graph(g, in);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return {};
  return as_floats(r.value().at(output));
}

// Compares element by element; NaN never passes.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  double norm = 0;
  for (float w : want) norm += double(w) * w;
  norm = std::sqrt(norm) + 1e-30;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << "element " << i;
    EXPECT_LE(std::abs(double(got[i]) - want[i]), rel * norm) << "element " << i << ": " << got[i] << " vs " << want[i];
  }
}

TEST(Canonicalize, DropsIdentityReshapeAndCast) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3});
  ValueId r = add_op(g, ReshapeAttrs{.shape = {2, 3}}, {x}, DType::kFloat32, {2, 3});
  ValueId a = add_op(g, unary(UnaryFn::kRelu), {r}, DType::kFloat32, {2, 3});
  ValueId c = add_op(g, CastAttrs{}, {a}, DType::kFloat32, {2, 3});
  g.outputs = {c};
  std::vector<float> in = {-1, 2, -3, 4, -5, 6};
  std::vector<float> before = run_f32(g, {in});

  EXPECT_TRUE(run_canonicalize(g));
  ASSERT_TRUE(verify_graph(g).ok());
  EXPECT_TRUE(run_dce(g));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  EXPECT_EQ(g.node(0).kind(), OpKind::kUnary);
  EXPECT_EQ(g.node(0).inputs[0], g.inputs[0]);
  EXPECT_EQ(g.outputs[0], g.node(0).outputs[0]);
  // Nothing left to do: a second run reports no change.
  EXPECT_FALSE(run_canonicalize(g));

  std::vector<float> after = run_f32(g, {in});
  EXPECT_EQ(before, (std::vector<float>{0, 2, 0, 4, 0, 6}));
  EXPECT_EQ(after, before);
}

TEST(Canonicalize, KeepsRealCastAndReshape) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3});
  ValueId r = add_op(g, ReshapeAttrs{.shape = {3, 2}}, {x}, DType::kFloat32, {3, 2});
  ValueId c = add_op(g, CastAttrs{}, {r}, DType::kInt32, {3, 2});
  g.outputs = {c};
  EXPECT_FALSE(run_canonicalize(g));
  EXPECT_EQ(g.num_nodes(), 2u);
}

TEST(Canonicalize, FoldsReshapeChain) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3});
  ValueId r1 = add_op(g, ReshapeAttrs{.shape = {3, 2}}, {x}, DType::kFloat32, {3, 2});
  ValueId r2 = add_op(g, ReshapeAttrs{.shape = {6}}, {r1}, DType::kFloat32, {6});
  ValueId e = add_op(g, unary(UnaryFn::kNeg), {r2}, DType::kFloat32, {6});
  g.outputs = {e};
  std::vector<float> in = {1, 2, 3, 4, 5, 6};
  std::vector<float> before = run_f32(g, {in});
  EXPECT_TRUE(run_canonicalize(g));
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  ASSERT_EQ(count_ops(g, OpKind::kReshape), 1u) << print_graph(g);
  EXPECT_EQ(std::get<ReshapeAttrs>(g.node(0).attrs).shape, (IntList{6}));
  EXPECT_EQ(g.node(0).inputs[0], g.inputs[0]);
  EXPECT_EQ(run_f32(g, {in}), before);
  EXPECT_EQ(before, (std::vector<float>{-1, -2, -3, -4, -5, -6}));
}

TEST(Canonicalize, ComposesPermutesAndDropsIdentity) {
  // permute [1,2,0] then [2,0,1] is the identity: the output becomes the input
  // itself, which the planner later copies into the output buffer.
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3, 4});
  ValueId p1 = add_op(g, PermuteAttrs{.perm = {1, 2, 0}}, {x}, DType::kFloat32, {3, 4, 2});
  ValueId p2 = add_op(g, PermuteAttrs{.perm = {2, 0, 1}}, {p1}, DType::kFloat32, {2, 3, 4});
  g.outputs = {p2};
  EXPECT_TRUE(run_canonicalize(g));
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  EXPECT_EQ(g.num_nodes(), 0u) << print_graph(g);
  EXPECT_EQ(g.outputs[0], g.inputs[0]);
}

TEST(Canonicalize, ComposesNonIdentityPermutes) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3, 4});
  ValueId p1 = add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {x}, DType::kFloat32, {3, 2, 4});
  ValueId p2 = add_op(g, PermuteAttrs{.perm = {0, 2, 1}}, {p1}, DType::kFloat32, {3, 4, 2});
  g.outputs = {p2};
  std::vector<float> in(24);
  for (size_t i = 0; i < in.size(); ++i) in[i] = float(i);
  std::vector<float> before = run_f32(g, {in});
  EXPECT_TRUE(run_canonicalize(g));
  run_dce(g);
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  // out[k] = x.shape[perm[k]]: [3,4,2] from [2,3,4] is perm [1,2,0].
  EXPECT_EQ(std::get<PermuteAttrs>(g.node(0).attrs).perm, (IntList{1, 2, 0}));
  EXPECT_EQ(run_f32(g, {in}), before);
  // Hand check: out[a][b][c] = x[c][a][b]; out[1][2][1] = x[1][1][2] = 12 + 4 + 2.
  EXPECT_EQ(before[1 * 8 + 2 * 2 + 1], 18.0f);
}

TEST(ConstantFold, FoldsConstantArithmetic) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {3});
  ValueId a = add_f32_constant(g, "a", {3}, {1, 2, 3});
  ValueId b = add_f32_constant(g, "b", {3}, {10, 20, 30});
  ValueId s = add_op(g, binary(BinaryFn::kAdd), {a, b}, DType::kFloat32, {3});
  ValueId t = add_op(g, ReshapeAttrs{.shape = {1, 3}}, {s}, DType::kFloat32, {1, 3});
  ValueId t2 = add_op(g, ReshapeAttrs{.shape = {3}}, {t}, DType::kFloat32, {3});
  ValueId m = add_op(g, binary(BinaryFn::kMul), {x, t2}, DType::kFloat32, {3});
  g.outputs = {m};
  EXPECT_TRUE(run_constant_fold(g));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  ValueId folded = g.node(0).inputs[1];
  ASSERT_TRUE(g.value(folded).is_constant());
  EXPECT_EQ(constant_floats(g.value(folded)), (std::vector<float>{11, 22, 33}));
  EXPECT_EQ(run_f32(g, {{1, -1, 2}}), (std::vector<float>{11, -22, 66}));
  // Unused constants go away in DCE.
  EXPECT_TRUE(run_dce(g));
  ASSERT_TRUE(verify_graph(g).ok());
  size_t constants = 0;
  for (const Value& v : g.values()) constants += v.is_constant();
  EXPECT_EQ(constants, 1u) << print_graph(g);
}

TEST(ConstantFold, RespectsSizeCap) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {4, 4});
  ValueId one = add_f32_constant(g, "one", {1, 1}, {1});
  ValueId big = add_op(g, ExpandAttrs{.shape = {4, 4}}, {one}, DType::kFloat32, {4, 4});
  ValueId y = add_op(g, binary(BinaryFn::kAdd), {x, big}, DType::kFloat32, {4, 4});
  g.outputs = {y};
  EXPECT_FALSE(run_constant_fold(g, /*max_output_bytes=*/32));
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_TRUE(run_constant_fold(g, 64));
  EXPECT_EQ(g.num_nodes(), 1u);
  // Folded, and then read in its small form: x spans both dims of the add.
  EXPECT_EQ(g.value(g.node(0).inputs[1]).shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(constant_floats(g.value(g.node(0).inputs[1])), std::vector<float>(1, 1.0f));
}

// x [2, 3, 4] + c, with c [2, 3, 4] a constant that repeats along dims 0 and 2 (not
// 1): the add reads c as [1, 3, 1], with the same numbers.
TEST(ConstantFold, BroadcastOpsReadRepeatingConstantsSmall) {
  std::vector<float> c(24);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int d = 0; d < 4; ++d) c[static_cast<size_t>((a * 3 + b) * 4 + d)] = 0.5f + b;
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3, 4});
  ValueId k = add_f32_constant(g, "c", {2, 3, 4}, c);
  g.outputs = {add_op(g, binary(BinaryFn::kAdd), {x, k}, DType::kFloat32, {2, 3, 4})};
  std::vector<float> in(24);
  for (size_t i = 0; i < in.size(); ++i) in[i] = 0.25f * static_cast<float>(i) - 3.f;
  const std::vector<float> before = run_f32(g, {in});
  EXPECT_TRUE(run_constant_fold(g));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  const Value& small = g.value(g.node(0).inputs[1]);
  EXPECT_EQ(small.shape, (std::vector<int64_t>{1, 3, 1}));
  EXPECT_EQ(constant_floats(small), (std::vector<float>{0.5f, 1.5f, 2.5f}));
  EXPECT_EQ(run_f32(g, {in}), before);
  EXPECT_FALSE(run_constant_fold(g));  // a fixed point
}

// Two constants that each span the other's dims (too big to fold here): only one
// may shrink, or the add's inputs would no longer give its [2, 3] result. The
// same for a constant read twice (a * a). A bool condition of a where shrinks too.
TEST(ConstantFold, ShrinksOnlyWhatTheOtherInputsStillSpan) {
  Graph g;
  ValueId a = add_f32_constant(g, "a", {2, 3}, {1, 2, 3, 1, 2, 3});
  ValueId b = add_f32_constant(g, "b", {2, 3}, {4, 5, 6, 4, 5, 6});
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3});
  auto cond_bytes = std::make_shared<std::vector<uint8_t>>(std::vector<uint8_t>{1, 0, 1, 1, 0, 1});
  ValueId cond = g.add_constant("cond", DType::kBool, {2, 3}, cond_bytes);
  ValueId sum = add_op(g, binary(BinaryFn::kAdd), {a, b}, DType::kFloat32, {2, 3});
  ValueId square = add_op(g, binary(BinaryFn::kMul), {a, a}, DType::kFloat32, {2, 3});
  ValueId picked = add_op(g, WhereAttrs{}, {cond, x, add_f32_constant(g, "zero", {}, {0})}, DType::kFloat32, {2, 3});
  g.outputs = {sum, square, picked};
  const std::vector<float> in = {0.5f, -1.f, 2.f, 3.f, -4.f, 6.f};
  const std::vector<float> want_sum = run_f32(g, {in}, 0), want_square = run_f32(g, {in}, 1),
                           want_picked = run_f32(g, {in}, 2);
  EXPECT_TRUE(run_constant_fold(g, /*max_output_bytes=*/0));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  for (size_t n = 0; n < 2; ++n) {
    const auto& ins = g.node(static_cast<NodeId>(n)).inputs;
    const size_t wide = (g.value(ins[0]).shape[0] == 2) + (g.value(ins[1]).shape[0] == 2);
    EXPECT_EQ(wide, 1u) << "node " << n << "\n" << print_graph(g);
  }
  EXPECT_EQ(g.value(g.node(2).inputs[0]).shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(run_f32(g, {in}, 0), want_sum);
  EXPECT_EQ(run_f32(g, {in}, 1), want_square);
  EXPECT_EQ(run_f32(g, {in}, 2), want_picked);
}

// Dims only the constant spans stay (the result would shrink), and a constant that
// does not repeat stays whole.
TEST(ConstantFold, KeepsConstantsOtherwise) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {1, 3});
  ValueId repeating = add_f32_constant(g, "r", {2, 3}, {1, 2, 3, 1, 2, 3});
  ValueId y = add_input(g, "y", DType::kFloat32, {2, 3});
  ValueId varying = add_f32_constant(g, "v", {2, 3}, {1, 2, 3, 4, 5, 6});
  g.outputs = {add_op(g, binary(BinaryFn::kMul), {x, repeating}, DType::kFloat32, {2, 3}),
               add_op(g, binary(BinaryFn::kMul), {y, varying}, DType::kFloat32, {2, 3})};
  EXPECT_FALSE(run_constant_fold(g)) << print_graph(g);
  EXPECT_EQ(g.value(g.node(0).inputs[1]).shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(g.value(g.node(1).inputs[1]).shape, (std::vector<int64_t>{2, 3}));
}

TEST(ConstantFold, FoldedGraphOutputBecomesConstant) {
  Graph g;
  add_input(g, "x", DType::kFloat32, {2});
  ValueId a = add_f32_constant(g, "a", {2}, {-4, 9});
  ValueId r = add_op(g, unary(UnaryFn::kAbs), {a}, DType::kFloat32, {2});
  g.outputs = {r};
  EXPECT_TRUE(run_constant_fold(g));
  ASSERT_TRUE(verify_graph(g).ok());
  EXPECT_EQ(g.num_nodes(), 0u);
  EXPECT_EQ(constant_floats(g.value(g.outputs[0])), (std::vector<float>{4, 9}));
}

// conv (1 -> 2 channels, 1x1 kernel) followed by BatchNorm, folded into the conv.
Graph conv_bn_graph(bool with_conv_bias) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {1, 1, 2, 2});
  ValueId w = add_f32_constant(g, "w", {2, 1, 1, 1}, {2.0f, -0.5f});
  ValueId b = with_conv_bias ? add_f32_constant(g, "b", {2}, {1.0f, 3.0f}) : kNoValue;
  ConvAttrs conv;
  conv.stride = {1, 1};
  conv.padding = {0, 0};
  conv.dilation = {1, 1};
  ValueId c = add_op(g, conv, {x, w, b}, DType::kFloat32, {1, 2, 2, 2});
  ValueId gamma = add_f32_constant(g, "gamma", {2}, {1.5f, 0.25f});
  ValueId beta = add_f32_constant(g, "beta", {2}, {0.1f, -0.2f});
  ValueId mean = add_f32_constant(g, "mean", {2}, {0.5f, -1.0f});
  ValueId var = add_f32_constant(g, "var", {2}, {4.0f, 0.09f});
  ValueId y = add_op(g, BatchNormAttrs{.eps = 1e-5}, {c, gamma, beta, mean, var}, DType::kFloat32, {1, 2, 2, 2});
  g.outputs = {y};
  g.output_names = {"out"};
  return g;
}

TEST(ConstantFold, FoldsBatchNormIntoConv) {
  for (bool with_bias : {true, false}) {
    Graph g = conv_bn_graph(with_bias);
    std::vector<float> in = {1, -2, 3, 0.5f};
    std::vector<float> before = run_f32(g, {in});
    // Hand computation of conv + BN, in double.
    const double w[2] = {2.0, -0.5}, b[2] = {with_bias ? 1.0 : 0.0, with_bias ? 3.0 : 0.0};
    const double gamma[2] = {1.5, 0.25}, beta[2] = {0.1, -0.2}, mean[2] = {0.5, -1.0}, var[2] = {4.0, 0.09};
    std::vector<float> want;
    for (int c = 0; c < 2; ++c)
      for (float v : in)
        want.push_back(float((w[c] * v + b[c] - mean[c]) / std::sqrt(var[c] + 1e-5) * gamma[c] + beta[c]));
    expect_close(before, want);

    EXPECT_TRUE(run_constant_fold(g));
    run_dce(g);
    ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
    ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
    EXPECT_EQ(g.node(0).kind(), OpKind::kConv);
    ASSERT_EQ(g.node(0).inputs.size(), 3u);
    EXPECT_NE(g.node(0).inputs[2], kNoValue);
    EXPECT_EQ(g.outputs[0], g.node(0).outputs[0]);
    expect_close(run_f32(g, {in}), want);
  }
}

TEST(ConstantFold, DoesNotFoldBatchNormWhenConvOutputHasOtherUsers) {
  Graph g = conv_bn_graph(true);
  ValueId conv_out = g.node(0).outputs[0];
  g.outputs.push_back(conv_out);
  g.output_names.push_back("conv");
  EXPECT_FALSE(run_constant_fold(g));
  EXPECT_EQ(count_ops(g, OpKind::kBatchNorm), 1u);
}

TEST(Cse, MergesIdenticalNodes) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {4});
  ValueId r1 = add_op(g, unary(UnaryFn::kSigmoid), {x}, DType::kFloat32, {4});
  ValueId r2 = add_op(g, unary(UnaryFn::kSigmoid), {x}, DType::kFloat32, {4});
  ValueId r3 = add_op(g, unary(UnaryFn::kTanh), {x}, DType::kFloat32, {4});
  ValueId s = add_op(g, binary(BinaryFn::kAdd), {r1, r2}, DType::kFloat32, {4});
  ValueId t = add_op(g, binary(BinaryFn::kAdd), {s, r3}, DType::kFloat32, {4});
  g.outputs = {t};
  std::vector<float> in = {-2, -0.5f, 0, 3};
  std::vector<float> before = run_f32(g, {in});
  EXPECT_TRUE(run_cse(g));
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kUnary), 2u) << print_graph(g);
  ASSERT_EQ(g.node(2).kind(), OpKind::kBinary) << print_graph(g);
  EXPECT_EQ(g.node(2).inputs[0], g.node(2).inputs[1]) << print_graph(g);
  std::vector<float> want;
  for (float v : in) want.push_back(float(2.0 / (1.0 + std::exp(-double(v))) + std::tanh(double(v))));
  expect_close(before, want);
  EXPECT_EQ(run_f32(g, {in}), before);
}

TEST(Cse, KeepsCastsToDifferentDtypes) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {4});
  ValueId a = add_op(g, CastAttrs{}, {x}, DType::kInt32, {4});
  ValueId b = add_op(g, CastAttrs{}, {x}, DType::kInt64, {4});
  g.outputs = {a, b};
  EXPECT_FALSE(run_cse(g));
}

TEST(Cse, DistinguishesCloseFloatAttributes) {
  // attrs_to_string prints 6 significant digits; equality must not rely on it.
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {4});
  ValueId a = add_op(g, UnaryAttrs{.fn = int64_t(UnaryFn::kLeakyRelu), .alpha = 0.1000001}, {x}, DType::kFloat32, {4});
  ValueId b = add_op(g, UnaryAttrs{.fn = int64_t(UnaryFn::kLeakyRelu), .alpha = 0.1000002}, {x}, DType::kFloat32, {4});
  g.outputs = {a, b};
  EXPECT_FALSE(run_cse(g));
}

TEST(Cse, MergesEqualSmallConstants) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2});
  ValueId c1 = add_f32_constant(g, "c1", {2}, {1, 2});
  ValueId c2 = add_f32_constant(g, "c2", {2}, {1, 2});
  ValueId a = add_op(g, binary(BinaryFn::kAdd), {x, c1}, DType::kFloat32, {2});
  ValueId b = add_op(g, binary(BinaryFn::kAdd), {x, c2}, DType::kFloat32, {2});
  ValueId s = add_op(g, binary(BinaryFn::kMul), {a, b}, DType::kFloat32, {2});
  g.outputs = {s};
  EXPECT_TRUE(run_cse(g));  // constants merge, then the two adds merge
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok());
  EXPECT_EQ(g.num_nodes(), 2u) << print_graph(g);
  EXPECT_EQ(run_f32(g, {{3, -1}}), (std::vector<float>{16, 1}));
}

TEST(Dce, RemovesDeadNodesKeepsInputs) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2});
  add_input(g, "unused", DType::kInt64, {3});
  add_f32_constant(g, "dead_weight", {2}, {5, 6});
  ValueId dead = add_op(g, unary(UnaryFn::kExp), {x}, DType::kFloat32, {2});
  add_op(g, unary(UnaryFn::kNeg), {dead}, DType::kFloat32, {2});
  ValueId live = add_op(g, unary(UnaryFn::kAbs), {x}, DType::kFloat32, {2});
  g.outputs = {live};
  EXPECT_TRUE(run_dce(g));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  EXPECT_EQ(g.num_nodes(), 1u);
  EXPECT_EQ(g.inputs.size(), 2u);
  EXPECT_EQ(g.num_values(), 3u) << print_graph(g);  // two inputs and the output
  EXPECT_EQ(g.value(g.inputs[1]).name, "unused");
  EXPECT_FALSE(run_dce(g));
  EXPECT_EQ(run_f32(g, {{-1, 2}, {0, 0, 0, 0, 0, 0}}), (std::vector<float>{1, 2}));
}

TEST(Pipeline, OptimizesAndPreservesNumbers) {
  // Weight transposed at run time (foldable), duplicated activation (CSE),
  // identity reshape (canonicalize) and a dead branch (DCE).
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3});
  ValueId w = add_f32_constant(g, "w", {2, 3}, {1, 0, -1, 2, 1, 0.5f});
  ValueId wt = add_op(g, PermuteAttrs{.perm = {1, 0}}, {w}, DType::kFloat32, {3, 2});
  ValueId xr = add_op(g, ReshapeAttrs{.shape = {2, 3}}, {x}, DType::kFloat32, {2, 3});
  ValueId m1 = add_op(g, MatMulAttrs{}, {xr, wt}, DType::kFloat32, {2, 2});
  ValueId m2 = add_op(g, MatMulAttrs{}, {x, wt}, DType::kFloat32, {2, 2});
  ValueId s = add_op(g, binary(BinaryFn::kAdd), {m1, m2}, DType::kFloat32, {2, 2});
  add_op(g, unary(UnaryFn::kExp), {s}, DType::kFloat32, {2, 2});
  g.outputs = {s};
  g.output_names = {"y"};
  std::vector<float> in = {1, 2, 3, -1, 0.5f, 2};
  std::vector<float> before = run_f32(g, {in});
  // Hand: x @ w^T, doubled.
  std::vector<float> want = {2 * (1 - 3.0f), 2 * (2 + 2 + 1.5f), 2 * (-1 - 2.0f), 2 * (-2 + 0.5f + 1)};
  expect_close(before, want);

  BuildOptions options;
  std::vector<std::string> lines;
  ASSERT_TRUE(run_pipeline(g, options, [&](const std::string& l) { lines.push_back(l); }).ok());
  ASSERT_TRUE(verify_graph(g).ok());
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 0u) << print_graph(g);
  // The product with the folded constant weight becomes a Gemm (fuse_gemm).
  EXPECT_EQ(count_ops(g, OpKind::kMatMul), 0u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kGemm), 1u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kReshape), 0u) << print_graph(g);
  EXPECT_EQ(g.num_nodes(), 2u) << print_graph(g);
  expect_close(run_f32(g, {in}), before);
  EXPECT_FALSE(lines.empty());
}

}  // namespace
}  // namespace ingot
