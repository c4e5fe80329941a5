// The CUDA backend's fused and channels-last convolutions and channels-last pools
// against the CPU backend (the reference, itself tested against PyTorch): conv
// with bias + residual + activation in NCHW and NHWC (cuDNN's fused
// conv-bias-activation call, and the epilogue kernel for everything it does not
// fuse), grouped/depthwise and transposed convs with an epilogue, every tactic
// conv_tactics lists for one problem (and the refusal of an unknown one), and
// NHWC max/avg/adaptive pools, in float32, float16 and bfloat16. GPU outputs are
// poisoned before each run (so a z = y read with alpha2 = 0 would show as NaN).
// Exits with 77 (skip) where there is no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.h"

#if defined(INGOT_WITH_CUDA)
#include "backends/cuda/conv_cudnn_graph.h"
#include "gpu_test_util.h"

namespace ingot {
namespace {

ConvAttrs conv2d(int64_t pad, int64_t stride, int64_t groups, int64_t activation, bool channels_last,
                 double alpha = 0, double beta = 0) {
  ConvAttrs c;
  c.stride = {stride, stride};
  c.padding = {pad, pad};
  c.dilation = {1, 1};
  c.groups = groups;
  c.activation = activation;
  c.activation_alpha = alpha;
  c.activation_beta = beta;
  c.channels_last = channels_last;
  return c;
}

// [N, C, H, W] -> [N, H, W, C] (or [Cout, Cin/g, kh, kw] -> [Cout, kh, kw, Cin/g]).
std::vector<int64_t> nhwc(const std::vector<int64_t>& s) { return {s[0], s[2], s[3], s[1]}; }

constexpr int64_t fn(UnaryFn f) { return static_cast<int64_t>(f); }
const double kInf = std::numeric_limits<double>::infinity();

TEST(GpuConvFused, BiasResidualActivationBothLayouts) {
  struct Act {
    int64_t fn;
    double alpha, beta;
  };
  const Act acts[] = {{-1, 0, 0},
                      {fn(UnaryFn::kRelu), 0, 0},
                      {fn(UnaryFn::kClamp), 0, 6},
                      {fn(UnaryFn::kClamp), 0, kInf},
                      {fn(UnaryFn::kSilu), 0, 0},
                      {fn(UnaryFn::kSigmoid), 0, 0},
                      {fn(UnaryFn::kHardSwish), 0, 0},
                      {fn(UnaryFn::kHardSigmoid), 0, 0},
                      {fn(UnaryFn::kGelu), 0, 0},
                      {fn(UnaryFn::kGeluTanh), 0, 0},
                      {fn(UnaryFn::kLeakyRelu), 0.1, 0},
                      {fn(UnaryFn::kTanh), 0, 0}};
  for (DType t : kFloatTypes) {
    for (bool cl : {false, true}) {
      const std::vector<int64_t> xs = {2, 16, 9, 10}, ws = {32, 16, 3, 3}, ys = {2, 32, 9, 10};
      HostTensor x = rand_tensor(t, cl ? nhwc(xs) : xs, 1), w = rand_tensor(t, cl ? nhwc(ws) : ws, 2, -0.3, 0.3);
      HostTensor b = rand_tensor(t, {32}, 3), r = rand_tensor(t, cl ? nhwc(ys) : ys, 4);
      const std::vector<int64_t> out = cl ? nhwc(ys) : ys;
      for (const Act& a : acts) {
        for (int variant = 0; variant < 4; ++variant) {
          const bool with_bias = variant & 1, with_residual = variant & 2;
          const std::string label = std::string(dtype_name(t)) + (cl ? " nhwc" : " nchw") + " act " +
                                    std::to_string(a.fn) + (with_bias ? " +bias" : "") + (with_residual ? " +res" : "");
          std::vector<const HostTensor*> in = {&x, &w, with_bias ? &b : nullptr};
          if (with_residual) in.push_back(&r);
          check(label, conv2d(1, 1, 1, a.fn, cl, a.alpha, a.beta), in, {{t, out}}, 1e-4);
        }
      }
    }
  }
}

TEST(GpuConvFused, StridedDepthwiseAndPointwiseNhwc) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    HostTensor x = rand_tensor(t, {2, 11, 12, 24}, 5);  // NHWC, C = 24
    HostTensor wdw = rand_tensor(t, {24, 3, 3, 1}, 6), b = rand_tensor(t, {24}, 7);
    check("depthwise s2 relu6 " + ts, conv2d(1, 2, 24, fn(UnaryFn::kClamp), true, 0, 6), {&x, &wdw, &b},
          {{t, {2, 6, 6, 24}}}, 1e-4);
    HostTensor w1 = rand_tensor(t, {40, 1, 1, 24}, 8, -0.3, 0.3), b1 = rand_tensor(t, {40}, 9);
    HostTensor r1 = rand_tensor(t, {2, 11, 12, 40}, 10);
    check("pointwise residual relu " + ts, conv2d(0, 1, 1, fn(UnaryFn::kRelu), true), {&x, &w1, &b1, &r1},
          {{t, {2, 11, 12, 40}}}, 1e-4);
    HostTensor wg = rand_tensor(t, {24, 3, 3, 6}, 11, -0.3, 0.3);
    check("grouped silu " + ts, conv2d(1, 1, 4, fn(UnaryFn::kSilu), true), {&x, &wg, &b}, {{t, {2, 11, 12, 24}}},
          1e-4);
    // An odd channel count (no vector alignment anywhere).
    HostTensor x3 = rand_tensor(t, {1, 7, 7, 3}, 12), w3 = rand_tensor(t, {5, 7, 7, 3}, 13), b3 = rand_tensor(t, {5}, 14);
    check("stem 7x7 s2 " + ts, conv2d(3, 2, 1, fn(UnaryFn::kRelu), true), {&x3, &w3, &b3}, {{t, {1, 4, 4, 5}}}, 1e-4);
  }
}

TEST(GpuConvFused, TransposedAndOneDimensionalEpilogue) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    HostTensor x = rand_tensor(t, {2, 4, 5, 6}, 15), w = rand_tensor(t, {4, 3, 3, 3}, 16), b = rand_tensor(t, {3}, 17);
    HostTensor r = rand_tensor(t, {2, 3, 10, 12}, 18);
    ConvAttrs ct;
    ct.transposed = true;
    ct.stride = {2, 2};
    ct.padding = {1, 1};
    ct.output_padding = {1, 1};
    ct.activation = fn(UnaryFn::kSilu);
    check("conv_transpose2d silu residual " + ts, ct, {&x, &w, &b, &r}, {{t, {2, 3, 10, 12}}}, 1e-4);
    HostTensor x1 = rand_tensor(t, {2, 4, 20}, 19), w1 = rand_tensor(t, {3, 4, 5}, 20), b1 = rand_tensor(t, {3}, 21);
    HostTensor r1 = rand_tensor(t, {2, 3, 20}, 22);
    ConvAttrs c1;
    c1.padding = {2};
    c1.activation = fn(UnaryFn::kRelu);
    check("conv1d relu residual " + ts, c1, {&x1, &w1, &b1, &r1}, {{t, {2, 3, 20}}}, 1e-4);
  }
}

// Builds the KernelArgs conv_tactics needs (shapes and the cuDNN handle; no data).
std::vector<std::string> tactics_for(const ConvAttrs& c, DType t, const std::vector<std::vector<int64_t>>& in_shapes,
                                     const std::vector<int64_t>& out_shape) {
  static std::vector<cuda::DeviceTensor> ins, outs;
  ins.clear();
  outs.clear();
  for (const auto& s : in_shapes) ins.push_back({nullptr, t, s});
  outs.push_back({nullptr, t, out_shape});
  cuda::KernelArgs args;
  for (auto& d : ins) args.in.push_back(&d);
  args.out.push_back(&outs[0]);
  args.stream = g_env->stream;
  args.handles = &g_env->handles;
  args.workspace_bytes = g_env->workspace_bytes;
  return cuda::candidate_tactics(c, args);
}

TEST(GpuConvFused, EveryTacticAndUnknownTactics) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    for (bool cl : {false, true}) {
      const std::vector<int64_t> xs = {2, 16, 14, 14}, ws = {32, 16, 3, 3}, ys = {2, 32, 14, 14};
      const ConvAttrs c = conv2d(1, 1, 1, fn(UnaryFn::kRelu), cl);
      HostTensor x = rand_tensor(t, cl ? nhwc(xs) : xs, 23), w = rand_tensor(t, cl ? nhwc(ws) : ws, 24, -0.3, 0.3);
      HostTensor b = rand_tensor(t, {32}, 25), r = rand_tensor(t, cl ? nhwc(ys) : ys, 26);
      const std::vector<int64_t> out = cl ? nhwc(ys) : ys;
      const std::vector<std::string> tactics = tactics_for(c, t, {x.shape, w.shape, b.shape, r.shape}, out);
      ASSERT_FALSE(tactics.empty()) << ts;
      size_t graph = 0;
      for (const std::string& tactic : tactics) {
        // cuDNN legacy algorithms everywhere; graph-API engines for 16-bit channels-last.
        const bool is_graph = tactic.rfind("graph:", 0) == 0;
        ASSERT_TRUE(tactic.rfind("algo:", 0) == 0 || is_graph) << tactic;
        graph += is_graph;
        check(ts + (cl ? " nhwc " : " nchw ") + tactic, c, {&x, &w, &b, &r}, {{t, out}}, 1e-4, true, tactic);
      }
      if (!cl || !is_half_like(t)) continue;
      // Builds without the cuDNN frontend headers offer no graph tactics.
      if (cuda::conv_graph_available()) EXPECT_GT(graph, 0u) << ts << ": no cuDNN graph-API engine offered";
      // The other epilogues a graph carries (each its own graph and engine list).
      for (const std::string& tactic : tactics_for(c, t, {x.shape, w.shape, b.shape}, out))
        if (tactic.rfind("graph:", 0) == 0)
          check(ts + " nhwc no residual " + tactic, c, {&x, &w, &b}, {{t, out}}, 1e-4, true, tactic);
      const ConvAttrs plain = conv2d(1, 1, 1, -1, true);
      for (const std::string& tactic : tactics_for(plain, t, {x.shape, w.shape}, out))
        if (tactic.rfind("graph:", 0) == 0)
          check(ts + " nhwc no bias, no relu " + tactic, plain, {&x, &w}, {{t, out}}, 1e-4, true, tactic);
    }
  }
  // The graph tactics are refused (clearly) where they do not apply: strided
  // channel counts, other activations, unknown indices.
  Status graph_st = run_with_tactic(conv2d(1, 1, 1, -1, true), DType::kFloat16, {{1, 8, 8, 3}, {16, 3, 3, 3}},
                                    {1, 8, 8, 16}, "graph:0");
  EXPECT_FALSE(graph_st.ok());
  EXPECT_NE(graph_st.to_string().find("multiple of 8"), std::string::npos) << graph_st.to_string();
  for (const std::string bad : {"graph:", "graph:x", "graph:999"}) {
    graph_st = run_with_tactic(conv2d(1, 1, 1, -1, true), DType::kFloat16, {{1, 8, 8, 16}, {16, 3, 3, 16}},
                               {1, 8, 8, 16}, bad);
    EXPECT_FALSE(graph_st.ok()) << bad;
  }
  // A pointwise NHWC conv (ResNet's bottleneck 1x1 with residual) also offers the
  // cuBLASLt product; every one of its tactics must agree with the CPU backend.
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    const ConvAttrs c = conv2d(0, 1, 1, fn(UnaryFn::kRelu), true);
    const std::vector<int64_t> xs = {2, 7, 9, 64}, ws = {96, 1, 1, 64}, ys = {2, 7, 9, 96};
    HostTensor x = rand_tensor(t, xs, 31), w = rand_tensor(t, ws, 32, -0.2, 0.2);
    HostTensor b = rand_tensor(t, {96}, 33), r = rand_tensor(t, ys, 34);
    const std::vector<std::string> tactics = tactics_for(c, t, {xs, ws, b.shape, r.shape}, ys);
    ASSERT_FALSE(tactics.empty()) << ts;
    EXPECT_EQ(tactics[0].rfind("algo:", 0), 0u) << tactics[0];  // cuDNN's pick stays the default
    size_t gemm = 0;
    for (const std::string& tactic : tactics) {
      gemm += tactic.rfind("gemm/lt:", 0) == 0;
      check(ts + " pointwise " + tactic, c, {&x, &w, &b, &r}, {{t, ys}}, 1e-4, true, tactic);
      check(ts + " pointwise no residual " + tactic, c, {&x, &w, &b}, {{t, ys}}, 1e-4, true, tactic);
    }
    EXPECT_GT(gemm, 0u) << ts;
  }
  // An image stem (3 input channels, 7x7 stride 2) and an odd channel count at 16 bits
  // also offer the zero-padded tactics; each must agree with the CPU backend.
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    struct Stem {
      int64_t cin, k, stride, pad;
    };
    for (const Stem& s : {Stem{3, 7, 2, 3}, Stem{5, 3, 1, 1}}) {
      const std::string ts = std::string(dtype_name(t)) + " cin " + std::to_string(s.cin);
      const ConvAttrs c = conv2d(s.pad, s.stride, 1, fn(UnaryFn::kRelu), true);
      const int64_t H = 18, OH = (H + 2 * s.pad - s.k) / s.stride + 1;
      const std::vector<int64_t> xs = {2, H, H, s.cin}, ws = {16, s.k, s.k, s.cin}, ys = {2, OH, OH, 16};
      HostTensor x = rand_tensor(t, xs, 37), w = rand_tensor(t, ws, 38, -0.3, 0.3), b = rand_tensor(t, {16}, 39);
      const std::vector<std::string> tactics = tactics_for(c, t, {xs, ws, b.shape}, ys);
      size_t padded = 0, im2col = 0, padded_graph = 0;
      HostTensor r = rand_tensor(t, ys, 40);
      ConvAttrs dilated = c;
      dilated.dilation = {2, 2};
      const int64_t DH = (H + 2 * s.pad - 2 * (s.k - 1) - 1) / s.stride + 1;
      const std::vector<int64_t> dys = {2, DH, DH, 16};
      for (const std::string& tactic : tactics) {
        padded += tactic.rfind("pad8:algo:", 0) == 0;
        check(ts + " " + tactic, c, {&x, &w, &b}, {{t, ys}}, 1e-4, true, tactic);
        if (tactic.rfind("pad8:graph:", 0) == 0) {
          // The widened problem as one cuDNN graph: with a residual, and bare.
          ++padded_graph;
          for (const std::string& rt : tactics_for(c, t, {xs, ws, b.shape, r.shape}, ys))
            if (rt == tactic) check(ts + " residual " + rt, c, {&x, &w, &b, &r}, {{t, ys}}, 1e-4, true, rt);
          const ConvAttrs bare = conv2d(s.pad, s.stride, 1, -1, true);
          for (const std::string& bt : tactics_for(bare, t, {xs, ws}, ys))
            if (bt == tactic) check(ts + " no bias, no relu " + bt, bare, {&x, &w}, {{t, ys}}, 1e-4, true, bt);
        }
        if (tactic.rfind("im2col/", 0) != 0) continue;
        // The patch-matrix GEMM: residual and activation in its epilogue, no bias.
        ++im2col;
        check(ts + " residual " + tactic, c, {&x, &w, &b, &r}, {{t, ys}}, 1e-4, true, tactic);
        check(ts + " no bias " + tactic, c, {&x, &w}, {{t, ys}}, 1e-4, true, tactic);
      }
      // Dilation 2 (a smaller product: its own tactic list).
      for (const std::string& tactic : tactics_for(dilated, t, {xs, ws, b.shape}, dys))
        if (tactic.rfind("im2col/", 0) == 0)
          check(ts + " dilation 2 " + tactic, dilated, {&x, &w, &b}, {{t, dys}}, 1e-4, true, tactic);
      EXPECT_GT(padded, 0u) << ts;
      EXPECT_GT(im2col, 0u) << ts;
      if (cuda::conv_graph_available())
        EXPECT_GT(padded_graph, 0u) << ts << ": no cuDNN graph-API engine offered for the widened problem";
    }
  }
  // The im2col tactics are refused (clearly) where the input channels need no padding.
  Status im2col_st = run_with_tactic(conv2d(1, 1, 1, -1, true), DType::kFloat16, {{1, 8, 8, 16}, {16, 3, 3, 16}},
                                     {1, 8, 8, 16}, "im2col/lt:0");
  EXPECT_FALSE(im2col_st.ok());
  EXPECT_NE(im2col_st.to_string().find("multiple of 8"), std::string::npos) << im2col_st.to_string();
  // ... and refused on a conv whose channels need no padding.
  for (const char* tactic : {"pad8:algo:1", "pad8:graph:0"}) {
    Status pad_st = run_with_tactic(conv2d(1, 1, 1, -1, true), DType::kFloat16, {{1, 8, 8, 16}, {16, 3, 3, 16}},
                                    {1, 8, 8, 16}, tactic);
    EXPECT_FALSE(pad_st.ok()) << tactic;
    EXPECT_NE(pad_st.to_string().find("multiple of 8"), std::string::npos) << pad_st.to_string();
  }
  // The gemm tactics are refused (clearly) on a conv that is not a plain product.
  Status st = run_with_tactic(conv2d(1, 1, 1, -1, true), DType::kFloat16, {{1, 8, 8, 16}, {16, 3, 3, 16}},
                              {1, 8, 8, 16}, "gemm/lt:0");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.to_string().find("1x1"), std::string::npos) << st.to_string();
  // cuDNN's algorithm with a stated scratch size ("algo:<n>@<bytes>"): the same
  // numbers; more scratch than the step has is refused, naming the workspace.
  for (DType t : {DType::kFloat16, DType::kFloat32}) {
    const ConvAttrs c = conv2d(1, 1, 1, fn(UnaryFn::kRelu), true);
    const std::vector<int64_t> xs = {2, 9, 9, 16}, ws = {32, 3, 3, 16}, ys = {2, 9, 9, 32};
    HostTensor x = rand_tensor(t, xs, 51), w = rand_tensor(t, ws, 52, -0.2, 0.2), b = rand_tensor(t, {32}, 53);
    const std::vector<std::string> tactics = tactics_for(c, t, {xs, ws, b.shape}, ys);
    ASSERT_FALSE(tactics.empty());
    const std::string sized = tactics[0] + "@" + std::to_string(size_t{1} << 20);
    check(std::string(dtype_name(t)) + " " + sized, c, {&x, &w, &b}, {{t, ys}}, 1e-4, true, sized);
    Status big = run_with_tactic(c, t, {xs, ws, b.shape}, ys, tactics[0] + "@" + std::to_string(size_t{1} << 38));
    EXPECT_EQ(big.code(), StatusCode::kUnsupported) << big.to_string();
    EXPECT_NE(big.to_string().find("workspace"), std::string::npos) << big.to_string();
  }
  // An unknown or unusable tactic is refused with a clear error, never ignored.
  for (const std::string bad : {"algo:999", "winograd", "algo:", "algo:1@x", "algo:1@"}) {
    st = run_with_tactic(conv2d(1, 1, 1, -1, false), DType::kFloat32, {{1, 4, 8, 8}, {4, 4, 3, 3}}, {1, 4, 8, 8}, bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.to_string().find("tactic"), std::string::npos) << st.to_string();
  }
}

// The "stem" tactic (conv_stem.cu): ResNet's 7x7/2 stem, 3x3 stems at strides 2
// and 1, a 1-channel 5x5, a 2x2/2 patchify and a 7x5 kernel with stride (2, 1),
// with partial tiles, more tiles than resident CTAs (sizes that are
// not multiples of 8 x 16 pixels), output channels past one 64-wide block (96) and
// under it (24), with and without bias and ReLU, against the CPU backend.
TEST(GpuConvStem, AgreesWithCpuAndRefusesWhatItCannotRun) {
  struct Case {
    int64_t cin, k, stride, pad, h, w, cout;
  };
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    for (const Case& s : {Case{3, 7, 2, 3, 45, 38, 64}, Case{3, 3, 2, 1, 33, 20, 96}, Case{4, 3, 1, 1, 9, 19, 24},
                          Case{1, 5, 1, 2, 17, 17, 16}, Case{3, 2, 2, 0, 16, 32, 32}}) {
      const std::string ts = std::string(dtype_name(t)) + " cin " + std::to_string(s.cin) + " k" +
                             std::to_string(s.k) + " s" + std::to_string(s.stride) + " cout " + std::to_string(s.cout);
      const int64_t oh = (s.h + 2 * s.pad - s.k) / s.stride + 1, ow = (s.w + 2 * s.pad - s.k) / s.stride + 1;
      const std::vector<int64_t> xs = {2, s.h, s.w, s.cin}, ws = {s.cout, s.k, s.k, s.cin}, ys = {2, oh, ow, s.cout};
      HostTensor x = rand_tensor(t, xs, 61), w = rand_tensor(t, ws, 62, -0.3, 0.3), b = rand_tensor(t, {s.cout}, 63);
      const ConvAttrs relu = conv2d(s.pad, s.stride, 1, fn(UnaryFn::kRelu), true);
      const ConvAttrs bare = conv2d(s.pad, s.stride, 1, -1, true);
      const std::vector<std::string> offered = tactics_for(relu, t, {xs, ws, b.shape}, ys);
      EXPECT_NE(std::find(offered.begin(), offered.end(), "stem"), offered.end()) << ts;
      check(ts + " bias relu", relu, {&x, &w, &b}, {{t, ys}}, 1e-4, true, "stem");
      check(ts + " bare", bare, {&x, &w}, {{t, ys}}, 1e-4, true, "stem");
    }
  }
  // More tiles than CTAs run at once (each CTA loops, reusing its weights and patch
  // buffer), and a rectangular 7x5 kernel with stride (2, 1) and padding (3, 2).
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    const ConvAttrs c = conv2d(3, 2, 1, fn(UnaryFn::kRelu), true);
    const std::vector<int64_t> xs = {40, 80, 80, 3}, ws = {64, 7, 7, 3}, ys = {40, 40, 40, 64};
    HostTensor x = rand_tensor(t, xs, 64), w = rand_tensor(t, ws, 65, -0.3, 0.3), b = rand_tensor(t, {64}, 66);
    check(std::string(dtype_name(t)) + " 600 tiles", c, {&x, &w, &b}, {{t, ys}}, 1e-4, true, "stem");
    ConvAttrs rect = conv2d(0, 1, 1, -1, true);
    rect.stride = {2, 1};
    rect.padding = {3, 2};
    const std::vector<int64_t> rxs = {2, 21, 19, 3}, rws = {32, 7, 5, 3}, rys = {2, 11, 19, 32};
    HostTensor rx = rand_tensor(t, rxs, 67), rw = rand_tensor(t, rws, 68, -0.3, 0.3), rb = rand_tensor(t, {32}, 69);
    check(std::string(dtype_name(t)) + " 7x5 stride (2, 1)", rect, {&rx, &rw, &rb}, {{t, rys}}, 1e-4, true, "stem");
  }
  // Refused, naming what it needs: 8 input channels, a residual, dilation, SiLU,
  // float32, a stride whose input tile would not fit in shared memory.
  auto refusal = [](const ConvAttrs& c, DType t, std::vector<std::vector<int64_t>> in, std::vector<int64_t> out,
                    const std::string& needle) {
    Status st = run_with_tactic(c, t, in, out, "stem");
    EXPECT_FALSE(st.ok()) << needle;
    EXPECT_NE(st.to_string().find(needle), std::string::npos) << st.to_string();
  };
  const ConvAttrs c = conv2d(1, 1, 1, -1, true);
  refusal(c, DType::kFloat16, {{1, 8, 8, 8}, {16, 3, 3, 8}}, {1, 8, 8, 16}, "input channels");
  refusal(c, DType::kFloat16, {{1, 8, 8, 3}, {16, 3, 3, 3}, {16}, {1, 8, 8, 16}}, {1, 8, 8, 16}, "residual");
  ConvAttrs dilated = c;
  dilated.dilation = {2, 2};
  refusal(dilated, DType::kFloat16, {{1, 8, 8, 3}, {16, 3, 3, 3}}, {1, 6, 6, 16}, "dilation");
  refusal(conv2d(1, 1, 1, fn(UnaryFn::kSilu), true), DType::kFloat16, {{1, 8, 8, 3}, {16, 3, 3, 3}}, {1, 8, 8, 16},
          "ReLU");
  refusal(c, DType::kFloat32, {{1, 8, 8, 3}, {16, 3, 3, 3}}, {1, 8, 8, 16}, "float16");
  refusal(conv2d(1, 64, 1, -1, true), DType::kFloat16, {{1, 8, 8, 3}, {16, 3, 3, 3}}, {1, 1, 1, 16}, "strides");
}

TEST(GpuPoolNhwc, MaxAvgAdaptive) {
  for (DType t : kFloatTypes) {
    const std::string ts = dtype_name(t);
    for (int64_t c : {64, 3}) {  // vectorized and scalar channel loops
      HostTensor x = rand_tensor(t, {2, 13, 12, c}, 30);
      PoolAttrs mp;
      mp.kind = static_cast<int64_t>(PoolKind::kMax);
      mp.kernel = {3, 3};
      mp.stride = {2, 2};
      mp.padding = {1, 1};
      mp.dilation = {1, 1};
      mp.channels_last = true;
      check("maxpool nhwc " + ts + " C" + std::to_string(c), mp, {&x}, {{t, {2, 7, 6, c}}}, 0);
      PoolAttrs mpc = mp;
      mpc.ceil_mode = true;
      mpc.padding = {0, 0};
      check("maxpool ceil nhwc " + ts, mpc, {&x}, {{t, {2, 6, 6, c}}}, 0);
      PoolAttrs ap = mp;
      ap.kind = static_cast<int64_t>(PoolKind::kAvg);
      check("avgpool nhwc " + ts, ap, {&x}, {{t, {2, 7, 6, c}}}, 1e-5);
      ap.count_include_pad = false;
      check("avgpool no-pad-count nhwc " + ts, ap, {&x}, {{t, {2, 7, 6, c}}}, 1e-5);
      ap.divisor_override = 5;
      check("avgpool divisor nhwc " + ts, ap, {&x}, {{t, {2, 7, 6, c}}}, 1e-5);
      AdaptivePoolAttrs gap{.kind = static_cast<int64_t>(PoolKind::kAvg), .channels_last = true};
      check("global avg nhwc " + ts, gap, {&x}, {{t, {2, 1, 1, c}}}, 1e-5);
      check("adaptive avg 5x4 nhwc " + ts, gap, {&x}, {{t, {2, 5, 4, c}}}, 1e-5);
      AdaptivePoolAttrs amx{.kind = static_cast<int64_t>(PoolKind::kMax), .channels_last = true};
      check("adaptive max 3x5 nhwc " + ts, amx, {&x}, {{t, {2, 3, 5, c}}}, 0);
      // 2x2 and 3x3 windows take the unrolled kernel (with 64 channels); stride 1 and
      // a dilation (the general kernel again) around it.
      PoolAttrs two = mp;
      two.kernel = {2, 2};
      two.padding = {0, 0};
      check("maxpool 2x2/2 nhwc " + ts, two, {&x}, {{t, {2, 6, 6, c}}}, 0);
      PoolAttrs unit = mp;
      unit.stride = {1, 1};
      check("maxpool 3x3/1 nhwc " + ts, unit, {&x}, {{t, {2, 13, 12, c}}}, 0);
      PoolAttrs dil = mp;
      dil.dilation = {2, 2};
      dil.padding = {0, 0};
      check("maxpool dilated nhwc " + ts, dil, {&x}, {{t, {2, 5, 4, c}}}, 0);
      // A stride past 2^30 takes the kernels' 64-bit index path (pooling.cu fits_int32).
      PoolAttrs far = mp;
      far.kernel = {2, 2};
      far.stride = {int64_t{1} << 30, int64_t{1} << 30};
      far.padding = {0, 0};
      check("maxpool nhwc 64-bit index " + ts, far, {&x}, {{t, {2, 1, 1, c}}}, 0);
      far.kind = static_cast<int64_t>(PoolKind::kAvg);
      check("avgpool nhwc 64-bit index " + ts, far, {&x}, {{t, {2, 1, 1, c}}}, 1e-5);
    }
  }
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) { return ingot::run_gpu_tests(argc, argv); }

#else  // no CUDA in this build

int main() {
  std::printf("built without CUDA: skipping the GPU conv fusion tests\n");
  return 77;
}

#endif
