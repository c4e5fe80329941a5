// Tests of the channels-last layout pass (passes/layout.cc) on small CNN graphs:
// convs and pools become channels_last, permutes between them disappear (a
// ResNet-like graph keeps one permute at its input), the pass is idempotent,
// and the CPU backend (which runs channels-last convs and pools too) computes
// the same numbers as for the original NCHW graph.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

std::vector<std::vector<float>> run(const Graph& g, uint32_t seed) {
  auto r = evaluate_graph(g, random_input_bytes(g, seed));
  EXPECT_TRUE(r.ok()) << r.status().to_string() << "\n" << print_graph(g);
  std::vector<std::vector<float>> outs;
  if (!r.ok()) return outs;
  for (const auto& bytes : r.value()) {
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    outs.push_back(std::move(out));
  }
  return outs;
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

// The layout pass with the pipeline's cleanup; checks verification, numbers and idempotence.
void layout_and_compare(Graph& g) {
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  const Graph original = g;
  const auto want = run(original, 3);
  EXPECT_TRUE(run_layout_channels_last(g));
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  run_canonicalize(g);
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  const auto got = run(g, 3);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i]);
  // Idempotent: a second run changes nothing.
  const std::string before = print_graph(g);
  EXPECT_FALSE(run_layout_channels_last(g));
  EXPECT_EQ(print_graph(g), before);
  for (const Node& n : g.nodes()) {
    if (n.kind() == OpKind::kConv) EXPECT_TRUE(std::get<ConvAttrs>(n.attrs).channels_last) << print_graph(g);
  }
}

ConvAttrs conv2d(int64_t pad, int64_t stride = 1, int64_t groups = 1, int64_t activation = -1) {
  ConvAttrs c;
  c.stride = {stride, stride};
  c.padding = {pad, pad};
  c.dilation = {1, 1};
  c.groups = groups;
  c.activation = activation;
  return c;
}
constexpr int64_t kRelu = static_cast<int64_t>(UnaryFn::kRelu);

TEST(LayoutChannelsLast, ResNetLikeKeepsNhwcToThePool) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 3, 12, 12});
  // stem: conv 3x3 s2 + relu, max pool 3x3 s2 p1
  ValueId w0 = add_constant(g, "w0", {8, 3, 3, 3}, 1), b0 = add_constant(g, "b0", {8}, 2);
  ValueId s0 = add_op(g, conv2d(1, 2, 1, kRelu), {x, w0, b0}, {2, 8, 6, 6});
  PoolAttrs mp;
  mp.kind = static_cast<int64_t>(PoolKind::kMax);
  mp.kernel = {3, 3};
  mp.stride = {2, 2};
  mp.padding = {1, 1};
  mp.dilation = {1, 1};
  ValueId p0 = add_op(g, mp, {s0}, {2, 8, 3, 3});
  // basic block with identity residual
  ValueId w1 = add_constant(g, "w1", {8, 8, 3, 3}, 3), b1 = add_constant(g, "b1", {8}, 4);
  ValueId w2 = add_constant(g, "w2", {8, 8, 3, 3}, 5), b2 = add_constant(g, "b2", {8}, 6);
  ValueId a1 = add_op(g, conv2d(1, 1, 1, kRelu), {p0, w1, b1}, {2, 8, 3, 3});
  ValueId a2 = add_op(g, conv2d(1, 1, 1, kRelu), {a1, w2, b2, p0}, {2, 8, 3, 3});
  // downsample block: 1x1 stride-2 projection as the residual
  ValueId w3 = add_constant(g, "w3", {16, 8, 3, 3}, 7), b3 = add_constant(g, "b3", {16}, 8);
  ValueId wd = add_constant(g, "wd", {16, 8, 1, 1}, 9), bd = add_constant(g, "bd", {16}, 10);
  ValueId d = add_op(g, conv2d(0, 2), {a2, wd, bd}, {2, 16, 2, 2});
  ValueId a3 = add_op(g, conv2d(1, 2, 1, kRelu), {a2, w3, b3, d}, {2, 16, 2, 2});
  // global average pool + flatten
  ValueId gp = add_op(g, AdaptivePoolAttrs{.kind = 1}, {a3}, {2, 16, 1, 1});
  set_output(g, add_op(g, ReshapeAttrs{.shape = {2, 16}}, {gp}, {2, 16}));
  layout_and_compare(g);
  // One permute, on the input; the pooled [N, 1, 1, C] goes back by reshape only.
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 1u) << print_graph(g);
  bool first_is_input_permute = false;
  for (const Node& n : g.nodes())
    if (n.kind() == OpKind::kPermute) first_is_input_permute = n.inputs[0] == g.inputs[0];
  EXPECT_TRUE(first_is_input_permute) << print_graph(g);
  for (const Node& n : g.nodes()) {
    if (n.kind() == OpKind::kPool) EXPECT_TRUE(std::get<PoolAttrs>(n.attrs).channels_last);
    if (n.kind() == OpKind::kAdaptivePool) EXPECT_TRUE(std::get<AdaptivePoolAttrs>(n.attrs).channels_last);
  }
}

TEST(LayoutChannelsLast, SqueezeExciteAndBroadcastConstants) {
  // conv -> (x * gate(x)) * scale[C,1,1] + shift[1,C,1,1] -> depthwise conv -> output (NCHW)
  Graph g;
  ValueId x = add_input(g, "x", {1, 4, 6, 6});
  ValueId w0 = add_constant(g, "w0", {8, 4, 3, 3}, 1);
  ValueId y = add_op(g, conv2d(1), {x, w0}, {1, 8, 6, 6});
  ValueId pooled = add_op(g, AdaptivePoolAttrs{.kind = 1}, {y}, {1, 8, 1, 1});
  ValueId ws = add_constant(g, "ws", {2, 8, 1, 1}, 2), bs = add_constant(g, "bs", {2}, 3);
  ValueId sq = add_op(g, conv2d(0, 1, 1, static_cast<int64_t>(UnaryFn::kSilu)), {pooled, ws, bs}, {1, 2, 1, 1});
  ValueId we = add_constant(g, "we", {8, 2, 1, 1}, 4), be = add_constant(g, "be", {8}, 5);
  ValueId ex = add_op(g, conv2d(0, 1, 1, static_cast<int64_t>(UnaryFn::kSigmoid)), {sq, we, be}, {1, 8, 1, 1});
  ValueId gated = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kMul)}, {y, ex}, {1, 8, 6, 6});
  ValueId scale = add_constant(g, "scale", {8, 1, 1}, 6), shift = add_constant(g, "shift", {1, 8, 1, 1}, 7);
  ValueId scaled = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kMul)}, {scale, gated}, {1, 8, 6, 6});
  ValueId shifted = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}, {scaled, shift}, {1, 8, 6, 6});
  ValueId wdw = add_constant(g, "wdw", {8, 1, 3, 3}, 8);
  ValueId dw = add_op(g, conv2d(1, 2, 8), {shifted, wdw}, {1, 8, 3, 3});
  set_output(g, add_op(g, UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kHardSwish)}, {dw}, {1, 8, 3, 3}));
  layout_and_compare(g);
  // The input permute and the final permute back to the NCHW graph output.
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 2u) << print_graph(g);
}

TEST(LayoutChannelsLast, NonAgnosticOpsGetPermutesBothWays) {
  // conv -> upsample (no channels-last variant) -> conv; then a 4-d add of a full-size
  // non-constant NCHW input (would need a data permute) stays NCHW.
  Graph g;
  ValueId x = add_input(g, "x", {1, 3, 4, 4});
  ValueId r = add_input(g, "r", {1, 5, 8, 8});
  ValueId w0 = add_constant(g, "w0", {5, 3, 3, 3}, 1);
  ValueId y = add_op(g, conv2d(1), {x, w0}, {1, 5, 4, 4});
  ValueId up = add_op(g, UpsampleAttrs{.mode = 0, .align_corners = false, .scales = {2.0, 2.0}}, {y}, {1, 5, 8, 8});
  ValueId w1 = add_constant(g, "w1", {5, 5, 3, 3}, 2);
  ValueId z = add_op(g, conv2d(1), {up, w1}, {1, 5, 8, 8});
  set_output(g, add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}, {z, r}, {1, 5, 8, 8}));
  layout_and_compare(g);
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 4u) << print_graph(g);
}

TEST(LayoutChannelsLast, ReduceConcatAndSlice) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 3, 5, 5});
  ValueId wa = add_constant(g, "wa", {4, 3, 3, 3}, 1), wb = add_constant(g, "wb", {2, 3, 1, 1}, 2);
  ValueId a = add_op(g, conv2d(1), {x, wa}, {2, 4, 5, 5});
  ValueId b = add_op(g, conv2d(0), {x, wb}, {2, 2, 5, 5});
  ValueId cat = add_op(g, ConcatAttrs{.dim = 1}, {a, b}, {2, 6, 5, 5});
  ValueId sl = add_op(g, SliceAttrs{.dim = 1, .start = 1, .end = 5, .step = 1}, {cat}, {2, 4, 5, 5});
  ValueId mean = add_op(g, ReduceAttrs{.fn = static_cast<int64_t>(ReduceFn::kMean), .dims = {2, 3}, .keepdim = false},
                        {sl}, {2, 4});
  set_output(g, mean);
  ValueId mx = add_op(g, ReduceAttrs{.fn = static_cast<int64_t>(ReduceFn::kMax), .dims = {1}, .keepdim = true}, {cat},
                      {2, 1, 5, 5});
  set_output(g, mx);
  layout_and_compare(g);
  // Only the input permute; the channel max [N,1,H,W] comes back by reshape.
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 1u) << print_graph(g);
}

TEST(LayoutChannelsLast, LeavesTransposedAndOneDimensionalConvs) {
  Graph g;
  ValueId x = add_input(g, "x", {1, 2, 9});
  ValueId w = add_constant(g, "w", {3, 2, 3}, 1);
  ConvAttrs c;
  c.padding = {1};
  set_output(g, add_op(g, c, {x, w}, {1, 3, 9}));
  EXPECT_FALSE(run_layout_channels_last(g));
}

TEST(LayoutChannelsLast, Float16Graph) {
  Graph g;
  ValueId x = add_input(g, "x", {1, 4, 6, 6}, DType::kFloat16);
  // fp16 weights: a cast of fp32 constants, folded to fp16 constants by hand here.
  std::vector<uint16_t> wbits(8 * 4 * 3 * 3), bbits(8);
  std::mt19937 rng(5);
  for (auto& h : wbits) h = static_cast<uint16_t>(0x3000 + (rng() % 0x0800)) | ((rng() & 1) ? 0x8000 : 0);
  for (auto& h : bbits) h = static_cast<uint16_t>(0x3000 + (rng() % 0x0800));
  auto wb = std::make_shared<std::vector<uint8_t>>(wbits.size() * 2), bb = std::make_shared<std::vector<uint8_t>>(16);
  std::memcpy(wb->data(), wbits.data(), wb->size());
  std::memcpy(bb->data(), bbits.data(), bb->size());
  ValueId w = g.add_constant("w", DType::kFloat16, {8, 4, 3, 3}, wb);
  ValueId b = g.add_constant("b", DType::kFloat16, {8}, bb);
  ValueId y = add_op(g, conv2d(1, 1, 1, kRelu), {x, w, b}, {1, 8, 6, 6}, DType::kFloat16);
  PoolAttrs ap;
  ap.kind = static_cast<int64_t>(PoolKind::kAvg);
  ap.kernel = {2, 2};
  ap.stride = {2, 2};
  ValueId p = add_op(g, ap, {y}, {1, 8, 3, 3}, DType::kFloat16);
  set_output(g, p);
  ASSERT_TRUE(verify_graph(g).ok());
  std::vector<uint16_t> xin(144);
  for (auto& h : xin) h = static_cast<uint16_t>(0x3800 + (rng() % 0x0400)) | ((rng() & 1) ? 0x8000 : 0);
  std::vector<uint8_t> xb(288);
  std::memcpy(xb.data(), xin.data(), xb.size());
  auto before = evaluate_graph(g, {xb});
  ASSERT_TRUE(before.ok()) << before.status().to_string();
  EXPECT_TRUE(run_layout_channels_last(g));
  run_canonicalize(g);
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  auto after = evaluate_graph(g, {xb});
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  // Same float math on the same fp16 values, rounded once at the end: bit-identical.
  EXPECT_EQ(before.value()[0], after.value()[0]);
}

}  // namespace
}  // namespace ingot
