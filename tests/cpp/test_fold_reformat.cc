// Tests of fold_reformat (src/passes/fold_reformat.cc): a float cast feeding a
// permute (through reshapes), and a permute feeding a cast, become one Reformat.
// Each fold is checked on the IR and on numbers: the graph before the pass, run on
// the CPU backend, is the reference, and the folded graph must match it exactly
// (moving an element and converting it commute). Near misses (a value in between
// with a second reader or that is a graph output, a cast that is not between
// float types) must stay as they are.
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

ValueId cast(Graph& g, ValueId x, DType to) { return add_op(g, CastAttrs{}, {x}, to, g.value(x).shape); }

ValueId permute(Graph& g, ValueId x, std::vector<int64_t> perm) {
  std::vector<int64_t> shape;
  for (int64_t p : perm) shape.push_back(g.value(x).shape[static_cast<size_t>(p)]);
  return add_op(g, PermuteAttrs{.perm = std::move(perm)}, {x}, g.value(x).dtype, shape);
}

ValueId reshape(Graph& g, ValueId x, std::vector<int64_t> shape) {
  return add_op(g, ReshapeAttrs{.shape = shape}, {x}, g.value(x).dtype, shape);
}

// Folds, then checks the graph and its numbers against `before` (exactly).
void fold_and_check(Graph& g, size_t reformats) {
  const auto before = run(g);
  ASSERT_TRUE(run_fold_reformat(g)) << print_graph(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  run_canonicalize(g);
  run_dce(g);
  ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kReformat), reformats) << print_graph(g);
  EXPECT_EQ(count_ops(g, OpKind::kPermute), 0u) << print_graph(g);
  const auto after = run(g);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) expect_close(after[i], before[i], 0);
  EXPECT_FALSE(run_fold_reformat(g));  // a fixed point
}

// ResNet's input: float32 NCHW, cast to fp16, permuted to NHWC (then, for the
// harness, back to float32).
TEST(FoldReformat, CastThenPermute) {
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    Graph g;
    ValueId x = add_input(g, "x", {2, 3, 5, 7});
    ValueId y = permute(g, cast(g, x, t), {0, 2, 3, 1});
    set_output(g, cast(g, y, DType::kFloat32));
    fold_and_check(g, 1);
    EXPECT_EQ(count_ops(g, OpKind::kCast), 1u) << print_graph(g);  // only the output's
  }
}

// A permute written with negative dims: the reformat gets them normalized.
TEST(FoldReformat, NegativePermDims) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 3, 5, 7});
  ValueId h = cast(g, x, DType::kFloat16);
  ValueId y = add_op(g, PermuteAttrs{.perm = {0, -2, -1, 1}}, {h}, DType::kFloat16, {2, 5, 7, 3});
  set_output(g, cast(g, y, DType::kFloat32));
  fold_and_check(g, 1);
  for (const Node& n : g.nodes())
    if (n.kind() == OpKind::kReformat)
      EXPECT_EQ(std::get<ReformatAttrs>(n.attrs).perm, (std::vector<int64_t>{0, 2, 3, 1}));
}

// ViT's patches: cast, reshape into 4x4 patches, permute, flatten.
TEST(FoldReformat, CastReshapePermuteReshape) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 3, 8, 8});
  ValueId r = reshape(g, cast(g, x, DType::kFloat16), {2, 3, 2, 4, 2, 4});
  ValueId p = permute(g, r, {0, 2, 4, 1, 3, 5});
  ValueId flat = reshape(g, p, {8, 48});
  set_output(g, cast(g, flat, DType::kFloat32));
  fold_and_check(g, 1);
  // The reshape before the reformat now carries float32.
  for (const Node& n : g.nodes())
    if (n.kind() == OpKind::kReformat) EXPECT_EQ(g.value(n.inputs[0]).dtype, DType::kFloat32);
}

// The mirror: a 16-bit NHWC value permuted back to NCHW, flattened and cast to
// float32 for the output: the reformat writes float32 and the output cast goes.
TEST(FoldReformat, PermuteReshapeThenCast) {
  Graph g;
  ValueId x = add_input(g, "x", {2, 4, 3, 5});
  ValueId h = add_op(g, UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kRelu)}, {cast(g, x, DType::kFloat16)},
                     DType::kFloat16, {2, 4, 3, 5});
  ValueId p = permute(g, h, {0, 3, 1, 2});
  set_output(g, cast(g, reshape(g, p, {2, 60}), DType::kFloat32));
  fold_and_check(g, 1);
  EXPECT_EQ(count_ops(g, OpKind::kCast), 1u) << print_graph(g);  // only the input's
}

// A value between cast and permute with a second reader, or that is a graph
// output, keeps its dtype: nothing folds.
TEST(FoldReformat, SharedOrOutputValuesStay) {
  {
    Graph g;
    ValueId x = add_input(g, "x", {2, 3, 4, 4});
    ValueId h = cast(g, x, DType::kFloat16);
    ValueId p = permute(g, h, {0, 2, 3, 1});
    set_output(g, cast(g, p, DType::kFloat32));
    ValueId other =
        add_op(g, UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kNeg)}, {h}, DType::kFloat16, {2, 3, 4, 4});
    set_output(g, cast(g, other, DType::kFloat32));
    // The permute's output goes on to a cast too: that mirror fold is the only one
    // allowed (the permute's own output has one reader).
    ASSERT_TRUE(run_fold_reformat(g));
    ASSERT_TRUE(verify_graph(g).ok()) << print_graph(g);
    for (const Node& n : g.nodes())
      if (n.kind() == OpKind::kReformat) {
        EXPECT_EQ(g.value(n.inputs[0]).dtype, DType::kFloat16);   // h kept its dtype
        EXPECT_EQ(g.value(n.outputs[0]).dtype, DType::kFloat32);  // writes the output's
      }
  }
  {
    Graph g;
    ValueId x = add_input(g, "x", {2, 3, 4, 4});
    ValueId h = cast(g, x, DType::kFloat16);
    ValueId p = permute(g, h, {0, 2, 3, 1});
    set_output(g, h);  // h is an output: its dtype is the engine's interface
    set_output(g, p);
    EXPECT_FALSE(run_fold_reformat(g)) << print_graph(g);
  }
}

// A cast from an integer type is no float conversion: left alone.
TEST(FoldReformat, IntegerCastStays) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kInt32, {2, 3, 4});
  ValueId p = permute(g, cast(g, x, DType::kFloat16), {0, 2, 1});
  set_output(g, p);
  EXPECT_FALSE(run_fold_reformat(g)) << print_graph(g);
}

}  // namespace
}  // namespace ingot
