// Tests of the GEMM fusion pass (src/passes/fuse_gemm.cc) on small hand-built
// graphs: after the pass (and the canonicalize/DCE round the pipeline runs after
// it) the IR has the expected fused Gemm, and the graph computes the same numbers
// as before on the CPU backend (the unfused graph runs the CPU unary and binary
// kernels, the fused one the Gemm epilogue). Cases the pass must leave alone are
// checked too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "pass_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.5f, 1.5f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

ValueId add_constant(Graph& g, const std::string& name, std::vector<int64_t> shape, uint32_t seed) {
  std::vector<float> data = random_floats(numel(shape), seed);
  auto bytes = std::make_shared<std::vector<uint8_t>>(data.size() * sizeof(float));
  std::memcpy(bytes->data(), data.data(), bytes->size());
  return g.add_constant(name, DType::kFloat32, std::move(shape), bytes);
}

OpAttrs unary(UnaryFn fn, double alpha = 0, double beta = 0) {
  return UnaryAttrs{.fn = static_cast<int64_t>(fn), .alpha = alpha, .beta = beta};
}
OpAttrs add() { return BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}; }
OpAttrs linear() { return GemmAttrs{.trans_b = true}; }

const Node& only_gemm(const Graph& g) {
  for (const Node& n : g.nodes())
    if (n.kind() == OpKind::kGemm) return n;
  static Node none;
  ADD_FAILURE() << "no gemm in\n" << print_graph(g);
  return none;
}

// Error norm relative to the reference norm (NaN fails).
void expect_close(const std::vector<std::vector<float>>& got, const std::vector<std::vector<float>>& want,
                  double rel = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    ASSERT_EQ(got[o].size(), want[o].size());
    double err = 0, norm = 0;
    for (size_t i = 0; i < got[o].size(); ++i) {
      ASSERT_FALSE(std::isnan(got[o][i])) << "output " << o << " element " << i;
      err += (double(got[o][i]) - want[o][i]) * (double(got[o][i]) - want[o][i]);
      norm += double(want[o][i]) * want[o][i];
    }
    EXPECT_LE(std::sqrt(err), rel * std::sqrt(norm) + 1e-30) << "output " << o;
  }
}

// The pass, then the cleanup the pipeline runs after it; the graph must verify.
bool fuse(Graph& g) {
  const bool changed = run_fuse_gemm(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  run_canonicalize(g);
  run_dce(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  return changed;
}

// x [2,3,8] -> linear(w [6,8], b [6]) -> (+ r) -> act
Graph mlp_graph(int64_t activation, bool residual_first_operand, double act_alpha = 0, double act_beta = 0) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 3, 8});
  ValueId r = add_input(g, "r", {2, 3, 6});
  ValueId w = add_constant(g, "w", {6, 8}, 1);
  ValueId b = add_constant(g, "b", {6}, 2);
  ValueId y = add_op(g, linear(), {x, w, b}, {2, 3, 6});
  ValueId s = add_op(g, add(), residual_first_operand ? std::vector<ValueId>{r, y} : std::vector<ValueId>{y, r},
                     {2, 3, 6});
  ValueId z = activation >= 0 ? add_op(g, unary(static_cast<UnaryFn>(activation), act_alpha, act_beta), {s}, {2, 3, 6})
                              : s;
  g.outputs = {z};
  g.output_names = {"out"};
  return g;
}

TEST(FuseGemm, ResidualAndActivationEachFunction) {
  const struct {
    UnaryFn fn;
    double alpha, beta;
  } cases[] = {{UnaryFn::kRelu, 0, 0},    {UnaryFn::kGelu, 0, 0},      {UnaryFn::kGeluTanh, 0, 0},
               {UnaryFn::kSilu, 0, 0},    {UnaryFn::kSigmoid, 0, 0},   {UnaryFn::kTanh, 0, 0},
               {UnaryFn::kClamp, -0.5, 0.75}, {UnaryFn::kLeakyRelu, 0.1, 0}, {UnaryFn::kHardSwish, 0, 0}};
  for (const auto& c : cases) {
    for (bool residual_first : {false, true}) {
      SCOPED_TRACE(std::string(unary_fn_name(c.fn)) + (residual_first ? " residual first" : " residual second"));
      Graph g = mlp_graph(static_cast<int64_t>(c.fn), residual_first, c.alpha, c.beta);
      const auto before = run(g);
      EXPECT_TRUE(fuse(g));
      ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
      const Node& n = only_gemm(g);
      ASSERT_EQ(n.inputs.size(), 4u);
      EXPECT_EQ(n.inputs[0], g.inputs[0]);
      EXPECT_EQ(n.inputs[3], g.inputs[1]);  // the residual
      const auto& a = std::get<GemmAttrs>(n.attrs);
      EXPECT_EQ(a.activation, static_cast<int64_t>(c.fn));
      EXPECT_EQ(a.activation_alpha, c.alpha);
      EXPECT_EQ(a.activation_beta, c.beta);
      EXPECT_EQ(n.outputs[0], g.outputs[0]);
      expect_close(run(g), before);
    }
  }
}

TEST(FuseGemm, ResidualOnly) {
  Graph g = mlp_graph(-1, false);
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  EXPECT_EQ(std::get<GemmAttrs>(only_gemm(g).attrs).activation, -1);
  EXPECT_EQ(only_gemm(g).inputs.size(), 4u);
  expect_close(run(g), before);
}

TEST(FuseGemm, ActivationBeforeAddKeepsTheAdd) {
  // act(x W + b) + r: the add follows the activation, so only the activation fuses.
  Graph g;
  ValueId x = add_input(g, "x", {4, 8});
  ValueId r = add_input(g, "r", {4, 6});
  ValueId y = add_op(g, linear(), {x, add_constant(g, "w", {6, 8}, 1), add_constant(g, "b", {6}, 2)}, {4, 6});
  ValueId a = add_op(g, unary(UnaryFn::kGelu), {y}, {4, 6});
  g.outputs = {add_op(g, add(), {a, r}, {4, 6})};
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  ASSERT_EQ(g.num_nodes(), 2u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kBinary), 1u);
  EXPECT_EQ(std::get<GemmAttrs>(only_gemm(g).attrs).activation, static_cast<int64_t>(UnaryFn::kGelu));
  EXPECT_EQ(only_gemm(g).inputs.size(), 3u);
  expect_close(run(g), before);
}

TEST(FuseGemm, OutputWithAnotherUseIsNotFused) {
  Graph g;
  ValueId x = add_input(g, "x", {4, 8});
  ValueId r = add_input(g, "r", {4, 6});
  ValueId y = add_op(g, linear(), {x, add_constant(g, "w", {6, 8}, 1), add_constant(g, "b", {6}, 2)}, {4, 6});
  ValueId s = add_op(g, add(), {y, r}, {4, 6});
  ValueId a = add_op(g, unary(UnaryFn::kRelu), {y}, {4, 6});
  g.outputs = {s, a};
  EXPECT_FALSE(fuse(g));
  EXPECT_EQ(g.num_nodes(), 3u);

  // A graph output is a use too.
  Graph h;
  ValueId hx = add_input(h, "x", {4, 8});
  ValueId hy = add_op(h, linear(), {hx, add_constant(h, "w", {6, 8}, 1)}, {4, 6});
  ValueId hz = add_op(h, unary(UnaryFn::kRelu), {hy}, {4, 6});
  h.outputs = {hy, hz};
  EXPECT_FALSE(fuse(h));
  EXPECT_EQ(h.num_nodes(), 2u);
}

TEST(FuseGemm, BroadcastingAddIsNotAResidual) {
  // r [1, 6] is neither the output's shape nor a constant bias: left alone.
  Graph g;
  ValueId x = add_input(g, "x", {4, 8});
  ValueId r = add_input(g, "r", {1, 6});
  ValueId y = add_op(g, linear(), {x, add_constant(g, "w", {6, 8}, 1), add_constant(g, "b", {6}, 2)}, {4, 6});
  g.outputs = {add_op(g, add(), {y, r}, {4, 6})};
  EXPECT_FALSE(fuse(g));
  EXPECT_EQ(g.num_nodes(), 2u);
}

TEST(FuseGemm, ResidualComputedAfterTheProduct) {
  // The residual's producer sits between the Gemm and the add: the fused Gemm
  // must move down to the add so the graph stays in topological order.
  Graph g;
  ValueId x = add_input(g, "x", {4, 8});
  ValueId x2 = add_input(g, "x2", {4, 6});
  ValueId y = add_op(g, linear(), {x, add_constant(g, "w", {6, 8}, 1), add_constant(g, "b", {6}, 2)}, {4, 6});
  ValueId r = add_op(g, unary(UnaryFn::kTanh), {x2}, {4, 6});
  ValueId s = add_op(g, add(), {y, r}, {4, 6});
  g.outputs = {add_op(g, unary(UnaryFn::kSilu), {s}, {4, 6})};
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  ASSERT_EQ(g.num_nodes(), 2u) << print_graph(g);
  EXPECT_EQ(g.node(1).kind(), OpKind::kGemm);
  EXPECT_EQ(g.node(1).inputs[3], g.node(0).outputs[0]);
  expect_close(run(g), before);
}

TEST(FuseGemm, MatMulWithConstantWeightBecomesGemmWithBias) {
  // x [2,5,8] @ W [1,8,6] + b [6] -> gelu_tanh: one Gemm reading a 2-D view of W.
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  ValueId w = add_constant(g, "w", {1, 8, 6}, 3);
  ValueId y = add_op(g, MatMulAttrs{}, {x, w}, {2, 5, 6});
  ValueId s = add_op(g, add(), {y, add_constant(g, "b", {1, 1, 6}, 4)}, {2, 5, 6});
  g.outputs = {add_op(g, unary(UnaryFn::kGeluTanh), {s}, {2, 5, 6})};
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  const Node& n = only_gemm(g);
  const auto& a = std::get<GemmAttrs>(n.attrs);
  EXPECT_FALSE(a.trans_b);
  EXPECT_EQ(a.activation, static_cast<int64_t>(UnaryFn::kGeluTanh));
  ASSERT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(g.value(n.inputs[1]).shape, (std::vector<int64_t>{8, 6}));
  EXPECT_TRUE(g.value(n.inputs[1]).is_constant());
  EXPECT_TRUE(g.value(n.inputs[2]).is_constant());
  expect_close(run(g), before);
}

TEST(FuseGemm, MatMulWithBatchedWeightIsLeftAlone) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  ValueId w = add_constant(g, "w", {2, 8, 6}, 3);
  g.outputs = {add_op(g, MatMulAttrs{}, {x, w}, {2, 5, 6})};
  EXPECT_FALSE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kMatMul), 1u);
}

// A [2, k, n] constant holding one random matrix twice (an expand that was folded).
ValueId repeated_matrix(Graph& g, int64_t k, int64_t n, uint32_t seed) {
  std::vector<float> one = random_floats(k * n, seed), both = one;
  both.insert(both.end(), one.begin(), one.end());
  auto bytes = std::make_shared<std::vector<uint8_t>>(both.size() * sizeof(float));
  std::memcpy(bytes->data(), both.data(), bytes->size());
  return g.add_constant("w_expanded", DType::kFloat32, {2, k, n}, bytes);
}

TEST(FuseGemm, MatMulWithRepeatedWeightBecomesGemm) {
  // The aten dialect's linear on a 3-d input: bmm(x, expand(W^T)) with the expand
  // folded into a [2, 8, 6] constant whose two matrices are the same: a Gemm on [8, 6].
  Graph g;
  ValueId x = add_input(g, "x", {2, 5, 8});
  ValueId w = repeated_matrix(g, 8, 6, 3);
  g.outputs = {add_op(g, MatMulAttrs{}, {x, w}, {2, 5, 6})};
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kMatMul), 0u) << print_graph(g);
  const Node& n = only_gemm(g);
  EXPECT_EQ(g.value(n.inputs[1]).shape, (std::vector<int64_t>{8, 6}));
  EXPECT_EQ(g.value(n.inputs[1]).constant->size(), 8u * 6u * sizeof(float));
  expect_close(run(g), before);
}

TEST(FuseGemm, RepeatedWeightThatWouldBroadcastTheInputStays) {
  // x [1, 5, 8] against two equal matrices gives [2, 5, 6]: two copies, no Gemm shape.
  Graph g;
  ValueId x = add_input(g, "x", {1, 5, 8});
  ValueId w = repeated_matrix(g, 8, 6, 5);
  g.outputs = {add_op(g, MatMulAttrs{}, {x, w}, {2, 5, 6})};
  EXPECT_FALSE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kMatMul), 1u);
}

TEST(FuseGemm, ReshapesAroundGemmAreRemoved) {
  // x [2,3,8] -> reshape [6,8] -> gemm -> [6,6] -> reshape [2,3,6]: one Gemm on [2,3,8].
  Graph g;
  ValueId x = add_input(g, "x", {2, 3, 8});
  ValueId f = add_op(g, ReshapeAttrs{.shape = {6, 8}}, {x}, {6, 8});
  ValueId y = add_op(g, linear(), {f, add_constant(g, "w", {6, 8}, 1), add_constant(g, "b", {6}, 2)}, {6, 6});
  g.outputs = {add_op(g, ReshapeAttrs{.shape = {2, 3, 6}}, {y}, {2, 3, 6})};
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  EXPECT_EQ(only_gemm(g).inputs[0], g.inputs[0]);
  EXPECT_EQ(g.value(g.outputs[0]).shape, (std::vector<int64_t>{2, 3, 6}));
  expect_close(run(g), before);
}

TEST(FuseGemm, ReshapeThatChangesTheLastDimStays) {
  // [6,6] -> [6,2,3] splits the feature dim (multi-head views): not absorbed.
  Graph g;
  ValueId x = add_input(g, "x", {6, 8});
  ValueId y = add_op(g, linear(), {x, add_constant(g, "w", {6, 8}, 1)}, {6, 6});
  g.outputs = {add_op(g, ReshapeAttrs{.shape = {6, 2, 3}}, {y}, {6, 2, 3})};
  EXPECT_FALSE(fuse(g));
  EXPECT_EQ(g.num_nodes(), 2u);
}

TEST(FuseGemm, VitStyleUnitPermutesAndResidual) {
  // torchvision ViT at batch 1 (nn.MultiheadAttention): the sequence-first
  // transposes only move the size-1 batch dim, so out-projection + residual fuse:
  // h [1,5,8] -> permute [5,1,8] -> gemm [5,1,8] -> permute [1,5,8] -> + h.
  Graph g;
  ValueId h = add_input(g, "h", {1, 5, 8});
  ValueId t = add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {h}, {5, 1, 8});
  ValueId y = add_op(g, linear(), {t, add_constant(g, "w", {8, 8}, 1), add_constant(g, "b", {8}, 2)}, {5, 1, 8});
  ValueId v = add_op(g, ReshapeAttrs{.shape = {5, 8}}, {y}, {5, 8});
  ValueId v2 = add_op(g, ReshapeAttrs{.shape = {5, 1, 8}}, {v}, {5, 1, 8});
  ValueId back = add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {v2}, {1, 5, 8});
  g.outputs = {add_op(g, add(), {back, h}, {1, 5, 8})};
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  const Node& n = only_gemm(g);
  EXPECT_EQ(n.inputs[0], h);
  ASSERT_EQ(n.inputs.size(), 4u);
  EXPECT_EQ(n.inputs[3], h);
  expect_close(run(g), before);
}

TEST(FuseGemm, RealTransposeIsNotAReshape) {
  // At batch 2 the same permute reorders elements: nothing may be bypassed.
  Graph g;
  ValueId h = add_input(g, "h", {2, 5, 8});
  ValueId t = add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {h}, {5, 2, 8});
  ValueId y = add_op(g, linear(), {t, add_constant(g, "w", {8, 8}, 1)}, {5, 2, 8});
  g.outputs = {add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {y}, {2, 5, 8})};
  const auto before = run(g);
  EXPECT_FALSE(fuse(g));
  EXPECT_EQ(g.num_nodes(), 3u);
  expect_close(run(g), before);
}

TEST(FuseGemm, VitBatchedOutProjectionTakesTheTranspose) {
  // torchvision's ViT at batch 2: attention out [B,H,L,D] -> permute [L,B,H,D] ->
  // reshape [L*B, H*D] -> gemm -> [L,B,N] -> permute [B,L,N] -> + h. The output
  // transpose moves to the input, merges with the head transpose, and the
  // residual fuses: permute -> reshape -> gemm(+h).
  Graph g;
  ValueId att = add_input(g, "att", {2, 2, 5, 4});
  ValueId h = add_input(g, "h", {2, 5, 8});
  ValueId t = add_op(g, PermuteAttrs{.perm = {2, 0, 1, 3}}, {att}, {5, 2, 2, 4});
  ValueId f = add_op(g, ReshapeAttrs{.shape = {10, 8}}, {t}, {10, 8});
  ValueId y = add_op(g, linear(), {f, add_constant(g, "w", {8, 8}, 1), add_constant(g, "b", {8}, 2)}, {10, 8});
  ValueId v = add_op(g, ReshapeAttrs{.shape = {5, 2, 8}}, {y}, {5, 2, 8});
  ValueId back = add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {v}, {2, 5, 8});
  g.outputs = {add_op(g, add(), {back, h}, {2, 5, 8})};
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 1u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kBinary), 0u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kGemm), 1u) << print_graph(g);
  const Node& n = only_gemm(g);
  ASSERT_EQ(n.inputs.size(), 4u);
  EXPECT_EQ(n.inputs[3], h);
  EXPECT_EQ(g.value(n.outputs[0]).shape, (std::vector<int64_t>{2, 5, 8}));
  expect_close(run(g), before);
}

TEST(FuseGemm, FullShapeBiasTakesNoResidual) {
  // addmm with a full [M, N] bias uses cuBLASLt's C operand already.
  Graph g;
  ValueId x = add_input(g, "x", {4, 8});
  ValueId r = add_input(g, "r", {4, 6});
  ValueId y = add_op(g, GemmAttrs{.trans_b = false, .beta = 0.5},
                     {x, add_constant(g, "w", {8, 6}, 1), add_constant(g, "c", {4, 6}, 2)}, {4, 6});
  ValueId s = add_op(g, add(), {y, r}, {4, 6});
  g.outputs = {add_op(g, unary(UnaryFn::kRelu), {s}, {4, 6})};
  const auto before = run(g);
  fuse(g);
  EXPECT_EQ(count_ops(g, OpKind::kBinary), 1u) << print_graph(g);
  expect_close(run(g), before);
}

TEST(FuseGemm, TransformerBlockChain) {
  // A pre-norm MLP block: h + fc2(gelu(fc1(layer_norm(h)))) -> two Gemms, nothing else
  // but the norm; fc1 carries gelu, fc2 the residual.
  Graph g;
  ValueId h = add_input(g, "h", {2, 4, 8});
  ValueId n = add_op(g, LayerNormAttrs{.normalized_ndim = 1, .eps = 1e-5}, {h}, {2, 4, 8});
  ValueId f1 = add_op(g, linear(), {n, add_constant(g, "w1", {16, 8}, 1), add_constant(g, "b1", {16}, 2)}, {2, 4, 16});
  ValueId a = add_op(g, unary(UnaryFn::kGelu), {f1}, {2, 4, 16});
  ValueId f2 = add_op(g, linear(), {a, add_constant(g, "w2", {8, 16}, 3), add_constant(g, "b2", {8}, 4)}, {2, 4, 8});
  g.outputs = {add_op(g, add(), {h, f2}, {2, 4, 8})};
  const auto before = run(g);
  EXPECT_TRUE(fuse(g));
  EXPECT_EQ(g.num_nodes(), 3u) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kGemm), 2u);
  expect_close(run(g), before);
  EXPECT_FALSE(run_fuse_gemm(g));  // a fixed point
}

}  // namespace
}  // namespace ingot
