// Tests of the RMSNorm fusion pass (src/passes/fuse_norm.cc) on small hand-built
// graphs in the shapes the frontend produces for HF LlamaRMSNorm / T5LayerNorm /
// Gemma: after the pass (and the canonicalize/DCE round the pipeline runs after
// it) the IR has one RmsNorm with the right eps, weight and normalized_ndim, and
// the graph computes the same numbers as before (the unfused graph runs the CPU
// binary/reduce/unary kernels, the fused one the rms_norm kernel), which also
// match a float64 reference computed here. Cases the pass must leave alone (or
// only partly fuse) are checked too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "pass_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

constexpr int64_t kD = 16;
const std::vector<int64_t> kShape = {2, 5, kD};
const std::vector<int64_t> kRowShape = {2, 5, 1};

OpAttrs binary(BinaryFn fn) { return BinaryAttrs{.fn = static_cast<int64_t>(fn)}; }
OpAttrs unary(UnaryFn fn, double alpha = 0) { return UnaryAttrs{.fn = static_cast<int64_t>(fn), .alpha = alpha}; }
OpAttrs mean(std::vector<int64_t> dims) {
  return ReduceAttrs{.fn = static_cast<int64_t>(ReduceFn::kMean), .dims = std::move(dims), .keepdim = true};
}


void expect_all_close(const std::vector<std::vector<float>>& got, const std::vector<std::vector<float>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    SCOPED_TRACE("output " + std::to_string(o));
    expect_close(got[o], want[o]);
  }
}

// The pass, then the cleanup the pipeline runs after it; the graph must verify.
bool fuse(Graph& g) {
  const bool changed = run_fuse_norm(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  run_canonicalize(g);
  run_dce(g);
  EXPECT_TRUE(verify_graph(g).ok()) << verify_graph(g).to_string() << "\n" << print_graph(g);
  return changed;
}

const Node* find_op(const Graph& g, OpKind kind) {
  for (const Node& n : g.nodes())
    if (n.kind() == kind) return &n;
  return nullptr;
}

// The spellings of x^2, of the reciprocal root, and of the operand orders.
enum class Square { kMul, kPowScalar, kPowBinary };
enum class Root { kRsqrt, kPowScalar, kPowBinary, kOneOverSqrt, kReciprocalSqrt, kDivBySqrt };
struct Spelling {
  Square square = Square::kMul;
  Root root = Root::kRsqrt;
  bool eps_first = false;    // eps + mean
  bool root_first = false;   // r * x
  bool weight_first = true;  // weight * y (HF order)
  bool with_weight = true;
};

constexpr float kEps = 1e-5f;

// x [2, 5, 16] -> hand-written RMSNorm -> out; the weight is constant seed 7.
Graph rms_graph(const Spelling& s) {
  Graph g;
  ValueId x = add_input(g, "x", kShape);
  ValueId p;
  switch (s.square) {
    case Square::kMul: p = add_op(g, binary(BinaryFn::kMul), {x, x}, kShape); break;
    case Square::kPowScalar: p = add_op(g, unary(UnaryFn::kPowScalar, 2.0), {x}, kShape); break;
    case Square::kPowBinary: p = add_op(g, binary(BinaryFn::kPow), {x, scalar(g, "two", 2.f)}, kShape); break;
  }
  ValueId m = add_op(g, mean({2}), {p}, kRowShape);
  ValueId eps = scalar(g, "eps", kEps);
  ValueId a = add_op(g, binary(BinaryFn::kAdd), s.eps_first ? std::vector<ValueId>{eps, m} : std::vector<ValueId>{m, eps},
                     kRowShape);
  ValueId r = kNoValue, y = kNoValue;
  switch (s.root) {
    case Root::kRsqrt: r = add_op(g, unary(UnaryFn::kRsqrt), {a}, kRowShape); break;
    case Root::kPowScalar: r = add_op(g, unary(UnaryFn::kPowScalar, -0.5), {a}, kRowShape); break;
    case Root::kPowBinary:
      r = add_op(g, binary(BinaryFn::kPow), {a, scalar(g, "minus_half", -0.5f)}, kRowShape);
      break;
    case Root::kOneOverSqrt:
      r = add_op(g, binary(BinaryFn::kDiv), {scalar(g, "one", 1.f), add_op(g, unary(UnaryFn::kSqrt), {a}, kRowShape)},
                 kRowShape);
      break;
    case Root::kReciprocalSqrt:
      r = add_op(g, unary(UnaryFn::kReciprocal), {add_op(g, unary(UnaryFn::kSqrt), {a}, kRowShape)}, kRowShape);
      break;
    case Root::kDivBySqrt:
      y = add_op(g, binary(BinaryFn::kDiv), {x, add_op(g, unary(UnaryFn::kSqrt), {a}, kRowShape)}, kShape);
      break;
  }
  if (y == kNoValue)
    y = add_op(g, binary(BinaryFn::kMul), s.root_first ? std::vector<ValueId>{r, x} : std::vector<ValueId>{x, r},
               kShape);
  ValueId out = y;
  if (s.with_weight) {
    ValueId w = add_constant(g, "weight", {kD}, 7);
    out = add_op(g, binary(BinaryFn::kMul), s.weight_first ? std::vector<ValueId>{w, y} : std::vector<ValueId>{y, w},
                 DType::kFloat32, kShape, "mul_weight", "model.py:12");
  }
  set_output(g, out);
  return g;
}

// float64 RMSNorm of the graph's first input (the inputs run() feeds) with weight seed 7.
std::vector<float> reference(const Graph& g, bool with_weight) {
  std::vector<float> x = floats_of(random_input_bytes(g)[0]);
  std::vector<float> w = random_floats(kD, 7);
  std::vector<float> y(x.size());
  for (size_t row = 0; row < x.size() / kD; ++row) {
    double ss = 0;
    for (int64_t i = 0; i < kD; ++i) ss += double(x[row * kD + i]) * x[row * kD + i];
    const double inv = 1.0 / std::sqrt(ss / kD + double(kEps));
    for (int64_t i = 0; i < kD; ++i)
      y[row * kD + i] = static_cast<float>(x[row * kD + i] * inv * (with_weight ? w[i] : 1.0));
  }
  return y;
}

void check_fuses(const Spelling& s) {
  Graph g = rms_graph(s);
  const auto before = run(g);
  ASSERT_TRUE(fuse(g));
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  const Node& n = g.node(0);
  ASSERT_EQ(n.kind(), OpKind::kRmsNorm) << print_graph(g);
  const auto& a = std::get<RmsNormAttrs>(n.attrs);
  EXPECT_EQ(a.normalized_ndim, 1);
  EXPECT_DOUBLE_EQ(a.eps, double(kEps));
  ASSERT_EQ(n.inputs.size(), s.with_weight ? 2u : 1u);
  EXPECT_EQ(n.inputs[0], g.inputs[0]);
  if (s.with_weight) {
    EXPECT_EQ(g.value(n.inputs[1]).shape, std::vector<int64_t>{kD});
    EXPECT_EQ(n.source.location, "model.py:12");  // the final node's source is kept
  }
  const auto after = run(g);
  expect_all_close(after, before);
  ASSERT_EQ(after.size(), 1u);
  expect_close(after[0], reference(g, s.with_weight));
}

TEST(FuseNorm, LlamaPattern) { check_fuses({}); }

TEST(FuseNorm, Spellings) {
  for (Square sq : {Square::kMul, Square::kPowScalar, Square::kPowBinary})
    for (Root root : {Root::kRsqrt, Root::kPowScalar, Root::kPowBinary, Root::kOneOverSqrt, Root::kReciprocalSqrt,
                      Root::kDivBySqrt}) {
      SCOPED_TRACE("square " + std::to_string(int(sq)) + " root " + std::to_string(int(root)));
      check_fuses({.square = sq, .root = root});
    }
}

TEST(FuseNorm, OperandOrdersAndNoWeight) {
  for (int bits = 0; bits < 16; ++bits) {
    SCOPED_TRACE("bits " + std::to_string(bits));
    check_fuses({.eps_first = bool(bits & 1), .root_first = bool(bits & 2), .weight_first = bool(bits & 4),
                 .with_weight = bool(bits & 8)});
  }
}

TEST(FuseNorm, WeightWithLeadingOnesBecomesVector) {
  Graph g = rms_graph({.with_weight = false});
  const ValueId y = g.outputs[0];
  ValueId w = add_constant(g, "weight", {1, 1, kD}, 7);
  ValueId out = add_op(g, binary(BinaryFn::kMul), {y, w}, kShape);
  g.outputs = {out};
  const auto before = run(g);
  ASSERT_TRUE(fuse(g));
  ASSERT_EQ(g.num_nodes(), 1u) << print_graph(g);
  ASSERT_EQ(g.node(0).inputs.size(), 2u);
  EXPECT_EQ(g.value(g.node(0).inputs[1]).shape, std::vector<int64_t>{kD});
  expect_all_close(run(g), before);
}

// Two norms of the same input and a norm of a norm: all fuse, topological order kept.
TEST(FuseNorm, SeveralNormsSharingInputs) {
  Graph g = rms_graph({});
  const ValueId x = g.inputs[0];
  const ValueId first = g.outputs[0];
  // A second hand-written norm of x (no weight) and one of the first norm's output.
  auto add_norm = [&](ValueId in) {
    ValueId p = add_op(g, binary(BinaryFn::kMul), {in, in}, kShape);
    ValueId m = add_op(g, mean({2}), {p}, kRowShape);
    ValueId a = add_op(g, binary(BinaryFn::kAdd), {m, scalar(g, "eps2", kEps)}, kRowShape);
    ValueId r = add_op(g, unary(UnaryFn::kRsqrt), {a}, kRowShape);
    return add_op(g, binary(BinaryFn::kMul), {in, r}, kShape);
  };
  ValueId second = add_norm(x);
  ValueId third = add_norm(first);
  g.outputs = {first, second, third};
  g.output_names = {"a", "b", "c"};
  const auto before = run(g);
  ASSERT_TRUE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kRmsNorm), 3u) << print_graph(g);
  EXPECT_EQ(g.num_nodes(), 3u) << print_graph(g);
  expect_all_close(run(g), before);
}

// --- cases that must not fuse (or only partly) ---

void expect_unchanged(Graph& g) {
  const size_t nodes = g.num_nodes();
  const auto before = run(g);
  EXPECT_FALSE(fuse(g)) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kRmsNorm), 0u);
  EXPECT_EQ(g.num_nodes(), nodes);
  expect_all_close(run(g), before);
}

TEST(FuseNorm, IntermediateUsedElsewhereIsLeftAlone) {
  // The mean square is also a graph output.
  {
    Graph g = rms_graph({});
    ValueId m = g.node(1).outputs[0];
    ASSERT_EQ(g.node(1).kind(), OpKind::kReduce);
    set_output(g, m);
    expect_unchanged(g);
  }
  // The reciprocal root feeds another node too.
  {
    Graph g = rms_graph({});
    const Node& rsqrt = g.node(3);
    ASSERT_EQ(rsqrt.kind(), OpKind::kUnary);
    ValueId r = rsqrt.outputs[0];
    ValueId extra = add_op(g, unary(UnaryFn::kExp), {r}, kRowShape);
    set_output(g, extra);
    expect_unchanged(g);
  }
  // The square is read twice.
  {
    Graph g = rms_graph({});
    ValueId p = g.node(0).outputs[0];
    set_output(g, add_op(g, unary(UnaryFn::kNeg), {p}, kShape));
    expect_unchanged(g);
  }
}

TEST(FuseNorm, MeanOverAnotherDimIsLeftAlone) {
  Graph g;
  ValueId x = add_input(g, "x", kShape);
  ValueId p = add_op(g, binary(BinaryFn::kMul), {x, x}, kShape);
  ValueId m = add_op(g, mean({1}), {p}, {2, 1, kD});
  ValueId a = add_op(g, binary(BinaryFn::kAdd), {m, scalar(g, "eps", kEps)}, {2, 1, kD});
  ValueId r = add_op(g, unary(UnaryFn::kRsqrt), {a}, {2, 1, kD});
  set_output(g, add_op(g, binary(BinaryFn::kMul), {x, r}, kShape));
  expect_unchanged(g);
}

TEST(FuseNorm, NonScalarEpsOrOtherSquareIsLeftAlone) {
  {  // eps is a per-row tensor input, not a constant
    Graph g;
    ValueId x = add_input(g, "x", kShape);
    ValueId e = add_op(g, unary(UnaryFn::kAbs), {add_input(g, "e", kRowShape)}, kRowShape);  // keeps rsqrt finite
    ValueId p = add_op(g, binary(BinaryFn::kMul), {x, x}, kShape);
    ValueId m = add_op(g, mean({2}), {p}, kRowShape);
    ValueId a = add_op(g, binary(BinaryFn::kAdd), {m, e}, kRowShape);
    ValueId r = add_op(g, unary(UnaryFn::kRsqrt), {a}, kRowShape);
    set_output(g, add_op(g, binary(BinaryFn::kMul), {x, r}, kShape));
    expect_unchanged(g);
  }
  {  // the normalized tensor is not the squared one
    Graph g;
    ValueId x = add_input(g, "x", kShape);
    ValueId x2 = add_input(g, "x2", kShape);
    ValueId p = add_op(g, binary(BinaryFn::kMul), {x, x}, kShape);
    ValueId m = add_op(g, mean({2}), {p}, kRowShape);
    ValueId a = add_op(g, binary(BinaryFn::kAdd), {m, scalar(g, "eps", kEps)}, kRowShape);
    ValueId r = add_op(g, unary(UnaryFn::kRsqrt), {a}, kRowShape);
    set_output(g, add_op(g, binary(BinaryFn::kMul), {x2, r}, kShape));
    expect_unchanged(g);
  }
}

// A weight that is not a per-position [D] vector stays a separate mul; the
// normalization itself still fuses (without weight).
TEST(FuseNorm, WeightOfWrongShapeStaysSeparate) {
  for (std::vector<int64_t> wshape : {std::vector<int64_t>{2, 5, kD}, std::vector<int64_t>{2, 1, kD}}) {
    Graph g = rms_graph({.with_weight = false});
    const ValueId y = g.outputs[0];
    ValueId w = add_constant(g, "weight", wshape, 7);
    g.outputs = {add_op(g, binary(BinaryFn::kMul), {w, y}, kShape)};
    const auto before = run(g);
    ASSERT_TRUE(fuse(g));
    const Node* norm = find_op(g, OpKind::kRmsNorm);
    ASSERT_NE(norm, nullptr) << print_graph(g);
    EXPECT_EQ(norm->inputs.size(), 1u);
    EXPECT_EQ(count_ops(g, OpKind::kBinary), 1u) << print_graph(g);
    expect_all_close(run(g), before);
  }
}

// y itself is a graph output: it is computed by the RmsNorm and the weight mul stays.
TEST(FuseNorm, NormalizedValueAsGraphOutputKeepsWeightMul) {
  Graph g = rms_graph({});
  const ValueId z = g.outputs[0];
  const ValueId y = g.node(g.value(z).producer).inputs[1];  // weight first: (w, y)
  set_output(g, y);
  const auto before = run(g);
  ASSERT_TRUE(fuse(g));
  EXPECT_EQ(count_ops(g, OpKind::kRmsNorm), 1u);
  EXPECT_EQ(find_op(g, OpKind::kRmsNorm)->inputs.size(), 1u);
  EXPECT_EQ(count_ops(g, OpKind::kBinary), 1u) << print_graph(g);
  expect_all_close(run(g), before);
}

}  // namespace
}  // namespace ingot
