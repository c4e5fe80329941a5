// Tests of slice hoisting (src/passes/hoist_slices.cc) on hand-built graphs shaped
// like the end of a ViT / BERT encoder: the ops before a row slice end up computing
// only the kept rows (their output shapes say so), and the graph computes the same
// numbers as before on the CPU backend (the unhoisted graph is the reference: its
// ops are CPU kernels tested against PyTorch). Also what must not move: causal
// attention, values other ops read in full, reshapes that scatter the rows.
#include <gtest/gtest.h>

#include <vector>

#include "ir/graph.h"
#include "ir_test_util.h"
#include "pass_test_util.h"
#include "passes/evaluate.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using namespace ingot::test;

constexpr int64_t kB = 2, kL = 5, kH = 2, kE = 4, kD = kH * kE, kF = 12;

// Hoists, cleans up as the pipeline does, and checks every output is unchanged.
int hoist_and_compare(Graph& g) {
  return change_and_compare(g, 11, [](Graph& h) {
    const int moves = run_hoist_slices(h);
    EXPECT_TRUE(verify_graph(h).ok()) << verify_graph(h).message() << "\n" << print_graph(h);
    run_canonicalize(h);
    run_dce(h);
    return moves;
  });
}

// Row count (dim 1) of the first node of `kind` after `skip` earlier ones.
int64_t rows_of(const Graph& g, OpKind kind, int skip = 0, size_t dim = 1) {
  for (const Node& n : g.nodes())
    if (n.kind() == kind && skip-- == 0) return g.value(n.outputs[0]).shape.at(dim);
  return -1;
}

ValueId layer_norm(Graph& g, ValueId x, uint32_t seed) {
  ValueId w = add_constant(g, "ln_w" + std::to_string(seed), {kD}, seed);
  ValueId b = add_constant(g, "ln_b" + std::to_string(seed), {kD}, seed + 1);
  return add_op(g, LayerNormAttrs{.normalized_ndim = 1, .eps = 1e-5}, {x, w, b}, g.value(x).shape);
}

ValueId linear(Graph& g, ValueId x, int64_t n, uint32_t seed, ValueId residual = kNoValue, int64_t act = -1) {
  std::vector<int64_t> shape = g.value(x).shape;
  const int64_t k = shape.back();
  shape.back() = n;
  ValueId w = add_constant(g, "w" + std::to_string(seed), {n, k}, seed);
  ValueId b = add_constant(g, "b" + std::to_string(seed), {n}, seed + 1);
  std::vector<ValueId> in = {x, w, b};
  if (residual != kNoValue) in.push_back(residual);
  return add_op(g, GemmAttrs{.trans_b = true, .activation = act}, in, shape);
}

ValueId rows(Graph& g, ValueId x, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
  std::vector<int64_t> shape = g.value(x).shape;
  shape[static_cast<size_t>(dim)] = (end - start + step - 1) / step;
  return add_op(g, SliceAttrs{.dim = dim, .start = start, .end = end, .step = step}, {x}, shape);
}

struct EncoderOptions {
  bool fold_views = true;   // run fold_attention_views first (the pipeline's order)
  bool causal = false;
  bool mask = false;        // [B, 1, 1, L] padding mask
  bool row_mask = false;    // [B, 1, L, L] mask: a row dim the hoist must slice
};

// A pre-norm block and a final norm: x [B, L, D] -> LN -> q/k/v -> attention ->
// out-projection + x -> LN -> GELU MLP + residual -> LN. Returns the last value.
ValueId encoder(Graph& g, const EncoderOptions& o) {
  ValueId x = add_input(g, "x", {kB, kL, kD});
  ValueId mask = kNoValue;
  if (o.mask) mask = add_input(g, "mask", {kB, 1, 1, kL});
  if (o.row_mask) mask = add_input(g, "mask", {kB, 1, kL, kL});
  ValueId h = layer_norm(g, x, 10);
  ValueId heads[3];
  for (int i = 0; i < 3; ++i) {
    ValueId p = linear(g, h, kD, 20 + 2 * i);
    ValueId r = add_op(g, ReshapeAttrs{.shape = {kB, kL, kH, kE}}, {p}, {kB, kL, kH, kE});
    heads[i] = add_op(g, PermuteAttrs{.perm = {0, 2, 1, 3}}, {r}, {kB, kH, kL, kE});
  }
  std::vector<ValueId> in = {heads[0], heads[1], heads[2]};
  if (mask != kNoValue) in.push_back(mask);
  ValueId a = add_op(g, AttentionAttrs{.scale = 0.5, .is_causal = o.causal}, in, {kB, kH, kL, kE});
  ValueId t = add_op(g, PermuteAttrs{.perm = {0, 2, 1, 3}}, {a}, {kB, kL, kH, kE});
  ValueId flat = add_op(g, ReshapeAttrs{.shape = {kB, kL, kD}}, {t}, {kB, kL, kD});
  ValueId x1 = linear(g, flat, kD, 30, x);
  ValueId m = linear(g, layer_norm(g, x1, 40), kF, 50, kNoValue, static_cast<int64_t>(UnaryFn::kGelu));
  ValueId x2 = linear(g, m, kD, 60, x1);
  ValueId out = layer_norm(g, x2, 70);
  if (o.fold_views) {
    // DCE renumbers values: keep `out` as a graph output across it.
    set_output(g, out);
    run_merge_sibling_gemms(g, true, false);
    run_fold_attention_views(g, false);
    run_dce(g);
    out = g.outputs.back();
    g.outputs.pop_back();
    g.output_names.pop_back();
  }
  return out;
}

// The class-token head: out[:, 0] -> [B, D] -> Linear.
void class_token_head(Graph& g, ValueId out, int64_t row = 0) {
  ValueId cls = rows(g, out, 1, row, row + 1);
  ValueId flat = add_op(g, ReshapeAttrs{.shape = {kB, kD}}, {cls}, {kB, kD});
  set_output(g, linear(g, flat, 3, 80));
}

TEST(HoistSlices, VitClassTokenNarrowsTheLastBlock) {
  for (bool fold : {true, false}) {
    SCOPED_TRACE(fold ? "strided attention views" : "dense attention");
    Graph g;
    ValueId out = encoder(g, {.fold_views = fold});
    class_token_head(g, out);
    EXPECT_GE(hoist_and_compare(g), 6) << print_graph(g);
    // The first layer norm feeds k and v: all rows. Then one query row onwards.
    EXPECT_EQ(rows_of(g, OpKind::kLayerNorm, 0), kL);
    EXPECT_EQ(rows_of(g, OpKind::kLayerNorm, 1), 1) << print_graph(g);
    EXPECT_EQ(rows_of(g, OpKind::kLayerNorm, 2), 1);
    const int64_t attention_rows = fold ? rows_of(g, OpKind::kAttention) : rows_of(g, OpKind::kAttention, 0, 2);
    EXPECT_EQ(attention_rows, 1) << print_graph(g);
    // The residual x entering the block is read in full by the first norm: one slice stays there.
    EXPECT_EQ(count_ops(g, OpKind::kSlice), fold ? 1u : 2u) << print_graph(g);
  }
}

TEST(HoistSlices, LastTokenAndStridedRows) {
  for (int64_t row : {kL - 1, int64_t{2}}) {
    Graph g;
    class_token_head(g, encoder(g, {}), row);
    EXPECT_GE(hoist_and_compare(g), 6);
    EXPECT_EQ(rows_of(g, OpKind::kAttention), 1);
  }
  Graph g;
  ValueId out = encoder(g, {});
  set_output(g, rows(g, out, 1, 1, kL, 2));  // rows 1, 3
  EXPECT_GE(hoist_and_compare(g), 6);
  EXPECT_EQ(rows_of(g, OpKind::kAttention), 2);
  EXPECT_EQ(rows_of(g, OpKind::kLayerNorm, 2), 2);
}

TEST(HoistSlices, MasksKeepTheirBroadcastOrLoseRows) {
  for (bool row_mask : {false, true}) {
    for (bool fold : {true, false}) {
      SCOPED_TRACE(std::string(row_mask ? "[B,1,L,L] mask" : "[B,1,1,L] mask") + (fold ? " folded" : " dense"));
      Graph g;
      ValueId out = encoder(g, {.fold_views = fold, .mask = !row_mask, .row_mask = row_mask});
      class_token_head(g, out);
      EXPECT_GE(hoist_and_compare(g), 6);
      EXPECT_EQ(rows_of(g, OpKind::kAttention, 0, fold ? 1 : 2), 1) << print_graph(g);
    }
  }
}

TEST(HoistSlices, CausalAttentionKeepsEveryQuery) {
  Graph g;
  class_token_head(g, encoder(g, {.causal = true}), kL - 1);
  EXPECT_GE(hoist_and_compare(g), 4) << "the MLP and norms still narrow";
  EXPECT_EQ(rows_of(g, OpKind::kAttention), kL);
  EXPECT_EQ(rows_of(g, OpKind::kLayerNorm, 2), 1);
}

TEST(HoistSlices, ValuesReadInFullStayWhole) {
  Graph g;
  ValueId out = encoder(g, {});
  set_output(g, out);  // the whole last hidden state is an output too
  class_token_head(g, out);
  EXPECT_EQ(hoist_and_compare(g), 0);
  EXPECT_EQ(rows_of(g, OpKind::kLayerNorm, 2), kL);
}

TEST(HoistSlices, ElementwiseOperandsSliceOnlyWhereTheyVary) {
  Graph g;
  ValueId x = add_input(g, "x", {kB, kL, kD});
  ValueId per_row = add_constant(g, "per_row", {1, kL, 1}, 5);    // varies along the sliced dim
  ValueId per_col = add_constant(g, "per_col", {kD}, 6);          // absent there
  ValueId y = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kMul)}, {x, per_row}, {kB, kL, kD});
  ValueId z = add_op(g, BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}, {y, per_col}, {kB, kL, kD});
  ValueId t = add_op(g, UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kTanh)}, {z}, {kB, kL, kD});
  set_output(g, rows(g, t, 1, 3, 4));
  EXPECT_EQ(hoist_and_compare(g), 3);
  EXPECT_EQ(rows_of(g, OpKind::kBinary), 1);
  EXPECT_EQ(count_ops(g, OpKind::kSlice), 2u) << "x and per_row\n" << print_graph(g);
}

TEST(HoistSlices, GemmBiasOfAnyShapeIsSliced) {
  // addmm-style biases: [N], [L, N] (broadcast over the batch) and the full [B, L, N].
  const std::vector<std::vector<int64_t>> bias_shapes = {{kD}, {kL, kD}, {kB, kL, kD}};
  for (const auto& bias_shape : bias_shapes) {
    SCOPED_TRACE("bias rank " + std::to_string(bias_shape.size()));
    Graph g;
    ValueId x = add_input(g, "x", {kB, kL, kD});
    ValueId w = add_constant(g, "w", {kD, kD}, 3);
    ValueId bias = add_constant(g, "bias", bias_shape, 4);
    ValueId y = add_op(g, GemmAttrs{.trans_b = true, .beta = 0.5}, {x, w, bias}, {kB, kL, kD});
    set_output(g, rows(g, y, 1, 3, 4));
    EXPECT_EQ(hoist_and_compare(g), 1);
    EXPECT_EQ(rows_of(g, OpKind::kGemm), 1) << print_graph(g);
    EXPECT_EQ(count_ops(g, OpKind::kSlice), bias_shape.size() == 1 ? 1u : 2u) << print_graph(g);
  }
}

TEST(HoistSlices, LayerNormPreAddsAreSliced) {
  // A norm that already adds a residual and an input bias (fold_gemm_bias_into_norm's
  // form): the residual's rows are sliced with x, the [D] bias stays whole.
  Graph g;
  ValueId x = add_input(g, "x", {kB, kL, kD});
  ValueId r = add_input(g, "r", {kB, kL, kD});
  ValueId w = add_constant(g, "ln_w", {kD}, 5);
  ValueId b = add_constant(g, "ln_b", {kD}, 6);
  ValueId pb = add_constant(g, "pb", {kD}, 7);
  ValueId y = add_op(g, LayerNormAttrs{.normalized_ndim = 1, .eps = 1e-5}, {x, w, b, r, pb}, {kB, kL, kD});
  set_output(g, rows(g, y, 1, 1, kL, 2));
  EXPECT_EQ(hoist_and_compare(g), 1);
  EXPECT_EQ(rows_of(g, OpKind::kLayerNorm), 2) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kSlice), 2u) << print_graph(g);  // x and the residual
}

TEST(HoistSlices, SlicesOfTheSameRowsWithDifferentEndsMoveTogether) {
  // x[:, 0:8:4] and x[:, 0:5:4] both keep rows 0 and 4 (the frontend keeps the end as written).
  Graph g;
  ValueId x = add_input(g, "x", {kB, 8, kD});
  ValueId t = add_op(g, UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kTanh)}, {x}, {kB, 8, kD});
  set_output(g, rows(g, t, 1, 0, 8, 4));
  set_output(g, rows(g, t, 1, 0, 5, 4));
  EXPECT_EQ(hoist_and_compare(g), 1);
  EXPECT_EQ(rows_of(g, OpKind::kUnary), 2) << print_graph(g);
}

TEST(HoistSlices, ReshapesMapRowsToWholeBlocks) {
  // Sequence-first projections: [L*B, D] -> [L, B, D] -> [B, L, D]; row 2 of dim 1
  // is rows 4..5 of the flat product's input.
  Graph g;
  ValueId x = add_input(g, "x", {kL * kB, kD});
  ValueId p = linear(g, x, kD, 90);
  ValueId r = add_op(g, ReshapeAttrs{.shape = {kL, kB, kD}}, {p}, {kL, kB, kD});
  ValueId t = add_op(g, PermuteAttrs{.perm = {1, 0, 2}}, {r}, {kB, kL, kD});
  set_output(g, rows(g, t, 1, 2, 3));
  EXPECT_EQ(hoist_and_compare(g), 3);
  EXPECT_EQ(rows_of(g, OpKind::kGemm, 0, 0), kB) << print_graph(g);

  // [B, L*D] -> [B, L, D]: rows of dim 1 are columns of the input, not rows; a
  // Gemm over those columns must not narrow (its K would change).
  Graph h;
  ValueId y = add_input(h, "y", {kB, kL * kD});
  ValueId q = linear(h, y, kL * kD, 91);
  ValueId s = add_op(h, ReshapeAttrs{.shape = {kB, kL, kD}}, {q}, {kB, kL, kD});
  set_output(h, rows(h, s, 1, 0, 1));
  EXPECT_EQ(hoist_and_compare(h), 1) << "through the reshape only";
  EXPECT_EQ(rows_of(h, OpKind::kGemm, 0, 1), kL * kD);
}

}  // namespace
}  // namespace ingot
