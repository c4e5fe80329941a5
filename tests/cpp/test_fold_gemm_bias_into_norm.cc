// Tests of fold_gemm_bias_into_norm (src/passes/fold_gemm_bias_into_norm.cc) on
// hand-built graphs: a Gemm's [N] bias and residual move into the LayerNorm that is
// its only use (the Gemm keeps two inputs, the norm gets five), and the graph
// computes the same numbers on the CPU backend as before (the unfolded graph is the
// reference; its ops are CPU kernels tested against PyTorch). Also what must stay:
// a sum read twice or returned, an activation, a norm over two dims, a bias that is
// not a row vector, a bias scaled by beta (addmm's); and a second run finds nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "pass_test_util.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

constexpr int64_t kB = 2, kL = 5, kK = 12, kN = 8;

// Folds and checks that every output is unchanged; returns how many gemms folded.
int fold_and_compare(Graph& g) {
  return change_and_compare(g, 5, [](Graph& h) { return run_fold_gemm_bias_into_norm(h); });
}

struct Linear {
  std::vector<int64_t> bias_shape = {kN};
  bool residual = true;
  int64_t activation = -1;
  double beta = 1.0;
};

// x [B, L, K] -> Gemm (bias, residual) [B, L, N].
ValueId linear(Graph& g, ValueId x, const Linear& o, uint32_t seed = 1) {
  ValueId w = add_constant(g, "w" + std::to_string(seed), {kN, kK}, seed);
  ValueId b = add_constant(g, "b" + std::to_string(seed), o.bias_shape, seed + 1);
  std::vector<ValueId> in = {x, w, b};
  if (o.residual) in.push_back(add_input(g, "r" + std::to_string(seed), {kB, kL, kN}));
  return add_op(g, GemmAttrs{.trans_b = true, .beta = o.beta, .activation = o.activation}, in, {kB, kL, kN});
}

ValueId layer_norm(Graph& g, ValueId x, int64_t ndim = 1) {
  const std::vector<int64_t> s = g.value(x).shape;  // a copy: adding values may move the table
  std::vector<int64_t> param(s.end() - ndim, s.end());
  ValueId w = add_constant(g, "ln_w", param, 40);
  ValueId b = add_constant(g, "ln_b", param, 41);
  return add_op(g, LayerNormAttrs{.normalized_ndim = ndim, .eps = 1e-5}, {x, w, b}, s);
}

const Node& only(const Graph& g, OpKind kind) {
  for (const Node& n : g.nodes())
    if (n.kind() == kind) return n;
  ADD_FAILURE() << "no " << op_name(kind) << " node";
  return g.nodes().front();
}

TEST(FoldGemmBiasIntoNorm, PostNormBiasAndResidualMove) {
  Graph g;
  ValueId x = add_input(g, "x", {kB, kL, kK});
  set_output(g, layer_norm(g, linear(g, x, {})));
  const ValueId bias = only(g, OpKind::kGemm).inputs[2], residual = only(g, OpKind::kGemm).inputs[3];
  EXPECT_EQ(fold_and_compare(g), 1);
  EXPECT_EQ(only(g, OpKind::kGemm).inputs.size(), 2u) << print_graph(g);
  const Node& ln = only(g, OpKind::kLayerNorm);
  ASSERT_EQ(ln.inputs.size(), 5u) << print_graph(g);
  EXPECT_EQ(ln.inputs[3], residual);
  EXPECT_EQ(ln.inputs[4], bias);
  EXPECT_EQ(run_fold_gemm_bias_into_norm(g), 0);
}

TEST(FoldGemmBiasIntoNorm, ResidualCanStayInTheGemm) {
  Graph g;
  ValueId x = add_input(g, "x", {kB, kL, kK});
  set_output(g, layer_norm(g, linear(g, x, {})));
  const ValueId bias = only(g, OpKind::kGemm).inputs[2], residual = only(g, OpKind::kGemm).inputs[3];
  EXPECT_EQ(change_and_compare(g, 6, [](Graph& h) { return run_fold_gemm_bias_into_norm(h, /*move_residual=*/false); }),
            1);
  const Node& gemm = only(g, OpKind::kGemm);
  ASSERT_EQ(gemm.inputs.size(), 4u) << print_graph(g);
  EXPECT_EQ(gemm.inputs[2], kNoValue);
  EXPECT_EQ(gemm.inputs[3], residual);
  const Node& ln = only(g, OpKind::kLayerNorm);
  ASSERT_EQ(ln.inputs.size(), 5u);
  EXPECT_EQ(ln.inputs[3], kNoValue);
  EXPECT_EQ(ln.inputs[4], bias);
}

TEST(FoldGemmBiasIntoNorm, BiasAloneAndLeadingOnesBias) {
  for (const std::vector<int64_t>& bias_shape : {std::vector<int64_t>{kN}, std::vector<int64_t>{1, 1, kN}}) {
    Graph g;
    ValueId x = add_input(g, "x", {kB, kL, kK});
    set_output(g, layer_norm(g, linear(g, x, {.bias_shape = bias_shape, .residual = false})));
    EXPECT_EQ(fold_and_compare(g), 1);
    const Node& ln = only(g, OpKind::kLayerNorm);
    ASSERT_EQ(ln.inputs.size(), 5u) << print_graph(g);
    EXPECT_EQ(ln.inputs[3], kNoValue);
    EXPECT_NE(ln.inputs[4], kNoValue);
  }
}

// Cases the pass leaves alone; each still computes the same numbers.
TEST(FoldGemmBiasIntoNorm, KeepsWhatCannotMove) {
  struct Case {
    const char* name;
    Linear linear;
    int64_t norm_ndim = 1;
    bool sum_also_output = false;
  };
  const Case cases[] = {
      {"activation", {.activation = static_cast<int64_t>(UnaryFn::kRelu)}},
      {"beta scales the bias", {.residual = false, .beta = 0.5}},
      {"beta scales the bias, with a residual", {.beta = 0.5}},
      {"bias per row and column", {.bias_shape = {kL, kN}}},
      {"norm over two dims", {}, 2},
      {"sum is also an output", {}, 1, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Graph g;
    ValueId x = add_input(g, "x", {kB, kL, kK});
    ValueId y = linear(g, x, c.linear);
    set_output(g, layer_norm(g, y, c.norm_ndim));
    if (c.sum_also_output) set_output(g, y);
    EXPECT_EQ(fold_and_compare(g), 0);
    EXPECT_GE(only(g, OpKind::kGemm).inputs.size(), 3u);
    EXPECT_EQ(only(g, OpKind::kLayerNorm).inputs.size(), 3u);
  }
}

TEST(FoldGemmBiasIntoNorm, SumReadTwiceStays) {
  // Pre-norm: the sum feeds the norm and the next residual add.
  Graph g;
  ValueId x = add_input(g, "x", {kB, kL, kK});
  ValueId y = linear(g, x, {});
  ValueId n = layer_norm(g, y);
  set_output(g, add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}, {n, y}, {kB, kL, kN}));
  EXPECT_EQ(fold_and_compare(g), 0);
  EXPECT_EQ(only(g, OpKind::kGemm).inputs.size(), 4u);
}

TEST(FoldGemmBiasIntoNorm, VerifierChecksPreAdds) {
  Graph g;
  ValueId x = add_input(g, "x", {kB, kL, kN});
  ValueId r = add_input(g, "r", {kB, kL, kN});
  ValueId bad_r = add_input(g, "bad_r", {kB, 1, kN});
  ValueId pb = add_constant(g, "pb", {kN}, 3);
  ValueId bad_pb = add_constant(g, "bad_pb", {kN + 1}, 4);
  Graph ok = g;
  set_output(ok, add_op(ok, LayerNormAttrs{.normalized_ndim = 1}, {x, kNoValue, kNoValue, r, pb}, {kB, kL, kN}));
  EXPECT_TRUE(verify_graph(ok).ok()) << verify_graph(ok).message();
  Graph wrong_residual = g;
  set_output(wrong_residual, add_op(wrong_residual, LayerNormAttrs{.normalized_ndim = 1},
                                    {x, kNoValue, kNoValue, bad_r, pb}, {kB, kL, kN}));
  EXPECT_FALSE(verify_graph(wrong_residual).ok());
  Graph wrong_bias = g;
  set_output(wrong_bias, add_op(wrong_bias, LayerNormAttrs{.normalized_ndim = 1},
                                {x, kNoValue, kNoValue, kNoValue, bad_pb}, {kB, kL, kN}));
  EXPECT_FALSE(verify_graph(wrong_bias).ok());
}

}  // namespace
}  // namespace ingot
