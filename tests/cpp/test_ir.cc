// Tests of the IR: the printer's text form and the verifier catching each kind
// of malformed graph (the passes and the planner rely on what it checks).
#include <gtest/gtest.h>

#include <cstring>

#include "ir/graph.h"
#include "ir_test_util.h"

namespace ingot {
namespace {

using namespace ingot::test;

OpAttrs relu() { return UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kRelu)}; }
OpAttrs binary(BinaryFn fn) { return BinaryAttrs{.fn = static_cast<int64_t>(fn)}; }

// x -> conv(x, w, b) -> relu -> output
Graph conv_relu_graph() {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {1, 2, 4, 4});
  ValueId w = add_f32_constant(g, "conv.weight", {3, 2, 1, 1}, std::vector<float>(6, 1.0f));
  ValueId b = add_f32_constant(g, "conv.bias", {3}, {0, 1, 2});
  ConvAttrs conv;
  conv.stride = {1, 1};
  conv.padding = {0, 0};
  conv.dilation = {1, 1};
  ValueId c = add_op(g, conv, {x, w, b}, DType::kFloat32, {1, 3, 4, 4}, "convolution_3", "model.py:42");
  g.node(0).source.aten_target = "aten.convolution.default";
  ValueId r = add_op(g, relu(), {c}, DType::kFloat32, {1, 3, 4, 4}, "relu");
  g.outputs = {r};
  g.output_names = {"output.0"};
  return g;
}

TEST(IrPrinter, PrintsNodesConstantsAndIo) {
  Graph g = conv_relu_graph();
  ASSERT_TRUE(verify_graph(g).ok());
  std::string text = print_graph(g);
  EXPECT_NE(text.find("graph(%0:float32[1,2,4,4] \"x\")"), std::string::npos) << text;
  EXPECT_NE(text.find("const %w1:float32[3,2,1,1] \"conv.weight\""), std::string::npos) << text;
  EXPECT_NE(text.find("%3:float32[1,3,4,4] = conv(stride=[1,1], padding=[0,0], dilation=[1,1], output_padding=[], "
                      "groups=1, transposed=false, activation=-1, activation_alpha=0, activation_beta=0, channels_last=false)"
                      "(%0, %w1, %w2)  # convolution_3 model.py:42"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("%4:float32[1,3,4,4] = unary(fn=relu, alpha=0, beta=0)(%3)  # relu"), std::string::npos) << text;
  EXPECT_NE(text.find("return %4 \"output.0\""), std::string::npos) << text;
}

TEST(IrPrinter, PrintsAbsentOptionalInputsAndSymbols) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 8});
  g.value(x).dim_symbols = {"s0", ""};
  ValueId y = add_op(g, LayerNormAttrs{}, {x, kNoValue, kNoValue}, DType::kFloat32, {2, 8});
  g.outputs = {y};
  ASSERT_TRUE(verify_graph(g).ok());
  std::string text = print_graph(g);
  EXPECT_NE(text.find("float32[s0=2,8]"), std::string::npos) << text;
  EXPECT_NE(text.find("(%0, _, _)"), std::string::npos) << text;
}

TEST(IrPrinter, DescribeNodeNamesTargetNodeAndLocation) {
  Graph g = conv_relu_graph();
  EXPECT_EQ(describe_node(g.node(0)), "[aten.convolution.default] node 'convolution_3' (model.py:42)");
  // Without an aten target, the ingot op name stands in.
  EXPECT_EQ(describe_node(g.node(1)), "[unary] node 'relu'");
}

TEST(IrGraph, UseCountsAndReplaceAllUses) {
  Graph g = conv_relu_graph();
  std::vector<int> uses = g.use_counts();
  EXPECT_EQ(uses[0], 1);  // x read by conv
  EXPECT_EQ(uses[3], 1);  // conv output read by relu
  EXPECT_EQ(uses[4], 1);  // relu output is the graph output
  g.replace_all_uses(4, 3);
  EXPECT_EQ(g.outputs[0], 3);
  EXPECT_EQ(g.value(4).numel(), 48);
  EXPECT_EQ(g.value(4).nbytes(), 48u * 4);
}

TEST(IrVerifier, AcceptsWellFormedGraph) { EXPECT_TRUE(verify_graph(conv_relu_graph()).ok()); }

TEST(IrVerifier, RejectsOutOfRangeInput) {
  Graph g = conv_relu_graph();
  g.node(1).inputs[0] = 99;
  Status st = verify_graph(g);
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_NE(st.message().find("out of range"), std::string::npos) << st.message();
}

TEST(IrVerifier, RejectsUseBeforeDefinition) {
  Graph g = conv_relu_graph();
  std::swap(g.nodes()[0], g.nodes()[1]);
  g.rebuild_producers();
  Status st = verify_graph(g);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("before it is defined"), std::string::npos) << st.message();
}

TEST(IrVerifier, RejectsValueProducedTwice) {
  Graph g = conv_relu_graph();
  Node dup = g.node(1);
  g.add_node(dup);
  Status st = verify_graph(g);
  EXPECT_FALSE(st.ok());
  // Caught either as a second production or as a producer mismatch on the first.
  EXPECT_NE(st.message().find("output %4"), std::string::npos) << st.message();
}

TEST(IrVerifier, RejectsMissingRequiredInputButAllowsOptional) {
  Graph g = conv_relu_graph();
  g.node(0).inputs[2] = kNoValue;  // conv bias is optional
  EXPECT_TRUE(verify_graph(g).ok());
  g.node(0).inputs[1] = kNoValue;  // the weight is not
  Status st = verify_graph(g);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("input 1 is required"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("convolution_3"), std::string::npos) << st.message();
}

TEST(IrVerifier, RejectsWrongArity) {
  Graph g = conv_relu_graph();
  g.node(1).inputs.push_back(0);  // unary with two inputs
  Status st = verify_graph(g);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("takes 1 inputs, got 2"), std::string::npos) << st.message();
}

TEST(IrVerifier, RejectsNoOutputs) {
  Graph g = conv_relu_graph();
  g.outputs.clear();
  g.output_names.clear();
  EXPECT_FALSE(verify_graph(g).ok());
  Graph g2 = conv_relu_graph();
  g2.node(1).outputs.clear();
  EXPECT_FALSE(verify_graph(g2).ok());
}

TEST(IrVerifier, RejectsNonBoolWhereCondition) {
  Graph g;
  ValueId c = add_input(g, "c", DType::kFloat32, {4});
  ValueId a = add_input(g, "a", DType::kFloat32, {4});
  ValueId b = add_input(g, "b", DType::kFloat32, {4});
  ValueId w = add_op(g, WhereAttrs{}, {c, a, b}, DType::kFloat32, {4});
  g.outputs = {w};
  Status st = verify_graph(g);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not bool"), std::string::npos) << st.message();
  g.value(c).dtype = DType::kBool;
  EXPECT_TRUE(verify_graph(g).ok());
}

TEST(IrVerifier, RejectsMismatchedBinaryDtypesAndComparisonOutput) {
  Graph g;
  ValueId a = add_input(g, "a", DType::kFloat32, {4});
  ValueId b = add_input(g, "b", DType::kInt64, {4});
  ValueId s = add_op(g, binary(BinaryFn::kAdd), {a, b}, DType::kFloat32, {4});
  g.outputs = {s};
  EXPECT_FALSE(verify_graph(g).ok());
  g.value(b).dtype = DType::kFloat32;
  EXPECT_TRUE(verify_graph(g).ok());
  g.node(0).attrs = binary(BinaryFn::kLt);  // comparisons produce bool
  EXPECT_FALSE(verify_graph(g).ok());
}

TEST(IrVerifier, RejectsConstantWithWrongByteCount) {
  Graph g = conv_relu_graph();
  g.value(2).constant = std::make_shared<std::vector<uint8_t>>(5);
  Status st = verify_graph(g);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bytes"), std::string::npos) << st.message();
}

TEST(IrVerifier, RejectsUndefinedGraphOutputAndBadOutputNames) {
  Graph g = conv_relu_graph();
  ValueId orphan = g.add_value(Value{});
  g.outputs = {orphan};
  EXPECT_FALSE(verify_graph(g).ok());
  Graph g2 = conv_relu_graph();
  g2.output_names = {"a", "b"};
  EXPECT_FALSE(verify_graph(g2).ok());
}

TEST(IrVerifier, RejectsReshapeChangingElementCount) {
  Graph g;
  ValueId x = add_input(g, "x", DType::kFloat32, {2, 3});
  ValueId y = add_op(g, ReshapeAttrs{.shape = {7}}, {x}, DType::kFloat32, {7});
  g.outputs = {y};
  EXPECT_FALSE(verify_graph(g).ok());
}

}  // namespace
}  // namespace ingot
