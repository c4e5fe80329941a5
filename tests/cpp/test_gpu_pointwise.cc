// The CUDA Pointwise kernel against the CPU Pointwise kernel (itself tested against
// hand-computed values and, through the fused pipeline, against PyTorch): programs
// made by the fusion pass and by hand, float32/float16/bfloat16, broadcast inputs
// (scalar, per-channel, strided over several dims), the 8-input and 64-instruction
// limits, every float unary and binary function on the scalar, 4-wide and 8-wide
// paths, inputs addressed by a period, and a tensor large enough for the grid-stride
// loop. GPU outputs are poisoned before each of two runs (gpu_test_util.h check()).
// Exits with 77 (skip) where there is no GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/passes.h"

#if defined(INGOT_WITH_CUDA)
#include "gpu_test_util.h"

namespace ingot {
namespace {

int64_t op(UnaryFn f) { return static_cast<int64_t>(f); }
int64_t op(BinaryFn f) { return static_cast<int64_t>(f); }

// GPT-2's gelu as the fusion pass writes it: fuse a hand-built graph, take its Pointwise node.
PointwiseAttrs fused_gelu_program() {
  Graph g;
  const std::vector<int64_t> s = {8};
  const DType f = DType::kFloat32;
  auto value = [&](std::vector<int64_t> shape) {
    Value v;
    v.dtype = f;
    v.shape = std::move(shape);
    v.name = "v" + std::to_string(g.num_values());
    return g.add_value(std::move(v));
  };
  auto scalar = [&](float x) {
    auto bytes = std::make_shared<std::vector<uint8_t>>(4);
    std::memcpy(bytes->data(), &x, 4);
    return g.add_constant("c" + std::to_string(g.num_values()), f, {}, bytes);
  };
  auto node = [&](OpAttrs attrs, std::vector<ValueId> in) {
    ValueId out = value(s);
    Node n;
    n.attrs = std::move(attrs);
    n.inputs = std::move(in);
    n.outputs = {out};
    g.add_node(std::move(n));
    return out;
  };
  auto un = [&](UnaryFn fn, ValueId x, double alpha = 0) { return node(UnaryAttrs{.fn = op(fn), .alpha = alpha}, {x}); };
  auto bin = [&](BinaryFn fn, ValueId a, ValueId b) { return node(BinaryAttrs{.fn = op(fn)}, {a, b}); };
  ValueId x = value(s);
  g.inputs.push_back(x);
  ValueId half_x = bin(BinaryFn::kMul, scalar(0.5f), x);
  ValueId cube = un(UnaryFn::kPowScalar, x, 3.0);
  ValueId inner = bin(BinaryFn::kAdd, x, bin(BinaryFn::kMul, cube, scalar(0.044715f)));
  ValueId th = un(UnaryFn::kTanh, bin(BinaryFn::kMul, inner, scalar(0.7978845608f)));
  ValueId y = bin(BinaryFn::kMul, half_x, bin(BinaryFn::kAdd, th, scalar(1.0f)));
  g.outputs = {y};
  g.output_names = {"y"};
  EXPECT_TRUE(run_fuse_pointwise(g));
  for (const Node& n : g.nodes())
    if (n.kind() == OpKind::kPointwise) return std::get<PointwiseAttrs>(n.attrs);
  ADD_FAILURE() << "the fusion pass made no Pointwise node";
  return {};
}

TEST(GpuPointwise, FusedGeluAllFloatTypes) {
  const PointwiseAttrs p = fused_gelu_program();
  for (DType t : kFloatTypes)
    for (const std::vector<int64_t>& s : std::vector<std::vector<int64_t>>{{7}, {4, 33, 65}, {1000003}}) {
      HostTensor x = rand_tensor(t, s, 1, -4, 4);
      check(std::string("gelu ") + dtype_name(t) + " " + shape_label(s), p, {&x}, {{t, s}});
    }
}

// (x + bias) * scale - sigmoid(x) * 0.5 with bias [C], scale [N, 1, W] and a [1] tensor input.
TEST(GpuPointwise, BroadcastInputs) {
  PointwiseAttrs p;
  p.immediates = {0, 0, 0.5};
  p.program = {1, op(BinaryFn::kAdd), 0, 1, 0,   // r4 = x + bias
               1, op(BinaryFn::kMul), 4, 2, 0,   // r5 = r4 * scale
               0, op(UnaryFn::kSigmoid), 0, 0, 0,  // r6 = sigmoid(x)
               2, 0, 0, 0, 2,                    // r7 = 0.5
               1, op(BinaryFn::kMul), 6, 7, 0,   // r8 = r6 * 0.5
               1, op(BinaryFn::kSub), 5, 8, 0,   // r9 = r5 - r8
               1, op(BinaryFn::kMaximum), 9, 3, 0};  // r10 = max(r9, t)
  for (DType t : kFloatTypes) {
    const std::vector<int64_t> s = {3, 5, 4, 6};
    HostTensor x = rand_tensor(t, s, 2), bias = rand_tensor(t, {5, 1, 1}, 3), scale = rand_tensor(t, {3, 1, 1, 6}, 4),
               floor = rand_tensor(t, {1}, 5, -0.5, 0.5);
    check(std::string("broadcast ") + dtype_name(t), p, {&x, &bias, &scale, &floor}, {{t, s}});
    // The same with x itself broadcast (out larger than every input).
    HostTensor xb = rand_tensor(t, {5, 1, 6}, 6);
    check(std::string("all broadcast ") + dtype_name(t), p, {&xb, &bias, &scale, &floor}, {{t, s}});
  }
}

// Shapes whose inner dim is a multiple of 4 take the 4-wide path: BERT's embedding
// sum (word + position [L, E] broadcast over the batch + token type), an input
// constant along the inner dim ([B, L, 1]), a scalar, and mixed input dtypes.
TEST(GpuPointwise, VectorPathBroadcasts) {
  PointwiseAttrs p;
  p.immediates = {};
  p.program = {1, op(BinaryFn::kAdd), 0, 1, 0,   // r5 = x + pos
               1, op(BinaryFn::kAdd), 5, 2, 0,   // r6 = r5 + type
               1, op(BinaryFn::kMul), 6, 3, 0,   // r7 = r6 * row
               1, op(BinaryFn::kSub), 7, 4, 0};  // r8 = r7 - t
  for (DType t : kFloatTypes) {
    for (const std::vector<int64_t>& s : std::vector<std::vector<int64_t>>{{2, 12, 16}, {3, 5, 4, 8}, {1, 1, 4}}) {
      const int64_t E = s.back();
      std::vector<int64_t> pos(s.begin() + 1, s.end()), row = s;
      row.back() = 1;
      HostTensor x = rand_tensor(t, s, 40), ps = rand_tensor(t, pos, 41), type = rand_tensor(t, {E}, 42),
                 rs = rand_tensor(t, row, 43), floor = rand_tensor(DType::kFloat32, {1}, 44);
      check(std::string("vector path ") + dtype_name(t) + " " + shape_label(s), p, {&x, &ps, &type, &rs, &floor},
            {{t, s}});
    }
    // No broadcast at all (every input the output's shape or a scalar), n a multiple of 4.
    HostTensor a = rand_tensor(t, {64, 12}, 45), b = rand_tensor(DType::kFloat32, {64, 12}, 46),
               c = rand_tensor(t, {1}, 47), d = rand_tensor(t, {64, 12}, 48), e = rand_tensor(t, {1}, 49);
    check(std::string("vector path same-shape ") + dtype_name(t), p, {&a, &b, &c, &d, &e}, {{t, {64, 12}}});
  }
}

// Inputs broadcast only along leading dims are addressed by a remainder (ViT's
// position add, BERT's position and token-type embeddings): periods that allow the
// 8-wide, the 4-wide and only the scalar path, size-1 dims inside the repeating
// block, beside an input that needs the strided path, and ViT's full size with
// 8-wide float32 loads.
TEST(GpuPointwise, PeriodicInputs) {
  PointwiseAttrs p;
  p.immediates = {};
  p.program = {1, op(BinaryFn::kAdd), 0, 1, 0,   // r3 = x + pos
               1, op(BinaryFn::kAdd), 3, 2, 0};  // r4 = r3 + type
  struct Case {
    std::vector<int64_t> out, pos, type;
  };
  const std::vector<Case> cases = {
      {{4, 7, 24}, {1, 7, 24}, {24}},        // periods 168 and 24: 8-wide
      {{3, 5, 12}, {5, 12}, {1, 1, 12}},     // 60 and 12: 4-wide
      {{2, 3, 6}, {1, 3, 6}, {6}},           // 18 and 6: scalar
      {{3, 5, 1, 8}, {5, 1, 8}, {1, 8}},     // a size-1 dim inside the period
      {{2, 3, 5, 16}, {5, 16}, {3, 1, 1}},   // type [3, 1, 1] is strided, not periodic
  };
  for (DType t : kFloatTypes)
    for (const Case& c : cases) {
      HostTensor x = rand_tensor(t, c.out, 70), pos = rand_tensor(t, c.pos, 71), type = rand_tensor(t, c.type, 72);
      check(std::string("periodic ") + dtype_name(t) + " " + shape_label(c.out), p, {&x, &pos, &type}, {{t, c.out}});
    }
  // Sums of 2 and 4 inputs (the add-chain kernel where every input has the output's
  // dtype), with a scalar among them; and a chain that adds out of order (the interpreter).
  PointwiseAttrs two;
  two.program = {1, op(BinaryFn::kAdd), 0, 1, 0};
  PointwiseAttrs four;
  four.program = {1, op(BinaryFn::kAdd), 0, 1, 0, 1, op(BinaryFn::kAdd), 4, 2, 0, 1, op(BinaryFn::kAdd), 5, 3, 0};
  PointwiseAttrs reordered;
  reordered.program = {1, op(BinaryFn::kAdd), 1, 0, 0, 1, op(BinaryFn::kAdd), 2, 3, 0};
  for (DType t : kFloatTypes)
    for (const std::vector<int64_t>& s : std::vector<std::vector<int64_t>>{{4, 7, 24}, {3, 5, 12}, {2, 3, 5}}) {
      std::vector<int64_t> row(s.begin() + 1, s.end());
      HostTensor x = rand_tensor(t, s, 76), pos = rand_tensor(t, row, 77), type = rand_tensor(t, {s.back()}, 78),
                 one = rand_tensor(t, {1}, 79);
      check(std::string("sum of two ") + dtype_name(t) + " " + shape_label(s), two, {&x, &pos}, {{t, s}});
      check(std::string("sum of four ") + dtype_name(t) + " " + shape_label(s), four, {&x, &pos, &type, &one},
            {{t, s}});
      check(std::string("reordered sum ") + dtype_name(t) + " " + shape_label(s), reordered, {&x, &pos, &type},
            {{t, s}});
    }
  // ViT-B/16's position add at batch 9 (9 x 197 x 768 elements), with a float32 type input.
  for (DType t : {DType::kFloat16, DType::kFloat32}) {
    HostTensor x = rand_tensor(t, {9, 197, 768}, 73), pos = rand_tensor(t, {1, 197, 768}, 74),
               type = rand_tensor(DType::kFloat32, {768}, 75);
    check(std::string("periodic large ") + dtype_name(t), p, {&x, &pos, &type}, {{t, {9, 197, 768}}});
  }
}

// Eight inputs of different broadcast shapes, summed with alternating ops.
TEST(GpuPointwise, EightInputs) {
  PointwiseAttrs p;
  p.immediates = {};
  int64_t acc = 0;
  for (int k = 1; k < 8; ++k) {
    p.program.insert(p.program.end(), {1, op(k % 2 ? BinaryFn::kAdd : BinaryFn::kMul), acc, k, 0});
    acc = 8 + (k - 1);
  }
  const std::vector<int64_t> s = {2, 3, 4, 5, 6};
  const std::vector<std::vector<int64_t>> shapes = {s, {6}, {5, 1}, {4, 1, 1}, {3, 1, 1, 1}, {2, 1, 1, 1, 1}, {1}, {3, 4, 1, 6}};
  for (DType t : kFloatTypes) {
    std::vector<HostTensor> ins;
    for (size_t k = 0; k < shapes.size(); ++k) ins.push_back(rand_tensor(t, shapes[k], 10 + k, -1.5, 1.5));
    std::vector<const HostTensor*> ptrs;
    for (const HostTensor& h : ins) ptrs.push_back(&h);
    check(std::string("eight inputs ") + dtype_name(t), p, ptrs, {{t, s}});
  }
}

// 64 instructions with long-lived and short-lived registers (slot reuse on the GPU side).
TEST(GpuPointwise, SixtyFourInstructions) {
  PointwiseAttrs p;
  p.immediates = {0, 0, 0.75};
  p.program.insert(p.program.end(), {2, 0, 0, 0, 2});  // r2 = 0.75
  int64_t last = 2;
  for (int i = 1; i < 64; ++i) {
    const int64_t reg = 2 + i;
    switch (i % 4) {
      case 0: p.program.insert(p.program.end(), {1, op(BinaryFn::kMul), last, 2, 0}); break;  // * 0.75
      case 1: p.program.insert(p.program.end(), {1, op(BinaryFn::kAdd), last, 0, 0}); break;  // + x
      case 2: p.program.insert(p.program.end(), {0, op(UnaryFn::kSin), last, 0, 0}); break;
      default: p.program.insert(p.program.end(), {1, op(BinaryFn::kSub), last, 1, 0}); break;  // - y
    }
    last = reg;
  }
  for (DType t : kFloatTypes) {
    HostTensor x = rand_tensor(t, {17, 31}, 20), y = rand_tensor(t, {31}, 21);
    check(std::string("64 instructions ") + dtype_name(t), p, {&x, &y}, {{t, {17, 31}}});
  }
}

bool positive_domain(UnaryFn fn) {
  switch (fn) {
    case UnaryFn::kLog: case UnaryFn::kSqrt: case UnaryFn::kRsqrt: case UnaryFn::kLog2: case UnaryFn::kLog1p:
    case UnaryFn::kPowScalar:
      return true;
    default: return false;
  }
}

// Every float unary fn inside a program: y = fn(x * a) + x, with fn's alpha/beta.
TEST(GpuPointwise, EveryUnaryFunction) {
  const int kNumUnary = static_cast<int>(UnaryFn::kScalarPow) + 1;
  for (int f = 0; f < kNumUnary; ++f) {
    const auto fn = static_cast<UnaryFn>(f);
    if (fn == UnaryFn::kBitwiseNot || fn == UnaryFn::kLogicalNot || fn == UnaryFn::kIsNan) continue;
    double alpha = 0, beta = 0;
    switch (fn) {
      case UnaryFn::kClamp: alpha = -0.5; beta = 0.7; break;
      case UnaryFn::kLeakyRelu: alpha = 0.1; break;
      case UnaryFn::kElu: alpha = 1.0; break;
      case UnaryFn::kSoftplus: alpha = 1.0; beta = 20.0; break;
      case UnaryFn::kPowScalar: alpha = 2.5; break;
      case UnaryFn::kScalarPow: alpha = 2.0; break;
      default: break;
    }
    PointwiseAttrs p;
    p.immediates = {alpha, beta, 1.25};
    p.program = {2, 0, 0, 0, 2,                      // r1 = 1.25
                 1, op(BinaryFn::kMul), 0, 1, 0,     // r2 = x * 1.25
                 0, f, 2, 0, 0,                      // r3 = fn(r2)
                 1, op(BinaryFn::kAdd), 3, 0, 0};    // r4 = r3 + x
    // Element counts that take the scalar, 4-wide and 8-wide paths (each dispatches
    // functions its own way).
    for (const std::vector<int64_t>& s : std::vector<std::vector<int64_t>>{{3, 37, 5}, {3, 5, 12}, {3, 5, 16}})
      for (DType t : kFloatTypes) {
        HostTensor x = positive_domain(fn) ? rand_tensor(t, s, 30 + f, 0.1, 3) : rand_tensor(t, s, 30 + f, -3, 3);
        check(std::string("unary ") + unary_fn_name(fn) + " " + dtype_name(t) + " " + shape_label(s), p, {&x},
              {{t, s}}, 1e-5);
      }
  }
}

// Every float binary fn, with a broadcast right operand away from zero.
TEST(GpuPointwise, EveryBinaryFunction) {
  for (BinaryFn fn : {BinaryFn::kAdd, BinaryFn::kSub, BinaryFn::kMul, BinaryFn::kDiv, BinaryFn::kPow,
                      BinaryFn::kMaximum, BinaryFn::kMinimum, BinaryFn::kAtan2, BinaryFn::kFmod,
                      BinaryFn::kRemainder, BinaryFn::kFloorDiv, BinaryFn::kTruncDiv}) {
    PointwiseAttrs p;
    p.immediates = {0, 0};
    p.program = {0, op(UnaryFn::kAbs), 0, 0, 0,  // r2 = |x| (pow needs a non-negative base)
                 1, op(fn), 2, 1, 0};            // r3 = fn(r2, y)
    for (int64_t cols : {40, 12, 7})  // the 8-wide, 4-wide and scalar paths
      for (DType t : kFloatTypes) {
        HostTensor x = rand_tensor(t, {6, cols}, 50, -3, 3), y = rand_tensor(t, {6, 1}, 51, 0.5, 2);
        check(std::string("binary ") + binary_fn_name(fn) + " " + dtype_name(t) + " cols " + std::to_string(cols), p,
              {&x, &y}, {{t, {6, cols}}});
      }
  }
}

// Inputs of another float dtype than the output (the kernels load each input by its own dtype).
TEST(GpuPointwise, MixedInputDtypes) {
  PointwiseAttrs p;
  p.immediates = {0, 0};
  p.program = {1, op(BinaryFn::kMul), 0, 1, 0, 0, op(UnaryFn::kSilu), 2, 0, 0};
  HostTensor x = rand_tensor(DType::kFloat16, {9, 10}, 60), y = rand_tensor(DType::kFloat32, {10}, 61);
  check("mixed f16*f32 -> bf16", p, {&x, &y}, {{DType::kBFloat16, {9, 10}}});
  check("mixed f16*f32 -> f32", p, {&x, &y}, {{DType::kFloat32, {9, 10}}});
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) { return ingot::run_gpu_tests(argc, argv); }
#else
int main() {
  std::printf("built without CUDA: skipping the GPU backend tests\n");
  return 77;
}
#endif
