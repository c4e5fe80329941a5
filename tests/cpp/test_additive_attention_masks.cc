// Tests of src/passes/additive_attention_masks.cc on hand-built graphs: attention
// layers that share one bool mask (BERT's padding mask) read one additive mask made
// by a single Where in the attention's dtype, and the graph computes the same
// numbers on the CPU backend as before (the bool-mask graph is the reference: its
// attention kernel is tested against PyTorch), fully masked rows included (zeros,
// no NaN). Masks that are already additive are left alone.
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

constexpr int64_t kB = 2, kH = 3, kL = 6, kE = 8;

// A bool constant [kB, 1, kL, kL]: key j kept when j < kL - b - 1 (padding), and
// row 2 of batch 1 fully masked.
ValueId padding_mask(Graph& g) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(kB * kL * kL, 0);
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t i = 0; i < kL; ++i)
      for (int64_t j = 0; j < kL; ++j) (*bytes)[(b * kL + i) * kL + j] = j < kL - b - 1 && !(b == 1 && i == 2);
  return g.add_constant("mask", DType::kBool, {kB, 1, kL, kL}, bytes);
}

// `layers` attention steps in dtype t reading the same mask, each feeding the next
// as its query; inputs and outputs float32 (casts around a 16-bit body).
Graph layered(int layers, DType t, bool computed_mask) {
  Graph g;
  const std::vector<int64_t> shape = {kB, kH, kL, kE};
  ValueId x = add_input(g, "x", shape);
  ValueId k = add_input(g, "k", shape);
  ValueId v = add_input(g, "v", shape);
  ValueId mask;
  if (computed_mask) {
    // A mask the graph computes from an input, as HF builds it from attention_mask.
    ValueId m = add_input(g, "m", {kB, 1, 1, kL});
    ValueId zero = add_f32_constant(g, "threshold", {}, {-0.5f});
    mask = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kGt)}, {m, zero}, DType::kBool,
                  {kB, 1, 1, kL});
  } else {
    mask = padding_mask(g);
  }
  if (t != DType::kFloat32) {
    x = add_op(g, CastAttrs{}, {x}, t, shape);
    k = add_op(g, CastAttrs{}, {k}, t, shape);
    v = add_op(g, CastAttrs{}, {v}, t, shape);
  }
  for (int l = 0; l < layers; ++l)
    x = add_op(g, AttentionAttrs{.scale = 0.35}, {x, k, v, mask}, t, shape, "attention_" + std::to_string(l));
  if (t != DType::kFloat32) x = add_op(g, CastAttrs{}, {x}, DType::kFloat32, shape);
  set_output(g, x);
  return g;
}

void expect_same_numbers(const std::vector<float>& before, const std::vector<float>& after, float tol) {
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    ASSERT_FALSE(std::isnan(after[i])) << "element " << i;
    ASSERT_NEAR(before[i], after[i], tol) << "element " << i;
  }
}

TEST(AdditiveAttentionMasks, SharedBoolMaskBecomesOneWhereAndKeepsNumbers) {
  for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16})
    for (bool computed : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + (computed ? " computed mask" : " constant mask"));
      Graph g = layered(3, t, computed);
      const auto inputs = random_input_bytes(g, 11);
      auto before = evaluate_graph(g, inputs);
      ASSERT_TRUE(before.ok()) << before.status().message();

      ASSERT_TRUE(run_additive_attention_masks(g));
      ASSERT_TRUE(verify_graph(g).ok()) << verify_graph(g).message() << "\n" << print_graph(g);
      EXPECT_EQ(count_ops(g, OpKind::kWhere), 1u) << print_graph(g);
      ValueId shared = kNoValue;
      for (const Node& n : g.nodes()) {
        if (n.kind() != OpKind::kAttention) continue;
        const Value& m = g.value(n.inputs[3]);
        EXPECT_EQ(m.dtype, t);
        if (shared == kNoValue) shared = n.inputs[3];
        EXPECT_EQ(n.inputs[3], shared) << "every layer reads the one additive mask";
      }
      // A second run finds nothing left to do.
      EXPECT_FALSE(run_additive_attention_masks(g));

      auto after = evaluate_graph(g, inputs);
      ASSERT_TRUE(after.ok()) << after.status().message() << "\n" << print_graph(g);
      // The same kernel arithmetic (a masked score is -inf either way): equal up to
      // the order-independent rounding of the 16-bit body.
      expect_same_numbers(floats_of(before.value()[0]), floats_of(after.value()[0]),
                          t == DType::kFloat32 ? 1e-6f : 1e-2f);
      if (!computed) {
        // Batch 1's fully masked row 2 is zeros in every head, as with the bool mask.
        const auto out = floats_of(after.value()[0]);
        for (int64_t h = 0; h < kH; ++h)
          for (int64_t e = 0; e < kE; ++e) EXPECT_EQ(out[((1 * kH + h) * kL + 2) * kE + e], 0.f);
      }
    }
}

TEST(AdditiveAttentionMasks, AdditiveMasksAndUnmaskedAttentionAreLeftAlone) {
  Graph g;
  const std::vector<int64_t> shape = {kB, kH, kL, kE};
  ValueId q = add_input(g, "q", shape), k = add_input(g, "k", shape), v = add_input(g, "v", shape);
  ValueId bias = add_input(g, "bias", {kB, 1, kL, kL});
  ValueId a = add_op(g, AttentionAttrs{.scale = 0.35}, {q, k, v, bias}, shape);
  ValueId b = add_op(g, AttentionAttrs{.scale = 0.35}, {a, k, v}, shape);
  ValueId c = add_op(g, AttentionAttrs{.scale = 0.35, .is_causal = true}, {b, k, v}, shape);
  set_output(g, c);
  EXPECT_FALSE(run_additive_attention_masks(g));
  EXPECT_EQ(count_ops(g, OpKind::kWhere), 0u);
}

}  // namespace
}  // namespace ingot
