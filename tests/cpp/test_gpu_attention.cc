// GPU tests of the CUDA attention tactics ("mma", "flash", "cudnn", "gemm", "rows" and
// the default ""), each compared with the CPU backend (itself tested against PyTorch) on the
// shapes the models use (ViT-B/16, BERT-base with float and bool masks) and the
// edges: causal, grouped-query heads, L != S (single-query decode), head sizes
// 32/128, unequal q/v head sizes, fully masked rows; and strided views (q, k, v
// read in place from a packed projection, out written as [B, L, H, E]). Where a tactic is expected to
// support a case, it must run it (an `unsupported` answer fails the test). cuDNN's
// fused attention must run the model shapes (ViT, BERT's padding mask, causal,
// packed views); elsewhere it runs where cuDNN accepts the case.
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#if defined(INGOT_WITH_CUDA)
#include "backends/cuda/attention_cudnn.h"
#include "gpu_test_util.h"

namespace ingot {
namespace {

const char* const kTactics[] = {"mma", "mma32", "mma_k32", "flash", "flash32", "gemm", "rows", ""};

// Whether this build offers cuDNN's attention (the frontend headers were found).
bool have_cudnn() { return cuda::cudnn_sdpa_available(); }

// Runs the "cudnn" tactic on a case: required (cuDNN must accept it) or, for
// edge cases, only where cuDNN's support check accepts it.
void check_cudnn(const std::string& label, const AttentionAttrs& attrs, const std::vector<const HostTensor*>& in,
                 const std::vector<int64_t>& out, bool required) {
  const DType t = in[0]->dtype;
  if (!have_cudnn() || !is_half_like(t)) return;
  if (!required) {
    std::vector<std::vector<int64_t>> shapes;
    for (const HostTensor* h : in) shapes.push_back(h->shape);
    // run_with_tactic gives every input q's dtype: a bool mask is asked about as a float one.
    const Status st = run_with_tactic(attrs, t, shapes, out, "cudnn");
    if (!st.ok()) {
      std::printf("[ note ] %s: cuDNN declines (%s)\n", label.c_str(), st.message().c_str());
      return;
    }
  }
  check(label + " tactic 'cudnn'", attrs, in, {{t, out}}, 1e-4, true, "cudnn");
  // The other implementations and plans: checked wherever cuDNN builds them.
  std::vector<std::vector<int64_t>> shapes;
  for (const HostTensor* h : in) shapes.push_back(h->shape);
  for (const char* variant : {"cudnn:composite", "cudnn:unified", "cudnn:composite:1", "cudnn:unified:1"}) {
    const Status st = run_with_tactic(attrs, t, shapes, out, variant);
    if (!st.ok()) {
      std::printf("[ note ] %s: cuDNN declines %s (%s)\n", label.c_str(), variant, st.message().c_str());
      continue;
    }
    check(label + " tactic '" + variant + "'", attrs, in, {{t, out}}, 1e-4, true, variant);
  }
}

// Which tactics must run a case: mma and flash need fp16/bf16 and E == Ev in {32, 64, 128}.
bool expect_supported(const std::string& tactic, DType t, int64_t e, int64_t ev) {
  if (tactic == "mma" || tactic == "mma32" || tactic == "flash" || tactic == "flash32")
    return is_half_like(t) && e == ev && (e == 32 || e == 64 || e == 128);
  if (tactic == "mma_k32") return is_half_like(t) && e == ev && (e == 32 || e == 64);
  return true;
}

struct Shapes {
  std::vector<int64_t> q, k, v;
};

std::vector<int64_t> out_shape(const Shapes& s) {
  std::vector<int64_t> o = s.q;
  o.back() = s.v.back();
  return o;
}

// Runs one case through every tactic that must support it, for every float dtype.
// make_mask(dtype) gives the mask for q's dtype (or an empty tensor for none).
template <typename MakeMask>
void run_all(const std::string& name, const AttentionAttrs& attrs, const Shapes& s, MakeMask make_mask,
             uint32_t seed, bool cudnn_required = false) {
  for (DType t : kFloatTypes) {
    HostTensor q = rand_tensor(t, s.q, seed), k = rand_tensor(t, s.k, seed + 1), v = rand_tensor(t, s.v, seed + 2);
    HostTensor mask = make_mask(t);
    std::vector<const HostTensor*> in = {&q, &k, &v};
    if (!mask.shape.empty()) in.push_back(&mask);
    for (const char* tactic : kTactics) {
      if (!expect_supported(tactic, t, s.q.back(), s.v.back())) continue;
      const std::string label = name + " " + dtype_name(t) + " tactic '" + tactic + "'";
      check(label, attrs, in, {{t, out_shape(s)}}, 1e-4, true, tactic);
    }
    check_cudnn(name + " " + dtype_name(t), attrs, in, out_shape(s), cudnn_required);
  }
}

HostTensor no_mask(DType) { return HostTensor(); }

AttentionAttrs attrs_for(int64_t e, bool causal = false) {
  AttentionAttrs a;
  a.scale = 1.0 / std::sqrt(static_cast<double>(e));
  a.is_causal = causal;
  return a;
}

TEST(GpuAttentionTactics, VitB16) {
  run_all("vit 1x12x197x64", attrs_for(64), {{1, 12, 197, 64}, {1, 12, 197, 64}, {1, 12, 197, 64}}, no_mask, 10, true);
}

TEST(GpuAttentionTactics, VitNoBatchDims) {
  run_all("vit 12x197x64 (rank 3)", attrs_for(64), {{12, 197, 64}, {12, 197, 64}, {12, 197, 64}}, no_mask, 20);
}

TEST(GpuAttentionTactics, BertFloatMask) {
  // Padding mask as HF BERT builds it: 0 for tokens, a large negative for padding
  // (batch 0: all 128 tokens, batch 1: 100), broadcast over heads and query rows.
  auto mask = [](DType t) {
    HostTensor m(t, {2, 1, 1, 128});
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t j = 0; j < 128; ++j) m.set(b * 128 + j, (b == 1 && j >= 100) ? -10000.0 : 0.0);
    return m;
  };
  run_all("bert 2x12x128x64 float mask [2,1,1,128]", attrs_for(64),
          {{2, 12, 128, 64}, {2, 12, 128, 64}, {2, 12, 128, 64}}, mask, 30, true);
}

TEST(GpuAttentionTactics, BertRandomFloatMaskWithInf) {
  // Random additive mask over [B, 1, L, S] with a row of -inf (that row gives zeros).
  auto mask = [](DType t) {
    HostTensor m = rand_tensor(t, {2, 1, 128, 128}, 41, -3, 1);
    for (int64_t j = 0; j < 128; ++j) m.set((128 + 7) * 128 + j, -INFINITY);  // batch 1, row 7
    for (int64_t i = 0; i < 128; ++i) m.set(i * 128 + 3, -INFINITY);          // batch 0, key 3
    return m;
  };
  run_all("bert 2x12x128x64 float mask [2,1,128,128] with -inf", attrs_for(64),
          {{2, 12, 128, 64}, {2, 12, 128, 64}, {2, 12, 128, 64}}, mask, 40);
}

TEST(GpuAttentionTactics, BertBoolMask) {
  auto padding = [](DType) {
    HostTensor m(DType::kBool, {2, 1, 1, 128});
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t j = 0; j < 128; ++j) m.set(b * 128 + j, (b == 1 && j >= 77) ? 0 : 1);
    return m;
  };
  run_all("bert 2x12x128x64 bool mask [2,1,1,128]", attrs_for(64),
          {{2, 12, 128, 64}, {2, 12, 128, 64}, {2, 12, 128, 64}}, padding, 50, true);
  auto rows = [](DType) {
    HostTensor m = rand_tensor(DType::kBool, {128, 128}, 51);
    for (int64_t j = 0; j < 128; ++j) m.set(5 * 128 + j, 0);  // a fully masked row gives zeros
    return m;
  };
  run_all("bert 2x12x128x64 bool mask [128,128] with an empty row", attrs_for(64),
          {{2, 12, 128, 64}, {2, 12, 128, 64}, {2, 12, 128, 64}}, rows, 52);
}

TEST(GpuAttentionTactics, Causal) {
  run_all("causal 1x4x100x64", attrs_for(64, true), {{1, 4, 100, 64}, {1, 4, 100, 64}, {1, 4, 100, 64}}, no_mask,
          60, true);
  // Several query blocks (the flash kernel skips key blocks past the diagonal).
  run_all("causal 1x2x197x64", attrs_for(64, true), {{1, 2, 197, 64}, {1, 2, 197, 64}, {1, 2, 197, 64}}, no_mask,
          61);
}

TEST(GpuAttentionTactics, GroupedQueryHeads) {
  run_all("gqa hq 8 hkv 2", attrs_for(64), {{2, 8, 50, 64}, {2, 2, 50, 64}, {2, 2, 50, 64}}, no_mask, 70);
  run_all("gqa hq 8 hkv 2 L 50 S 70 causal", attrs_for(64, true), {{2, 8, 50, 64}, {2, 2, 70, 64}, {2, 2, 70, 64}},
          no_mask, 71);
  auto mask = [](DType t) { return rand_tensor(t, {2, 8, 1, 70}, 72, -2, 0); };
  run_all("gqa hq 8 hkv 2 float mask [2,8,1,70]", attrs_for(64), {{2, 8, 50, 64}, {2, 2, 70, 64}, {2, 2, 70, 64}},
          mask, 73);
}

TEST(GpuAttentionTactics, DecodeAndUnequalLengths) {
  run_all("decode L 1 S 77", attrs_for(64), {{2, 12, 1, 64}, {2, 12, 77, 64}, {2, 12, 77, 64}}, no_mask, 80);
  run_all("L 130 S 77", attrs_for(64), {{1, 3, 130, 64}, {1, 3, 77, 64}, {1, 3, 77, 64}}, no_mask, 81);
  // Causal with L > S: rows past S see every key.
  run_all("L 90 S 40 causal", attrs_for(64, true), {{1, 3, 90, 64}, {1, 3, 40, 64}, {1, 3, 40, 64}}, no_mask, 82);
}

TEST(GpuAttentionTactics, HeadSizes) {
  run_all("head 32", attrs_for(32), {{2, 4, 90, 32}, {2, 4, 90, 32}, {2, 4, 90, 32}}, no_mask, 90);
  run_all("head 128", attrs_for(128), {{1, 4, 130, 128}, {1, 4, 130, 128}, {1, 4, 130, 128}}, no_mask, 91);
  run_all("head 128 causal", attrs_for(128, true), {{1, 2, 150, 128}, {1, 2, 150, 128}, {1, 2, 150, 128}}, no_mask,
          92);
  // Unequal q and v head sizes: not flash; the default falls to gemm.
  run_all("E 48 Ev 24", attrs_for(48), {{1, 2, 33, 48}, {1, 2, 45, 48}, {1, 2, 45, 24}}, no_mask, 93);
}

// ---------------------------------------------------------------- tactic lists and errors

struct DeviceArgs {
  std::vector<cuda::DeviceTensor> tensors;
  cuda::KernelArgs args;
  DeviceArgs(DType t, const Shapes& s) {
    tensors = {{nullptr, t, s.q}, {nullptr, t, s.k}, {nullptr, t, s.v}, {nullptr, t, out_shape(s)}};
    args.in = {&tensors[0], &tensors[1], &tensors[2]};
    args.out = {&tensors[3]};
  }
};

TEST(GpuAttentionTactics, TacticList) {
  const Shapes vit{{32, 12, 197, 64}, {32, 12, 197, 64}, {32, 12, 197, 64}};
  DeviceArgs half(DType::kFloat16, vit);
  using Names = std::vector<std::string>;
  const Names cudnn = have_cudnn() ? Names{"cudnn", "cudnn:composite", "cudnn:unified"} : Names{};
  const Names cudnn_more = have_cudnn() ? Names{"cudnn:composite:1", "cudnn:unified:1"} : Names{};
  auto cat = [](std::initializer_list<Names> parts) {
    Names all;
    for (const Names& p : parts) all.insert(all.end(), p.begin(), p.end());
    return all;
  };
  const Names half_tactics =
      cat({{"flash", "mma", "mma32"}, cudnn, {"mma_k32", "flash32"}, cudnn_more, {"gemm", "rows"}});
  EXPECT_EQ(cuda::candidate_tactics(attrs_for(64), half.args), half_tactics);
  DeviceArgs single(DType::kFloat32, vit);
  EXPECT_EQ(cuda::candidate_tactics(attrs_for(64), single.args), (Names{"gemm", "rows"}));
  // A bool mask: converted to an additive one for cuDNN, so cudnn is offered too,
  // but not the unified implementation, which takes no bias.
  DeviceArgs masked(DType::kFloat16, vit);
  cuda::DeviceTensor bool_mask{nullptr, DType::kBool, {32, 1, 1, 197}};
  masked.args.in.push_back(&bool_mask);
  const Names biased = have_cudnn() ? Names{"cudnn", "cudnn:composite"} : Names{};
  const Names biased_more = have_cudnn() ? Names{"cudnn:composite:1"} : Names{};
  EXPECT_EQ(cuda::candidate_tactics(attrs_for(64), masked.args),
            cat({{"flash", "mma", "mma32"}, biased, {"mma_k32", "flash32"}, biased_more, {"gemm", "rows"}}));
  const Shapes odd{{1, 2, 33, 48}, {1, 2, 45, 48}, {1, 2, 45, 24}};
  DeviceArgs odd_half(DType::kBFloat16, odd);
  // cuDNN takes E 48 / Ev 24
  EXPECT_EQ(cuda::candidate_tactics(attrs_for(48), odd_half.args), cat({cudnn, cudnn_more, {"gemm", "rows"}}));
}

TEST(GpuAttentionTactics, MmaK32RefusesHeadSizesAbove64) {
  const std::vector<int64_t> shape = {1, 2, 40, 128};
  const Status st = run_with_tactic(attrs_for(128), DType::kFloat16, {shape, shape, shape}, shape, "mma_k32");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.to_string().find("above 64"), std::string::npos) << st.to_string();
}

TEST(GpuAttentionTactics, WorkspaceSizes) {
  const Shapes vit{{32, 12, 197, 64}, {32, 12, 197, 64}, {32, 12, 197, 64}};
  const size_t scores = size_t{32} * 12 * 197 * 200 * sizeof(float);  // keys padded to 200
  DeviceArgs half(DType::kFloat16, vit);
  EXPECT_EQ(cuda::workspace_size(attrs_for(64), half.args), 0u);  // default: flash needs none
  half.args.tactic = "rows";
  EXPECT_EQ(cuda::workspace_size(attrs_for(64), half.args), 0u);
  half.args.tactic = "gemm";
  EXPECT_GE(cuda::workspace_size(attrs_for(64), half.args), scores);
  for (const char* cudnn : {"cudnn", "cudnn:unified", "cudnn:composite:1"}) {
    half.args.tactic = cudnn;
    EXPECT_EQ(cuda::workspace_size(attrs_for(64), half.args), cuda::kCudnnSdpaWorkspace) << cudnn;
  }
  DeviceArgs single(DType::kFloat32, vit);  // default for fp32 is gemm
  EXPECT_GE(cuda::workspace_size(attrs_for(64), single.args), scores);
}

TEST(GpuAttentionTactics, UnknownAndUnsupportedTactics) {
  const Shapes s{{1, 2, 16, 64}, {1, 2, 16, 64}, {1, 2, 16, 64}};
  for (const auto& [dtype, tactic, code] :
       std::vector<std::tuple<DType, std::string, StatusCode>>{{DType::kFloat16, "bogus", StatusCode::kInvalidArgument},
                                                               {DType::kFloat32, "flash", StatusCode::kUnsupported},
                                                               {DType::kFloat32, "mma", StatusCode::kUnsupported},
                                                               {DType::kFloat32, "cudnn", StatusCode::kUnsupported},
                                                               {DType::kFloat16, "cudnn:fast", StatusCode::kInvalidArgument},
                                                               {DType::kFloat16, "cudnn:unified:x", StatusCode::kInvalidArgument}}) {
    HostTensor q = rand_tensor(dtype, s.q, 1), k = rand_tensor(dtype, s.k, 2), v = rand_tensor(dtype, s.v, 3);
    DeviceArgs d(dtype, s);
    DeviceBuf bq(q.bytes.size()), bk(k.bytes.size()), bv(v.bytes.size()), bo(q.bytes.size());
    d.tensors[0].data = bq.p;
    d.tensors[1].data = bk.p;
    d.tensors[2].data = bv.p;
    d.tensors[3].data = bo.p;
    std::unique_ptr<cuda::StepState> state;
    d.args.state = &state;
    d.args.stream = g_env->stream;
    d.args.handles = &g_env->handles;
    d.args.workspace = g_env->workspace;
    d.args.workspace_bytes = g_env->workspace_bytes;
    d.args.tactic = tactic;
    Status st = cuda::run_kernel(attrs_for(64), d.args);
    EXPECT_EQ(st.code(), code) << tactic << ": " << st.to_string();
    EXPECT_EQ(cudaStreamSynchronize(g_env->stream), cudaSuccess);
  }
}

// ---------------------------------------------------------------- strided views (fold_attention_views)

// Attention reading q, k, v in place from one packed projection and writing
// [B, L, H, E], as the folded BERT and ViT steps do. `seq_major`: ViT's [L, B, 3D]
// projection instead of BERT's [B, L, 3D].
void run_packed(const std::string& name, int64_t B, int64_t L, int64_t H, int64_t E, bool seq_major,
                bool bool_mask, uint32_t seed) {
  const int64_t D = H * E;
  AttentionAttrs a = attrs_for(E);
  a.dims = {B, H, H, L, L, E, E};
  const int64_t sb = seq_major ? 3 * D : L * 3 * D, sl = seq_major ? B * 3 * D : 3 * D;
  for (int t = 0; t < 3; ++t) a.views.insert(a.views.end(), {t * D, sb, E, sl});
  a.views.insert(a.views.end(), {0, L * D, E, D});  // out [B, L, H, E]
  const std::vector<int64_t> packed = seq_major ? std::vector<int64_t>{L, B, 3 * D} : std::vector<int64_t>{B, L, 3 * D};
  for (DType t : kFloatTypes) {
    HostTensor qkv = rand_tensor(t, packed, seed);
    HostTensor mask(DType::kBool, {B, 1, 1, L});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < L; ++j) mask.set(b * L + j, j < L - 9 * b ? 1 : 0);
    std::vector<const HostTensor*> in = {&qkv, &qkv, &qkv};
    if (bool_mask) in.push_back(&mask);
    for (const char* tactic : {"mma", "mma32", "mma_k32", "flash", "flash32", "rows", ""}) {
      if (!expect_supported(tactic, t, E, E)) continue;
      check(name + " " + dtype_name(t) + " tactic '" + tactic + "'", a, in, {{t, {B, L, H, E}}}, 1e-4, true, tactic);
    }
    check_cudnn(name + " " + dtype_name(t), a, in, {B, L, H, E}, true);
  }
}

TEST(GpuAttentionViews, BertPackedQkvWithPaddingMask) {
  run_packed("bert packed [3,128,2304] -> [3,128,12,64]", 3, 128, 12, 64, false, true, 110);
}

TEST(GpuAttentionViews, VitSequenceMajorPackedQkv) {
  run_packed("vit packed [197,2,2304] -> [2,197,12,64]", 2, 197, 12, 64, true, false, 120);
  run_packed("head 128 packed [2,70,1024]", 2, 70, 4, 128, false, false, 121);
  run_packed("head 32 packed [70,2,384]", 2, 70, 4, 32, true, true, 122);
}

TEST(GpuAttentionViews, GemmTacticRefusesViews) {
  const Shapes s{{2, 4, 16, 64}, {2, 4, 16, 64}, {2, 4, 16, 64}};
  AttentionAttrs a = attrs_for(64);
  a.dims = {2, 4, 4, 16, 16, 64, 64};
  for (int t = 0; t < 4; ++t) a.views.insert(a.views.end(), {0, 4 * 16 * 64, 64, 4 * 64});  // [B, L, H, E]
  DeviceArgs half(DType::kFloat16, s);
  std::vector<std::string> expected = {"flash", "mma", "mma32", "mma_k32", "flash32", "rows"};
  if (have_cudnn()) {
    expected.insert(expected.begin() + 5, {"cudnn:composite:1", "cudnn:unified:1"});
    expected.insert(expected.begin() + 3, {"cudnn", "cudnn:composite", "cudnn:unified"});
  }
  EXPECT_EQ(cuda::candidate_tactics(a, half.args), expected);
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) { return ingot::run_gpu_tests(argc, argv); }

#else  // no CUDA in this build

int main() {
  std::printf("built without CUDA: skipping the GPU attention tests\n");
  return 77;
}

#endif
