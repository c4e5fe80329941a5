// GPU tests of the fused Gemm (src/backends/cuda/linear_algebra.cc and
// gemm_epilogue.cu): every epilogue combination (row bias or none, residual or
// none, each activation: cuBLASLt's RELU/GELU epilogues and the in-place kernel
// for the rest) in fp32, fp16 and bf16, compared with the CPU backend (itself
// tested against PyTorch); every tactic gemm_tactics offers for a transformer
// shape; and clear errors for unknown or out-of-range tactics. Skips (exit 77)
// without a GPU.
#include <cstdio>

#if defined(INGOT_WITH_CUDA)
#include <algorithm>

#include "gpu_test_util.h"

namespace ingot {
namespace {

struct Act {
  const char* name;
  int64_t fn;
  double alpha, beta;
};

const Act kActivations[] = {
    {"none", -1, 0, 0},
    {"relu", static_cast<int64_t>(UnaryFn::kRelu), 0, 0},
    {"gelu", static_cast<int64_t>(UnaryFn::kGelu), 0, 0},
    {"gelu_tanh", static_cast<int64_t>(UnaryFn::kGeluTanh), 0, 0},
    {"silu", static_cast<int64_t>(UnaryFn::kSilu), 0, 0},
    {"sigmoid", static_cast<int64_t>(UnaryFn::kSigmoid), 0, 0},
    {"tanh", static_cast<int64_t>(UnaryFn::kTanh), 0, 0},
    {"clamp", static_cast<int64_t>(UnaryFn::kClamp), -0.5, 0.75},
    {"leaky_relu", static_cast<int64_t>(UnaryFn::kLeakyRelu), 0.1, 0},
    {"hardswish", static_cast<int64_t>(UnaryFn::kHardSwish), 0, 0},
};

GemmAttrs gemm_attrs(bool trans_b, const Act& act) {
  GemmAttrs g;
  g.trans_b = trans_b;
  g.activation = act.fn;
  g.activation_alpha = act.alpha;
  g.activation_beta = act.beta;
  return g;
}

// a [lead..., K] x w ([N, K] with trans_b, else [K, N]) + bias [N] + residual -> act.
void check_gemm(const std::string& label, DType t, const std::vector<int64_t>& lead, int64_t K, int64_t N,
                bool trans_b, bool bias, bool residual, const Act& act, double tol = 1e-5,
                const std::string& tactic = "") {
  std::vector<int64_t> a_shape = lead, out_shape = lead;
  a_shape.push_back(K);
  out_shape.push_back(N);
  // Weights scaled like a trained layer (1/sqrt(K)) so activations see values around [-2, 2].
  const double w_range = 1.5 / std::sqrt(static_cast<double>(K));
  HostTensor a = rand_tensor(t, a_shape, 11);
  HostTensor w = rand_tensor(t, trans_b ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N}, 12, -w_range,
                             w_range);
  HostTensor b = rand_tensor(t, {N}, 13, -0.5, 0.5);
  HostTensor r = rand_tensor(t, out_shape, 14);
  std::vector<const HostTensor*> in = {&a, &w, bias ? &b : nullptr};
  if (residual) in.push_back(&r);
  check(label, gemm_attrs(trans_b, act), in, {{t, out_shape}}, tol, true, tactic);
}

TEST(GpuGemmFused, EveryEpilogueCombination) {
  for (DType t : kFloatTypes) {
    for (bool bias : {false, true}) {
      for (bool residual : {false, true}) {
        for (const Act& act : kActivations) {
          const std::string label = std::string(dtype_name(t)) + (bias ? " bias" : "") +
                                    (residual ? " residual" : "") + " act=" + act.name;
          check_gemm(label, t, {2, 37}, 64, 48, /*trans_b=*/true, bias, residual, act);
        }
      }
    }
  }
}

TEST(GpuGemmFused, NotTransposedAndOddSizes) {
  // trans_b=false (addmm / matmul weights), K and N not multiples of 8, a single row.
  const Act& gelu = kActivations[2];
  const Act& relu = kActivations[1];
  for (DType t : kFloatTypes) {
    const std::string dt = dtype_name(t);
    check_gemm(dt + " [K,N] weight gelu residual", t, {5, 7}, 40, 24, false, true, true, gelu);
    check_gemm(dt + " odd sizes relu bias", t, {13}, 37, 45, true, true, false, relu);
    check_gemm(dt + " odd sizes gelu residual", t, {13}, 37, 45, true, true, true, gelu);
    check_gemm(dt + " one row silu", t, {1}, 64, 32, true, true, true, kActivations[4]);
  }
}

TEST(GpuGemmFused, TransformerShapes) {
  // ViT-B/16 (197 tokens) and BERT-base (128 tokens) MLP layers at batch 1, fp16/bf16.
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    const std::string dt = dtype_name(t);
    check_gemm(dt + " vit fc1 gelu", t, {1, 197}, 768, 3072, true, true, false, kActivations[2]);
    check_gemm(dt + " vit fc2 residual", t, {1, 197}, 3072, 768, true, true, true, kActivations[0]);
    check_gemm(dt + " bert fc1 gelu_tanh", t, {1, 128}, 768, 3072, true, true, false, kActivations[3]);
  }
}

// Runs one fp32 [16x32] x [24x32]^T Gemm with the given tactic and returns the status.
Status run_with_tactic(const GemmAttrs& attrs, const std::string& tactic) {
  return run_with_tactic(attrs, DType::kFloat32, {{16, 32}, {24, 32}}, {16, 24}, tactic);
}

TEST(GpuGemmFused, EveryTacticAgrees) {
  // The BERT fc2 layer with residual, fp16 (and a fused-activation fp32 case).
  struct Case {
    DType t;
    std::vector<int64_t> lead;
    int64_t K, N;
    Act act;
    bool residual;
  };
  const Case cases[] = {{DType::kFloat16, {2, 64}, 256, 128, kActivations[3], true},
                        {DType::kFloat32, {3, 20}, 64, 96, kActivations[2], true},
                        {DType::kBFloat16, {50}, 128, 64, kActivations[1], false},
                        // BERT's fc1: exact gelu, where lt-tanh:<i> must still match the erf formula.
                        {DType::kFloat16, {2, 128}, 768, 3072, kActivations[2], false},
                        {DType::kBFloat16, {3, 40}, 256, 512, kActivations[2], false}};
  for (const Case& c : cases) {
    std::vector<int64_t> a_shape = c.lead, out_shape = c.lead;
    a_shape.push_back(c.K);
    out_shape.push_back(c.N);
    cuda::DeviceTensor da{nullptr, c.t, a_shape}, dw{nullptr, c.t, {c.N, c.K}}, db{nullptr, c.t, {c.N}},
        dr{nullptr, c.t, out_shape}, dout{nullptr, c.t, out_shape};
    cuda::KernelArgs args;
    args.in = {&da, &dw, &db};
    if (c.residual) args.in.push_back(&dr);
    args.out = {&dout};
    args.handles = &g_env->handles;
    args.workspace_bytes = g_env->workspace_bytes;
    const GemmAttrs attrs = gemm_attrs(true, c.act);
    std::vector<std::string> tactics = cuda::candidate_tactics(attrs, args);
    ASSERT_FALSE(tactics.empty()) << dtype_name(c.t);
    EXPECT_LE(tactics.size(), 16u);
    EXPECT_EQ(tactics[0], "lt:0");
    // An exact gelu on a 16-bit output also offers cuBLASLt's tanh epilogue; nothing else does.
    const bool tanh_offered = std::any_of(tactics.begin(), tactics.end(),
                                          [](const std::string& t) { return t.rfind("lt-tanh:", 0) == 0; });
    EXPECT_EQ(tanh_offered, c.act.fn == static_cast<int64_t>(UnaryFn::kGelu) && c.t != DType::kFloat32)
        << dtype_name(c.t) << " " << c.act.name;
    // The same list without a handle (the tuner may ask before a context exists).
    args.handles = nullptr;
    EXPECT_EQ(cuda::candidate_tactics(attrs, args), tactics);
    for (const std::string& tactic : tactics) {
      check_gemm(std::string(dtype_name(c.t)) + " tactic " + tactic, c.t, c.lead, c.K, c.N, true, true, c.residual,
                 c.act, 1e-5, tactic);
    }
  }
}

TEST(GpuGemmFused, MatMulTactics) {
  cuda::DeviceTensor da{nullptr, DType::kFloat16, {4, 33, 64}}, db{nullptr, DType::kFloat16, {4, 64, 40}},
      dout{nullptr, DType::kFloat16, {4, 33, 40}};
  cuda::KernelArgs args;
  args.in = {&da, &db};
  args.out = {&dout};
  args.handles = &g_env->handles;
  std::vector<std::string> tactics = cuda::candidate_tactics(MatMulAttrs{}, args);
  ASSERT_FALSE(tactics.empty());
  HostTensor a = rand_tensor(DType::kFloat16, {4, 33, 64}, 21);
  HostTensor b = rand_tensor(DType::kFloat16, {4, 64, 40}, 22, -0.3, 0.3);
  for (const std::string& tactic : tactics)
    check("matmul tactic " + tactic, MatMulAttrs{}, {&a, &b}, {{DType::kFloat16, {4, 33, 40}}}, 1e-2, true, tactic);
}

TEST(GpuGemmFused, BadTacticsAreClearErrors) {
  const GemmAttrs attrs = gemm_attrs(true, kActivations[0]);
  EXPECT_TRUE(run_with_tactic(attrs, "").ok());
  EXPECT_TRUE(run_with_tactic(attrs, "lt:0").ok());
  for (const char* bad : {"bogus", "lt:", "lt:-1", "lt:1x", "cudnn:0", "lt-tanh:", "lt-tanh:x"}) {
    Status st = run_with_tactic(attrs, bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("unknown tactic"), std::string::npos) << st.to_string();
  }
  Status st = run_with_tactic(attrs, "lt:999");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("out of range"), std::string::npos) << st.to_string();
  // The tanh-gelu tactic on a product without an exact gelu is refused, not run as something else.
  st = run_with_tactic(attrs, "lt-tanh:0");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("exact gelu"), std::string::npos) << st.to_string();
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) { return ingot::run_gpu_tests(argc, argv); }

#else  // no CUDA in this build

int main() {
  std::printf("built without CUDA: skipping the fused gemm GPU tests\n");
  return 77;
}

#endif
