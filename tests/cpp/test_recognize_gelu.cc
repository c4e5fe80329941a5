// Tests of the tanh-GELU recognition pass (src/passes/recognize_gelu.cc) on
// hand-built graphs in the shapes the frontend produces for HF NewGELUActivation
// and its spellings: after the pass (and the cleanup the pipeline runs after it)
// the IR holds one gelu_tanh unary reading x, and the graph computes the same
// numbers as before on the CPU backend (the unfused graph runs eight elementwise
// kernels, the rewritten one the gelu_tanh kernel), which also match a float64
// reference computed here. Graphs the pass must leave alone are checked too.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "pass_test_util.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

const std::vector<int64_t> kShape = {3, 7, 10};

OpAttrs binary(BinaryFn fn) { return BinaryAttrs{.fn = static_cast<int64_t>(fn)}; }
OpAttrs unary(UnaryFn fn, double alpha = 0) { return UnaryAttrs{.fn = static_cast<int64_t>(fn), .alpha = alpha}; }

enum class Cube { kPowScalar, kPowBinary, kMulSquareFirst, kMulXFirst };
struct Spelling {
  Cube cube = Cube::kPowScalar;
  bool constants_first = false;  // c * v instead of v * c (and 1 + t)
  int grouping = 0;              // 0: (0.5 x) t   1: x (0.5 t)   2: (x t) 0.5
  float sqrt_2_over_pi = 0.7978845608028654f;
  float cubic = 0.044715f;
  bool extra_use = false;  // tanh's output is also a graph output
};

ValueId mul(Graph& g, ValueId a, ValueId b, bool swap) {
  return add_op(g, binary(BinaryFn::kMul), swap ? std::vector<ValueId>{b, a} : std::vector<ValueId>{a, b}, kShape);
}

// x [3, 7, 10] (the output of a relu, so x has a producer like a GEMM's) -> GELU.
Graph gelu_graph(const Spelling& s) {
  Graph g;
  ValueId in = add_input(g, "in", kShape);
  ValueId x = add_op(g, unary(UnaryFn::kNeg), {in}, kShape);
  ValueId cube;
  switch (s.cube) {
    case Cube::kPowScalar: cube = add_op(g, unary(UnaryFn::kPowScalar, 3.0), {x}, kShape); break;
    case Cube::kPowBinary: cube = add_op(g, binary(BinaryFn::kPow), {x, scalar(g, "three", 3.0f)}, kShape); break;
    case Cube::kMulSquareFirst: cube = mul(g, mul(g, x, x, false), x, false); break;
    case Cube::kMulXFirst: cube = mul(g, x, mul(g, x, x, false), false); break;
  }
  const bool c = s.constants_first;
  ValueId term = mul(g, cube, scalar(g, "cubic", s.cubic), c);
  ValueId sum = add_op(g, binary(BinaryFn::kAdd), {x, term}, kShape);
  ValueId scaled = mul(g, sum, scalar(g, "k", s.sqrt_2_over_pi), c);
  ValueId th = add_op(g, unary(UnaryFn::kTanh), {scaled}, kShape);
  ValueId one = scalar(g, "one", 1.0f);
  ValueId t = add_op(g, binary(BinaryFn::kAdd), c ? std::vector<ValueId>{one, th} : std::vector<ValueId>{th, one},
                     kShape);
  ValueId half = scalar(g, "half", 0.5f);
  ValueId out;
  switch (s.grouping) {
    case 0: out = mul(g, mul(g, x, half, c), t, false); break;
    case 1: out = mul(g, x, mul(g, half, t, c), false); break;
    default: out = mul(g, mul(g, x, t, c), half, false); break;
  }
  g.outputs = {out};
  g.output_names = {"out"};
  if (s.extra_use) {
    g.outputs.push_back(th);
    g.output_names.push_back("tanh");
  }
  return g;
}

// The pass, then the cleanup the pipeline runs after it; the graph must verify.
bool recognize(Graph& g) {
  const bool changed = run_recognize_gelu(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  run_canonicalize(g);
  run_dce(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  return changed;
}

int count_gelu(const Graph& g) {
  int n = 0;
  for (const Node& node : g.nodes())
    n += node.kind() == OpKind::kUnary &&
         static_cast<UnaryFn>(std::get<UnaryAttrs>(node.attrs).fn) == UnaryFn::kGeluTanh;
  return n;
}

void check_recognized(const Spelling& s) {
  Graph g = gelu_graph(s);
  const auto before = run(g);
  ASSERT_TRUE(recognize(g)) << print_graph(g);
  EXPECT_EQ(count_gelu(g), 1) << print_graph(g);
  EXPECT_EQ(g.num_nodes(), 2u) << print_graph(g);  // neg, gelu_tanh
  const auto after = run(g);
  ASSERT_EQ(after.size(), 1u);
  expect_close(after[0], before[0], 1e-6);
  // Against float64: gelu_tanh(-in) over the same fixed random inputs.
  const auto in = floats_of(random_input_bytes(g)[0]);
  std::vector<float> want(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const double x = -double(in[i]);
    want[i] = float(0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))));
  }
  expect_close(after[0], want, 1e-6);
}

TEST(RecognizeGelu, HfNewGeluActivation) { check_recognized({}); }

TEST(RecognizeGelu, Spellings) {
  for (Cube cube : {Cube::kPowScalar, Cube::kPowBinary, Cube::kMulSquareFirst, Cube::kMulXFirst})
    for (bool first : {false, true})
      for (int grouping : {0, 1, 2}) {
        SCOPED_TRACE("cube " + std::to_string(int(cube)) + " constants_first " + std::to_string(first) +
                     " grouping " + std::to_string(grouping));
        check_recognized({.cube = cube, .constants_first = first, .grouping = grouping});
      }
}

TEST(RecognizeGelu, OtherConstantsAreLeftAlone) {
  for (Spelling s : {Spelling{.sqrt_2_over_pi = 0.8f}, Spelling{.cubic = 0.05f}}) {
    Graph g = gelu_graph(s);
    const size_t nodes = g.num_nodes();
    EXPECT_FALSE(recognize(g));
    EXPECT_EQ(g.num_nodes(), nodes);
    EXPECT_EQ(count_gelu(g), 0);
  }
}

TEST(RecognizeGelu, IntermediateUsedElsewhereIsLeftAlone) {
  Graph g = gelu_graph({.extra_use = true});
  const auto before = run(g);
  EXPECT_FALSE(recognize(g));
  EXPECT_EQ(count_gelu(g), 0);
  const auto after = run(g);
  ASSERT_EQ(after.size(), 2u);
  expect_close(after[0], before[0], 0);
}

TEST(RecognizeGelu, BroadcastHalfIsLeftAlone) {
  // 0.5 as a [10] vector of halves: not a scalar, so not GELU's constant.
  Graph wide;
  {
    ValueId x = add_input(wide, "x", kShape);
    ValueId halves = add_f32_constant(wide, "halves", {10}, std::vector<float>(10, 0.5f));
    ValueId cube = add_op(wide, unary(UnaryFn::kPowScalar, 3.0), {x}, kShape);
    ValueId term = mul(wide, cube, scalar(wide, "cubic", 0.044715f), false);
    ValueId sum = add_op(wide, binary(BinaryFn::kAdd), {x, term}, kShape);
    ValueId scaled = mul(wide, sum, scalar(wide, "k", 0.7978845608f), false);
    ValueId th = add_op(wide, unary(UnaryFn::kTanh), {scaled}, kShape);
    ValueId t = add_op(wide, binary(BinaryFn::kAdd), {th, scalar(wide, "one", 1.0f)}, kShape);
    ValueId out = mul(wide, mul(wide, x, halves, false), t, false);
    wide.outputs = {out};
    wide.output_names = {"out"};
  }
  EXPECT_FALSE(recognize(wide));
  EXPECT_EQ(count_gelu(wide), 0);
}

}  // namespace
}  // namespace ingot
