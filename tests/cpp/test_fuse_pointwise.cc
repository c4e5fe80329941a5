// Tests of the pointwise fusion pass (fuse_pointwise.cc) and the CPU Pointwise
// kernel: the fused graph has the expected Pointwise nodes and still verifies,
// and its numbers equal the unfused graph's (both run on the CPU backend) and
// hand-computed values (std:: math in double), so neither side grades itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "backends/cpu/cpu_kernels.h"
#include "core/half.h"
#include "ir/graph.h"
#include "ir_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

// Like test::add_op, and the node gets a source name ("n<index>") so that merged
// names can be checked.
ValueId add_op(Graph& g, OpAttrs attrs, std::vector<ValueId> inputs, DType dt, std::vector<int64_t> shape) {
  const std::string node_name = "n" + std::to_string(g.num_nodes());
  ValueId out = test::add_op(g, std::move(attrs), std::move(inputs), dt, std::move(shape));
  g.node(g.value(out).producer).source.node_name = node_name;
  return out;
}

void add_output(Graph& g, ValueId v) {
  g.outputs.push_back(v);
  g.output_names.push_back("output." + std::to_string(g.outputs.size() - 1));
}

ValueId f32_constant(Graph& g, std::vector<int64_t> shape, const std::vector<float>& data) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(data.size() * sizeof(float));
  std::memcpy(bytes->data(), data.data(), bytes->size());
  return g.add_constant("c" + std::to_string(g.num_values()), DType::kFloat32, std::move(shape), bytes);
}
ValueId scalar(Graph& g, float v) { return f32_constant(g, {}, {v}); }

OpAttrs unary(UnaryFn fn, double alpha = 0, double beta = 0) {
  return UnaryAttrs{.fn = static_cast<int64_t>(fn), .alpha = alpha, .beta = beta};
}
OpAttrs binary(BinaryFn fn) { return BinaryAttrs{.fn = static_cast<int64_t>(fn)}; }

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -3, float hi = 3) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
std::vector<float> floats_of(const std::vector<uint8_t>& b) {
  std::vector<float> v(b.size() / sizeof(float));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  return v;
}

std::vector<std::vector<float>> run(const Graph& g, const std::vector<std::vector<float>>& inputs) {
  std::vector<std::vector<uint8_t>> in;
  for (const auto& v : inputs) in.push_back(bytes_of(v));
  auto r = evaluate_graph(g, in);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  std::vector<std::vector<float>> out;
  if (r.ok())
    for (const auto& b : r.value()) out.push_back(floats_of(b));
  return out;
}

// Relative to the norm of `want`; NaN never passes.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel) {
  ASSERT_EQ(got.size(), want.size());
  double norm = 0;
  for (double w : want) norm += w * w;
  norm = std::sqrt(norm) + 1e-30;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << "element " << i;
    ASSERT_LE(std::abs(double(got[i]) - want[i]), rel * norm) << "element " << i << ": " << got[i] << " vs " << want[i];
  }
}
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel) {
  expect_close(got, std::vector<double>(want.begin(), want.end()), rel);
}

// Fuses a copy of g; checks it verifies and that every output keeps its numbers.
Graph fuse_and_compare(const Graph& g, const std::vector<std::vector<float>>& inputs, bool expect_change = true) {
  Graph fused = g;
  EXPECT_EQ(run_fuse_pointwise(fused), expect_change);
  Status st = verify_graph(fused);
  EXPECT_TRUE(st.ok()) << st.to_string() << "\n" << print_graph(fused);
  run_dce(fused);
  EXPECT_TRUE(verify_graph(fused).ok());
  auto before = run(g, inputs), after = run(fused, inputs);
  EXPECT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size() && i < after.size(); ++i) expect_close(after[i], before[i], 1e-6);
  return fused;
}

// GPT-2's gelu: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))).
TEST(FusePointwise, GeluTanhFormulaBecomesOneNode) {
  Graph g;
  const std::vector<int64_t> s = {4, 33};
  const DType f = DType::kFloat32;
  ValueId x = add_input(g, "x", f, s);
  ValueId half_x = add_op(g, binary(BinaryFn::kMul), {scalar(g, 0.5f), x}, f, s);
  ValueId cube = add_op(g, unary(UnaryFn::kPowScalar, 3.0), {x}, f, s);
  ValueId scaled_cube = add_op(g, binary(BinaryFn::kMul), {cube, scalar(g, 0.044715f)}, f, s);
  ValueId inner = add_op(g, binary(BinaryFn::kAdd), {x, scaled_cube}, f, s);
  ValueId arg = add_op(g, binary(BinaryFn::kMul), {inner, scalar(g, 0.7978845608028654f)}, f, s);
  ValueId th = add_op(g, unary(UnaryFn::kTanh), {arg}, f, s);
  ValueId one_plus = add_op(g, binary(BinaryFn::kAdd), {th, scalar(g, 1.0f)}, f, s);
  ValueId y = add_op(g, binary(BinaryFn::kMul), {half_x, one_plus}, f, s);
  add_output(g, y);

  const auto xs = random_floats(4 * 33, 1);
  Graph fused = fuse_and_compare(g, {xs});
  ASSERT_EQ(fused.num_nodes(), 1u) << print_graph(fused);
  const Node& n = fused.node(0);
  ASSERT_EQ(n.kind(), OpKind::kPointwise);
  EXPECT_EQ(n.inputs.size(), 1u);  // the constants became immediates
  EXPECT_EQ(n.outputs[0], fused.outputs[0]);
  EXPECT_NE(n.source.node_name.find('+'), std::string::npos);  // merged provenance

  std::vector<double> want;
  for (float v : xs) {
    const double d = v;
    want.push_back(0.5 * d * (1 + std::tanh(0.7978845608028654 * (d + 0.044715 * d * d * d))));
  }
  expect_close(run(fused, {xs})[0], want, 1e-6);
}

TEST(FusePointwise, SiluAsMulSigmoid) {
  Graph g;
  const std::vector<int64_t> s = {3, 5, 7};
  const DType f = DType::kFloat32;
  ValueId x = add_input(g, "x", f, s);
  ValueId sig = add_op(g, unary(UnaryFn::kSigmoid), {x}, f, s);
  add_output(g, add_op(g, binary(BinaryFn::kMul), {x, sig}, f, s));
  const auto xs = random_floats(3 * 5 * 7, 2);
  Graph fused = fuse_and_compare(g, {xs});
  ASSERT_EQ(count_ops(fused, OpKind::kPointwise), 1u);
  EXPECT_EQ(fused.num_nodes(), 1u);
  std::vector<double> want;
  for (float v : xs) want.push_back(v / (1 + std::exp(-double(v))));
  expect_close(run(fused, {xs})[0], want, 1e-6);
}

// (x + bias[C]) * 2 then clamp (alpha/beta as immediates), with a per-row scale [N,1,1].
TEST(FusePointwise, BroadcastInputsAndUnaryParameters) {
  Graph g;
  const std::vector<int64_t> s = {2, 3, 4};
  const DType f = DType::kFloat32;
  ValueId x = add_input(g, "x", f, s);
  ValueId scale = add_input(g, "scale", f, {2, 1, 1});
  ValueId bias = f32_constant(g, {4}, {0.5f, -1.0f, 2.0f, 0.25f});
  ValueId a = add_op(g, binary(BinaryFn::kAdd), {x, bias}, f, s);
  ValueId b = add_op(g, binary(BinaryFn::kMul), {a, scalar(g, 2.0f)}, f, s);
  ValueId c = add_op(g, unary(UnaryFn::kClamp, -1.5, 2.5), {b}, f, s);
  add_output(g, add_op(g, binary(BinaryFn::kMul), {scale, c}, f, s));
  const auto xs = random_floats(24, 3), ss = random_floats(2, 4);
  Graph fused = fuse_and_compare(g, {xs, ss});
  ASSERT_EQ(fused.num_nodes(), 1u);
  EXPECT_EQ(fused.node(0).inputs.size(), 3u);  // x, bias, scale
  const float bias_v[4] = {0.5f, -1.0f, 2.0f, 0.25f};
  std::vector<double> want;
  for (int i = 0; i < 24; ++i) {
    const double v = std::min(std::max((double(xs[i]) + bias_v[i % 4]) * 2.0, -1.5), 2.5);
    want.push_back(v * ss[i / 12]);
  }
  expect_close(run(fused, {xs, ss})[0], want, 1e-6);
}

// A diamond: one intermediate read by two group nodes is still internal.
TEST(FusePointwise, DiamondWithSharedIntermediate) {
  Graph g;
  const std::vector<int64_t> s = {16};
  const DType f = DType::kFloat32;
  ValueId x = add_input(g, "x", f, s);
  ValueId e = add_op(g, unary(UnaryFn::kExp), {x}, f, s);
  ValueId b = add_op(g, binary(BinaryFn::kMul), {e, scalar(g, 2.0f)}, f, s);
  ValueId c = add_op(g, binary(BinaryFn::kAdd), {e, scalar(g, 1.0f)}, f, s);
  add_output(g, add_op(g, binary(BinaryFn::kDiv), {b, c}, f, s));
  const auto xs = random_floats(16, 5);
  Graph fused = fuse_and_compare(g, {xs});
  EXPECT_EQ(fused.num_nodes(), 1u);
}

// Intermediates read outside the group (by a graph output or another op) stay values.
TEST(FusePointwise, KeepsValuesUsedOutsideTheGroup) {
  Graph g;
  const std::vector<int64_t> s = {4, 8};
  const DType f = DType::kFloat32;
  ValueId x = add_input(g, "x", f, s);
  ValueId t = add_op(g, binary(BinaryFn::kMul), {x, scalar(g, 3.0f)}, f, s);
  ValueId u = add_op(g, unary(UnaryFn::kTanh), {t}, f, s);
  ValueId w = add_op(g, binary(BinaryFn::kAdd), {u, scalar(g, 1.0f)}, f, s);
  add_output(g, w);
  add_output(g, t);  // t is an output: only tanh + add fuse
  const auto xs = random_floats(32, 6);
  Graph fused = fuse_and_compare(g, {xs});
  EXPECT_EQ(count_ops(fused, OpKind::kPointwise), 1u);
  EXPECT_EQ(count_ops(fused, OpKind::kBinary), 1u);  // x * 3 stays
  for (const Node& n : fused.nodes())
    if (n.kind() == OpKind::kPointwise) EXPECT_EQ(n.inputs[0], t);
}

TEST(FusePointwise, LeavesIntsComparisonsFloat64AndSingleOpsAlone) {
  {
    Graph g;  // int64 arithmetic
    ValueId x = add_input(g, "x", DType::kInt64, {4});
    ValueId a = add_op(g, binary(BinaryFn::kAdd), {x, x}, DType::kInt64, {4});
    add_output(g, add_op(g, binary(BinaryFn::kMul), {a, x}, DType::kInt64, {4}));
    EXPECT_FALSE(run_fuse_pointwise(g));
  }
  {
    Graph g;  // float64
    ValueId x = add_input(g, "x", DType::kFloat64, {4});
    ValueId a = add_op(g, unary(UnaryFn::kExp), {x}, DType::kFloat64, {4});
    add_output(g, add_op(g, unary(UnaryFn::kNeg), {a}, DType::kFloat64, {4}));
    EXPECT_FALSE(run_fuse_pointwise(g));
  }
  {
    Graph g;  // a comparison ends the chain; one op alone is not a group
    ValueId x = add_input(g, "x", DType::kFloat32, {4});
    ValueId a = add_op(g, unary(UnaryFn::kExp), {x}, DType::kFloat32, {4});
    add_output(g, add_op(g, binary(BinaryFn::kGt), {a, x}, DType::kBool, {4}));
    EXPECT_FALSE(run_fuse_pointwise(g));
  }
}

// An integer cast to float stays float32 under fp16 lowering: chains that read it are not fused.
TEST(FusePointwise, LeavesChainsOnValuesKeptInFloat32) {
  Graph g;
  ValueId pos = add_input(g, "pos", DType::kInt64, {8});
  ValueId p = add_op(g, CastAttrs{}, {pos}, DType::kFloat32, {8});
  ValueId a = add_op(g, binary(BinaryFn::kMul), {p, scalar(g, 0.01f)}, DType::kFloat32, {8});
  add_output(g, add_op(g, unary(UnaryFn::kCos), {a}, DType::kFloat32, {8}));
  EXPECT_FALSE(run_fuse_pointwise(g));
}

// Long chains split at 64 instructions; many inputs split at 8.
TEST(FusePointwise, RespectsInstructionAndInputLimits) {
  {
    Graph g;
    const std::vector<int64_t> s = {10};
    ValueId v = add_input(g, "x", DType::kFloat32, s);
    for (int i = 0; i < 150; ++i)
      v = add_op(g, i % 2 ? unary(UnaryFn::kSin) : unary(UnaryFn::kNeg), {v}, DType::kFloat32, s);
    add_output(g, v);
    Graph fused = fuse_and_compare(g, {random_floats(10, 7)});
    EXPECT_EQ(fused.num_nodes(), 3u);
    for (const Node& n : fused.nodes()) {
      ASSERT_EQ(n.kind(), OpKind::kPointwise);
      EXPECT_LE(std::get<PointwiseAttrs>(n.attrs).program.size(), 64u * 5);
    }
  }
  {
    Graph g;
    const std::vector<int64_t> s = {6};
    std::vector<std::vector<float>> ins;
    ValueId acc = add_input(g, "x0", DType::kFloat32, s);
    ins.push_back(random_floats(6, 100));
    for (int i = 1; i < 12; ++i) {
      ValueId xi = add_input(g, "x" + std::to_string(i), DType::kFloat32, s);
      ins.push_back(random_floats(6, 100 + i));
      acc = add_op(g, binary(BinaryFn::kAdd), {acc, xi}, DType::kFloat32, s);
    }
    add_output(g, acc);
    Graph fused = fuse_and_compare(g, ins);
    for (const Node& n : fused.nodes())
      if (n.kind() == OpKind::kPointwise) EXPECT_LE(n.inputs.size(), 8u);
    EXPECT_LT(fused.num_nodes(), 11u);
  }
}

// float16 graphs fuse too; the fused node computes in fp32, so it is at least as close
// to the exact values as the unfused fp16 chain.
TEST(FusePointwise, Float16Chain) {
  Graph g;
  const std::vector<int64_t> s = {64};
  const DType h = DType::kFloat16;
  ValueId x = add_input(g, "x", h, s);
  auto half_scalar = [&](float v) {
    auto bytes = std::make_shared<std::vector<uint8_t>>(2);
    const uint16_t bits = Half(v).bits;
    std::memcpy(bytes->data(), &bits, 2);
    return g.add_constant("h" + std::to_string(g.num_values()), h, {}, bytes);
  };
  ValueId sig = add_op(g, unary(UnaryFn::kSigmoid), {x}, h, s);
  ValueId m = add_op(g, binary(BinaryFn::kMul), {x, sig}, h, s);
  add_output(g, add_op(g, binary(BinaryFn::kMul), {m, half_scalar(1.5f)}, h, s));
  Graph fused = g;
  ASSERT_TRUE(run_fuse_pointwise(fused));
  run_dce(fused);
  ASSERT_TRUE(verify_graph(fused).ok());
  ASSERT_EQ(fused.num_nodes(), 1u);
  const auto xf = random_floats(64, 9);
  std::vector<uint8_t> xb(128);
  std::vector<double> want;
  for (int i = 0; i < 64; ++i) {
    const Half hv(xf[i]);
    std::memcpy(xb.data() + 2 * i, &hv.bits, 2);
    const double d = static_cast<float>(hv);
    want.push_back(1.5 * d / (1 + std::exp(-d)));
  }
  auto r = evaluate_graph(fused, {xb});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::vector<float> got;
  for (int i = 0; i < 64; ++i) {
    uint16_t bits;
    std::memcpy(&bits, r.value()[0].data() + 2 * i, 2);
    got.push_back(Half::from_bits(bits));
  }
  expect_close(got, want, 2e-3);
}

// ---------------------------------------------------------------- the CPU kernel itself

cpu::TensorRef ref(std::vector<float>& v, std::vector<int64_t> shape) {
  return {v.data(), DType::kFloat32, std::move(shape)};
}

// out[i,j,k] = atan2(a[i,0,k], b[j,0]) - fmod(a, 0.7) * b, with strided broadcasting.
TEST(CpuPointwise, StridedBroadcastAgainstHandComputed) {
  auto a = random_floats(3 * 5, 11), b = random_floats(4, 12);
  std::vector<float> out(3 * 4 * 5, NAN);
  PointwiseAttrs p;
  p.immediates = {0.7};
  p.program = {1, static_cast<int64_t>(BinaryFn::kAtan2), 0, 1, 0,  // r2 = atan2(a, b)
               2, 0, 0, 0, 0,                                        // r3 = 0.7
               1, static_cast<int64_t>(BinaryFn::kFmod), 0, 3, 0,    // r4 = fmod(a, 0.7)
               1, static_cast<int64_t>(BinaryFn::kMul), 4, 1, 0,     // r5 = r4 * b
               1, static_cast<int64_t>(BinaryFn::kSub), 2, 5, 0};    // r6 = r2 - r5
  auto ta = ref(a, {3, 1, 5}), tb = ref(b, {4, 1});
  auto to = ref(out, {3, 4, 5});
  cpu::KernelArgs args{{&ta, &tb}, {&to}};
  Status st = cpu::run_kernel(p, args);
  ASSERT_TRUE(st.ok()) << st.to_string();
  std::vector<double> want;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 5; ++k) {
        const double av = a[i * 5 + k], bv = b[j];
        want.push_back(std::atan2(av, bv) - std::fmod(av, double(0.7f)) * bv);
      }
  expect_close(out, want, 1e-6);
}

TEST(CpuPointwise, LargeContiguousRunsAcrossBlocks) {
  const int64_t n = 70001;  // several blocks and threads, a partial last block
  auto x = random_floats(n, 13);
  std::vector<float> y(n, NAN);
  PointwiseAttrs p;
  p.immediates = {0, 0};
  p.program = {0, static_cast<int64_t>(UnaryFn::kTanh), 0, 0, 0, 1, static_cast<int64_t>(BinaryFn::kMul), 1, 0, 0};
  auto tx = ref(x, {n}), ty = ref(y, {n});
  cpu::KernelArgs args{{&tx}, {&ty}};
  ASSERT_TRUE(cpu::run_kernel(p, args).ok());
  std::vector<double> want;
  for (float v : x) want.push_back(std::tanh(double(v)) * v);
  expect_close(y, want, 1e-6);
}

TEST(CpuPointwise, RejectsMalformedPrograms) {
  std::vector<float> x(4, 1.0f), y(4);
  auto tx = ref(x, {4}), ty = ref(y, {4});
  cpu::KernelArgs args{{&tx}, {&ty}};
  auto rejects = [&](PointwiseAttrs p, const char* why) {
    Status st = cpu::run_kernel(p, args);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << why << ": " << st.to_string();
  };
  rejects(PointwiseAttrs{}, "empty program");
  rejects(PointwiseAttrs{.program = {1, 0, 0, 5, 0}}, "register read before written");
  rejects(PointwiseAttrs{.program = {0, 2, 0, 0, 0}}, "unary without immediates");
  rejects(PointwiseAttrs{.program = {2, 0, 0, 0, 3}, .immediates = {1.0}}, "immediate out of range");
  rejects(PointwiseAttrs{.program = {1, static_cast<int64_t>(BinaryFn::kLt), 0, 0, 0}}, "comparison");
  rejects(PointwiseAttrs{.program = {7, 0, 0, 0, 0}}, "unknown kind");
  rejects(PointwiseAttrs{.program = {1, 0, 0, 0}}, "not a multiple of 5");
}

}  // namespace
}  // namespace ingot
