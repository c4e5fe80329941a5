// Tests of precision lowering (src/passes/lower_precision.cc) on hand-built
// graphs: the IR after the pass (dtypes, casts at the IO, constants converted
// bit-exactly, integers untouched, the values kept in float32) and the numbers
// (the lowered graph runs on the CPU backend, which computes 16-bit types through
// float, and is compared with the float32 graph at the fp16/bf16 tolerances).
// The reference conversions here are written independently of src/core/half.h:
// exact rounding in double arithmetic, round-half-to-even via nearbyint.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "ingot/compiler.h"
#include "ir/graph.h"
#include "ir_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

// ---- graph building -------------------------------------------------------------

template <typename T>
std::shared_ptr<std::vector<uint8_t>> bytes_of(const std::vector<T>& data) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(data.size() * sizeof(T));
  std::memcpy(bytes->data(), data.data(), bytes->size());
  return bytes;
}

ValueId add_f32_constant(Graph& g, const std::string& name, std::vector<int64_t> shape, const std::vector<float>& data) {
  return g.add_constant(name, DType::kFloat32, std::move(shape), bytes_of(data));
}

OpAttrs unary(UnaryFn fn) { return UnaryAttrs{.fn = static_cast<int64_t>(fn)}; }
OpAttrs binary(BinaryFn fn) { return BinaryAttrs{.fn = static_cast<int64_t>(fn)}; }
OpAttrs reduce(ReduceFn fn, IntList dims) { return ReduceAttrs{.fn = static_cast<int64_t>(fn), .dims = std::move(dims)}; }

const Node* producer_of(const Graph& g, ValueId v) {
  NodeId p = g.value(v).producer;
  return p < 0 ? nullptr : &g.node(p);
}
const Node* first_of_kind(const Graph& g, OpKind kind) {
  for (const Node& n : g.nodes())
    if (n.kind() == kind) return &n;
  return nullptr;
}
// ---- independent reference conversions ------------------------------------------

// x rounded to nearest even with `significand_bits` bits (implicit one included);
// below 2^min_exponent the quantum stays fixed (subnormals). Exact in double.
double round_to_format(double x, int significand_bits, int min_exponent) {
  if (!std::isfinite(x) || x == 0) return x;
  int e = 0;
  std::frexp(x, &e);  // |x| in [2^(e-1), 2^e)
  const int leading = std::max(e - 1, min_exponent);
  const double quantum = std::ldexp(1.0, leading - (significand_bits - 1));
  return std::nearbyint(x / quantum) * quantum;  // the default mode: to nearest, ties to even
}
double ref_half(double x) { return round_to_format(x, 11, -14); }
double ref_bf16(double x) { return round_to_format(x, 8, -126); }

double decode_half(uint16_t h) {
  const int exponent = (h >> 10) & 31, mantissa = h & 1023;
  double v = exponent == 0    ? std::ldexp(mantissa, -24)
             : exponent == 31 ? (mantissa ? std::numeric_limits<double>::quiet_NaN() : INFINITY)
                              : std::ldexp(1024 + mantissa, exponent - 25);
  return (h & 0x8000) ? -v : v;
}
double decode_bf16(uint16_t b) {
  const uint32_t w = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}

std::vector<uint16_t> u16_of(const Value& v) {
  std::vector<uint16_t> out(v.constant->size() / 2);
  std::memcpy(out.data(), v.constant->data(), out.size() * 2);
  return out;
}

// ---- numbers --------------------------------------------------------------------

std::vector<float> as_floats(const std::vector<uint8_t>& b) {
  std::vector<float> v(b.size() / sizeof(float));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  return v;
}

std::vector<std::vector<uint8_t>> run(const Graph& g, const std::vector<std::vector<uint8_t>>& inputs) {
  auto r = evaluate_graph(g, inputs);
  EXPECT_TRUE(r.ok()) << r.status().to_string() << "\n" << print_graph(g);
  if (!r.ok()) return {};
  return std::move(r.value());
}

// Relative to the reference's norm; NaN never passes.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double norm = 0;
  for (float w : want) norm += double(w) * w;
  norm = std::sqrt(norm) + 1e-30;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << what << " element " << i << " is " << got[i];
    worst = std::max(worst, std::abs(double(got[i]) - want[i]));
  }
  EXPECT_LE(worst, rel * norm) << what << ": worst difference " << worst << " vs norm " << norm;
}

// ---- IR -------------------------------------------------------------------------

// x[2,4] f32, pos[2] int64 -> gemm, relu, sum, pos-based add, embedding, argmax.
struct SmallModel {
  Graph g;
  ValueId x, pos, weight, bias, table;
  ValueId gemm, relu, sum, shifted, embedded, argmax;
  std::vector<float> weight_data;
};

SmallModel make_small_model() {
  SmallModel m;
  Graph& g = m.g;
  m.x = add_input(g, "x", DType::kFloat32, {2, 4});
  m.pos = add_input(g, "pos", DType::kInt64, {2});
  // Values that exercise rounding: ties to even at 1 + 2^-11 and 1 + 3*2^-11
  // (fp16), subnormals, out-of-range values (clamped), infinity (kept).
  m.weight_data = {0.1f, 1.0f / 3.0f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f,
                   1e-6f, -2.5e-7f, 70000.0f, -3.4e38f,
                   INFINITY, -0.0f, 123.456f, 1.0f + 0x1p-8f + 0x1p-9f};
  m.weight = add_f32_constant(g, "weight", {4, 3}, m.weight_data);
  m.bias = add_f32_constant(g, "bias", {3}, {0.5f, -0.25f, 2.0f});
  std::vector<float> table_data(5 * 4);
  for (size_t i = 0; i < table_data.size(); ++i) table_data[i] = 0.1f * float(i) - 0.7f;
  m.table = add_f32_constant(g, "table", {5, 4}, table_data);

  m.gemm = add_op(g, GemmAttrs{}, {m.x, m.weight, m.bias}, DType::kFloat32, {2, 3});
  m.relu = add_op(g, unary(UnaryFn::kRelu), {m.gemm}, DType::kFloat32, {2, 3});
  m.sum = add_op(g, reduce(ReduceFn::kSum, {1}), {m.relu}, DType::kFloat32, {2});
  ValueId pos_f = add_op(g, CastAttrs{}, {m.pos}, DType::kFloat32, {2});
  ValueId pos_col = add_op(g, ReshapeAttrs{.shape = {2, 1}}, {pos_f}, DType::kFloat32, {2, 1});
  m.shifted = add_op(g, binary(BinaryFn::kAdd), {m.relu, pos_col}, DType::kFloat32, {2, 3});
  m.embedded = add_op(g, IndexSelectAttrs{.dim = 0}, {m.table, m.pos}, DType::kFloat32, {2, 4});
  m.argmax = add_op(g, ArgReduceAttrs{.fn = 0, .dim = 1}, {m.relu}, DType::kInt64, {2});
  g.outputs = {m.relu, m.sum, m.shifted, m.embedded, m.argmax};
  g.output_names = {"relu", "sum", "shifted", "embedded", "argmax"};
  return m;
}

TEST(LowerPrecision, Float16IrKeepsIoAndConvertsConstantsBitExactly) {
  SmallModel m = make_small_model();
  Graph& g = m.g;
  ASSERT_TRUE(verify_graph(g).ok());
  LowerPrecisionReport report;
  ASSERT_TRUE(run_lower_precision(g, DType::kFloat16, &report));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);

  // IO keeps the model's dtypes, names and order.
  ASSERT_EQ(g.inputs.size(), 2u);
  EXPECT_EQ(g.value(g.inputs[0]).dtype, DType::kFloat32);
  EXPECT_EQ(g.value(g.inputs[1]).dtype, DType::kInt64);
  const std::vector<DType> out_dtypes = {DType::kFloat32, DType::kFloat32, DType::kFloat32, DType::kFloat32,
                                         DType::kInt64};
  ASSERT_EQ(g.outputs.size(), out_dtypes.size());
  for (size_t i = 0; i < out_dtypes.size(); ++i) EXPECT_EQ(g.value(g.outputs[i]).dtype, out_dtypes[i]) << i;
  EXPECT_EQ(g.value(g.outputs[0]).name, "v" + std::to_string(m.relu)) << "output cast keeps the model's name";

  // The gemm computes in fp16: its activation comes through a Cast of the input.
  const Node* gemm = first_of_kind(g, OpKind::kGemm);
  ASSERT_NE(gemm, nullptr);
  const Node* in_cast = producer_of(g, gemm->inputs[0]);
  ASSERT_NE(in_cast, nullptr);
  EXPECT_EQ(in_cast->kind(), OpKind::kCast);
  EXPECT_EQ(in_cast->inputs[0], m.x);
  EXPECT_EQ(g.value(gemm->inputs[0]).dtype, DType::kFloat16);
  EXPECT_EQ(g.value(gemm->outputs[0]).dtype, DType::kFloat16);
  EXPECT_EQ(g.value(m.relu).dtype, DType::kFloat16);
  // The relu output (fp16) is cast back to float32 for the user.
  const Node* out_cast = producer_of(g, g.outputs[0]);
  ASSERT_NE(out_cast, nullptr);
  EXPECT_EQ(out_cast->kind(), OpKind::kCast);
  EXPECT_EQ(out_cast->inputs[0], m.relu);

  // Constants: converted copies, bit for bit what round-to-nearest-even gives,
  // with the out-of-range values clamped to +-65504 and infinity kept.
  const Value& w16 = g.value(gemm->inputs[1]);
  ASSERT_TRUE(w16.is_constant());
  EXPECT_EQ(w16.dtype, DType::kFloat16);
  std::vector<uint16_t> bits = u16_of(w16);
  ASSERT_EQ(bits.size(), m.weight_data.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    double want = m.weight_data[i];
    if (std::isfinite(want) && std::abs(want) > 65504) want = std::copysign(65504.0, want);
    want = ref_half(want);
    EXPECT_EQ(decode_half(bits[i]), want) << "element " << i << " (" << m.weight_data[i] << ")";
    EXPECT_EQ(std::signbit(decode_half(bits[i])), std::signbit(want)) << "element " << i;
  }
  EXPECT_EQ(decode_half(bits[2]), 1.0) << "1 + 2^-11 is a tie and rounds to even";
  EXPECT_EQ(decode_half(bits[3]), 1.0 + 0x1p-9) << "1 + 3*2^-11 is a tie and rounds to even";
  EXPECT_EQ(report.clamped_elements, 2);
  // The model's float32 constants are not modified in place.
  EXPECT_EQ(g.value(m.weight).dtype, DType::kFloat32);

  // fp16 sums overflow easily: the reduction writes float32 straight from fp16.
  EXPECT_EQ(g.value(m.sum).dtype, DType::kFloat32);
  EXPECT_EQ(g.value(producer_of(g, m.sum)->inputs[0]).dtype, DType::kFloat16);
  // int -> float stays exact in float32, and the add reading it computes in float32.
  EXPECT_EQ(g.value(m.shifted).dtype, DType::kFloat32);
  const Node* add = producer_of(g, m.shifted);
  EXPECT_EQ(g.value(add->inputs[0]).dtype, DType::kFloat32);
  EXPECT_EQ(g.value(add->inputs[1]).dtype, DType::kFloat32);
  // Embedding: fp16 table, int64 indices untouched.
  const Node* select = producer_of(g, m.embedded);
  EXPECT_EQ(g.value(select->inputs[0]).dtype, DType::kFloat16);
  EXPECT_EQ(select->inputs[1], m.pos);
  EXPECT_EQ(g.value(m.argmax).dtype, DType::kInt64);
  EXPECT_EQ(report.kept_float32_values, 4);  // sum, cast, reshape, add
}

TEST(LowerPrecision, BFloat16ConvertsConstantsAndKeepsOnlyExactnessValues) {
  SmallModel m = make_small_model();
  Graph& g = m.g;
  LowerPrecisionReport report;
  ASSERT_TRUE(run_lower_precision(g, DType::kBFloat16, &report));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  const Node* gemm = first_of_kind(g, OpKind::kGemm);
  ASSERT_NE(gemm, nullptr);
  std::vector<uint16_t> bits = u16_of(g.value(gemm->inputs[1]));
  const double bf16_max = 0x1.FEp127;
  for (size_t i = 0; i < bits.size(); ++i) {
    double want = m.weight_data[i];
    if (std::isfinite(want) && std::abs(want) > bf16_max) want = std::copysign(bf16_max, want);
    EXPECT_EQ(decode_bf16(bits[i]), ref_bf16(want)) << "element " << i << " (" << m.weight_data[i] << ")";
  }
  // -3.4e38 rounds past bf16's largest finite value: clamped, not -inf.
  EXPECT_EQ(decode_bf16(bits[7]), -bf16_max);
  EXPECT_EQ(report.clamped_elements, 1);
  // bf16 has float32's range: the sum is bf16; int -> float still stays float32.
  EXPECT_EQ(g.value(m.sum).dtype, DType::kBFloat16);
  EXPECT_EQ(g.value(m.shifted).dtype, DType::kFloat32);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(g.value(g.outputs[i]).dtype, DType::kFloat32);
}

TEST(LowerPrecision, IntegerOnlyGraphIsUntouched) {
  Graph g;
  ValueId a = add_input(g, "a", DType::kInt64, {3});
  ValueId c = g.add_constant("c", DType::kInt64, {3}, bytes_of(std::vector<int64_t>{1, 2, 3}));
  ValueId s = add_op(g, binary(BinaryFn::kAdd), {a, c}, DType::kInt64, {3});
  g.outputs = {s};
  const std::string before = print_graph(g);
  EXPECT_FALSE(run_lower_precision(g, DType::kFloat16));
  EXPECT_EQ(print_graph(g), before);
}

TEST(LowerPrecision, Float64LoweredToFloat32WithIoCasts) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat64, {4});
  ValueId c = g.add_constant("c", DType::kFloat64, {4}, bytes_of(std::vector<double>{0.5, -1.25, 1e300, 3.0}));
  ValueId e = add_op(g, unary(UnaryFn::kTanh), {x}, DType::kFloat64, {4});
  ValueId y = add_op(g, binary(BinaryFn::kMul), {e, c}, DType::kFloat64, {4});
  g.outputs = {y};
  std::vector<double> in = {0.1, -0.7, 1e-3, 2.0};
  auto before = run(g, {*bytes_of(in)});
  LowerPrecisionReport report;
  ASSERT_TRUE(run_lower_precision(g, DType::kFloat32, &report));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  EXPECT_EQ(g.value(g.inputs[0]).dtype, DType::kFloat64);
  EXPECT_EQ(g.value(g.outputs[0]).dtype, DType::kFloat64);
  EXPECT_EQ(g.value(e).dtype, DType::kFloat32);
  EXPECT_EQ(count_ops(g, OpKind::kCast), 2u);
  EXPECT_EQ(report.clamped_elements, 1);  // 1e300 -> FLT_MAX
  auto after = run(g, {*bytes_of(in)});
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(after.size(), 1u);
  std::vector<double> b(4), a(4);
  std::memcpy(b.data(), before[0].data(), 32);
  std::memcpy(a.data(), after[0].data(), 32);
  for (int i = 0; i < 4; ++i) {
    if (i == 2) {
      EXPECT_NEAR(a[i], std::tanh(1e-3) * double(std::numeric_limits<float>::max()), 1e32);
      continue;
    }
    EXPECT_NEAR(a[i], b[i], 1e-6 * std::abs(b[i]) + 1e-7) << i;
  }
}

TEST(LowerPrecision, PipelineRemovesCastsThatBecameIdentities) {
  // The model itself runs a part in fp16: x.half().relu().float().
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {4});
  ValueId h = add_op(g, CastAttrs{}, {x}, DType::kFloat16, {4});
  ValueId r = add_op(g, unary(UnaryFn::kRelu), {h}, DType::kFloat16, {4});
  ValueId f = add_op(g, CastAttrs{}, {r}, DType::kFloat32, {4});
  ValueId y = add_op(g, unary(UnaryFn::kExp), {f}, DType::kFloat32, {4});
  g.outputs = {y};
  BuildOptions options;
  options.backend = "cuda";
  options.precision = "fp16";
  std::vector<std::string> lines;
  ASSERT_TRUE(run_pipeline(g, options, [&](const std::string& l) { lines.push_back(l); }).ok());
  // Left: cast(x) -> relu -> exp -> cast back. The model's f16 -> f32 cast is gone.
  EXPECT_EQ(count_ops(g, OpKind::kCast), 2u) << print_graph(g);
  EXPECT_EQ(g.value(g.outputs[0]).dtype, DType::kFloat32);
  bool said = false;
  for (const std::string& l : lines) said = said || l.find("lowered to float16") != std::string::npos;
  EXPECT_TRUE(said);
}

// ---- numbers against the float32 graph --------------------------------------------

// A transformer-ish block with the patterns that break naive 16-bit lowering:
// a huge additive mask (one row fully masked), positions cast from int and fed
// to sin, and a long sum that passes fp16's range.
struct NumericModel {
  Graph g;
  std::vector<std::vector<uint8_t>> inputs;
};

NumericModel make_numeric_model(uint32_t seed) {
  NumericModel m;
  Graph& g = m.g;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto randn = [&](size_t n, float scale) {
    std::vector<float> v(n);
    for (float& x : v) x = normal(rng) * scale;
    return v;
  };
  constexpr int64_t kRows = 6, kDim = 32, kHidden = 48, kLong = 4096;
  ValueId x = add_input(g, "x", DType::kFloat32, {kRows, kDim});
  ValueId pos = add_input(g, "pos", DType::kInt64, {kRows});
  ValueId big = add_input(g, "big", DType::kFloat32, {2, kLong});

  ValueId w1 = add_f32_constant(g, "w1", {kDim, kHidden}, randn(kDim * kHidden, 0.2f));
  ValueId b1 = add_f32_constant(g, "b1", {kHidden}, randn(kHidden, 0.1f));
  ValueId h = add_op(g, GemmAttrs{}, {x, w1, b1}, DType::kFloat32, {kRows, kHidden});
  ValueId act = add_op(g, unary(UnaryFn::kGelu), {h}, DType::kFloat32, {kRows, kHidden});
  ValueId ln_w = add_f32_constant(g, "ln_w", {kHidden}, randn(kHidden, 0.1f));
  ValueId ln_b = add_f32_constant(g, "ln_b", {kHidden}, randn(kHidden, 0.1f));
  ValueId ln = add_op(g, LayerNormAttrs{}, {act, ln_w, ln_b}, DType::kFloat32, {kRows, kHidden});
  ValueId w2 = add_f32_constant(g, "w2", {kHidden, kRows}, randn(kHidden * kRows, 0.3f));
  ValueId scores = add_op(g, GemmAttrs{.trans_b = false}, {ln, w2, kNoValue}, DType::kFloat32, {kRows, kRows});
  // Causal-style mask with finfo(float32).min; the last row is masked entirely.
  std::vector<float> mask(kRows * kRows, 0.0f);
  for (int64_t i = 0; i < kRows; ++i)
    for (int64_t j = 0; j < kRows; ++j)
      if (j > i || i == kRows - 1) mask[i * kRows + j] = -std::numeric_limits<float>::max();
  ValueId mask_c = add_f32_constant(g, "mask", {kRows, kRows}, mask);
  ValueId masked = add_op(g, binary(BinaryFn::kAdd), {scores, mask_c}, DType::kFloat32, {kRows, kRows});
  ValueId probs = add_op(g, SoftmaxAttrs{.dim = 1}, {masked}, DType::kFloat32, {kRows, kRows});

  // Rotary-style angle: positions up to ~3000 (not exact in fp16) times a frequency.
  ValueId pos_f = add_op(g, CastAttrs{}, {pos}, DType::kFloat32, {kRows});
  ValueId freq = add_f32_constant(g, "freq", {1}, {0.7f});
  ValueId angle = add_op(g, binary(BinaryFn::kMul), {pos_f, freq}, DType::kFloat32, {kRows});
  ValueId sine = add_op(g, unary(UnaryFn::kSin), {angle}, DType::kFloat32, {kRows});

  // A sum of 4096 values around 40: about 164000, past fp16's 65504.
  ValueId total = add_op(g, reduce(ReduceFn::kSum, {1}), {big}, DType::kFloat32, {2});
  ValueId mean = add_op(g, reduce(ReduceFn::kMean, {1}), {ln}, DType::kFloat32, {kRows});

  g.outputs = {probs, sine, total, mean};
  g.output_names = {"probs", "sine", "total", "mean"};

  std::vector<float> xin = randn(kRows * kDim, 1.0f);
  std::vector<int64_t> positions = {0, 7, 511, 2049, 2999, 3001};
  std::vector<float> bigin(2 * kLong);
  std::uniform_real_distribution<float> uni(30.0f, 50.0f);
  for (float& v : bigin) v = uni(rng);
  m.inputs = {*bytes_of(xin), *bytes_of(positions), *bytes_of(bigin)};
  return m;
}

void check_numbers(DType target, double tolerance) {
  NumericModel reference = make_numeric_model(1234);
  NumericModel lowered = make_numeric_model(1234);
  ASSERT_TRUE(verify_graph(reference.g).ok());
  ASSERT_TRUE(run_lower_precision(lowered.g, target));
  ASSERT_TRUE(verify_graph(lowered.g).ok()) << print_graph(lowered.g);
  size_t low_values = 0;
  for (const Value& v : lowered.g.values()) low_values += v.dtype == target;
  ASSERT_GT(low_values, 5u) << "nothing was lowered";

  auto want = run(reference.g, reference.inputs);
  auto got = run(lowered.g, lowered.inputs);
  ASSERT_EQ(want.size(), 4u);
  ASSERT_EQ(got.size(), 4u);
  const char* names[] = {"probs", "sine", "total", "mean"};
  for (size_t i = 0; i < 4; ++i) expect_close(as_floats(got[i]), as_floats(want[i]), tolerance, names[i]);
  // The fully masked row: uniform in float32, and still finite and uniform here.
  std::vector<float> probs = as_floats(got[0]);
  for (int j = 0; j < 6; ++j) EXPECT_NEAR(probs[5 * 6 + j], 1.0f / 6.0f, 1e-3) << j;
}

TEST(LowerPrecision, Float16NumbersMatchFloat32) { check_numbers(DType::kFloat16, 1e-2); }
TEST(LowerPrecision, BFloat16NumbersMatchFloat32) { check_numbers(DType::kBFloat16, 3e-2); }

// ---- compiler options -------------------------------------------------------------

TEST(LowerPrecisionOptions, CpuRefuses16BitBuilds) {
  BuildOptions options;
  options.backend = "cpu";
  options.precision = "fp16";
  auto r = build_engine("no-such-model.pt2", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("needs --backend cuda"), std::string::npos) << r.status().message();
}

TEST(LowerPrecisionOptions, RejectsMalformedCudaArch) {
  for (const char* arch : {"sm90", "sm_9", "sm_x0", "compute_90", "sm_090"}) {
    BuildOptions options;
    options.backend = "cuda";
    options.cuda_arch = arch;
    auto r = build_engine("no-such-model.pt2", options);
    ASSERT_FALSE(r.ok()) << arch;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << arch << ": " << r.status().message();
  }
}

TEST(LowerPrecisionOptions, RecordsPrecisionAndTf32) {
  BuildOptions options;
  options.backend = "cuda";
  options.precision = "bf16";
  options.allow_tf32 = true;
  bool tf32 = false, precision = false;
  for (const auto& [k, v] : options.to_record()) {
    if (k == "allow_tf32") tf32 = v == "true";
    if (k == "precision") precision = v == "bf16";
  }
  EXPECT_TRUE(tf32);
  EXPECT_TRUE(precision);
}

}  // namespace
}  // namespace ingot
