// Kernel micro-benchmark: ingot's own memory-bound CUDA kernels (pointwise,
// reformat, permute, cast, max pool, concat) on the shapes of the benchmark models
// at batch 32, beside trivial reference kernels (a vectorized copy, add and cast of
// the same bytes) that show what memory bandwidth allows. Each is timed as 200
// launches captured in one CUDA graph, as an engine runs them, so launch overhead
// is what a graph replay pays. Built as ingot_kernel_bench with the CUDA backend;
// run it on the GPU machine (scripts/gpu_check.sh does). Prints microseconds per
// launch; it checks no numbers (the GPU tests do).
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cudnn.h>
#include <cstdio>
#include <memory>
#include <vector>

#include "backends/cuda/cuda_common.h"
#include "backends/pointwise_program.h"

using namespace ingot;

static cudaStream_t s;

template <typename F> float time_graph(F launch, int reps = 200) {
  launch();
  cudaStreamSynchronize(s);
  cudaGraph_t g;
  cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
  for (int i = 0; i < reps; ++i) launch();
  cudaStreamEndCapture(s, &g);
  cudaGraphExec_t ge;
  cudaGraphInstantiate(&ge, g, 0);
  cudaGraphLaunch(ge, s);
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  cudaEventRecord(a, s);
  cudaGraphLaunch(ge, s);
  cudaEventRecord(b, s);
  cudaEventSynchronize(b);
  float ms;
  cudaEventElapsedTime(&ms, a, b);
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  return ms * 1000 / reps;  // us
}

__global__ void ref_add_periodic(const uint4* x, const uint4* pos, uint4* y, unsigned n8, unsigned p8) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
    uint4 a = x[i], b = pos[i % p8], c;
    const __half2* ha = reinterpret_cast<const __half2*>(&a);
    const __half2* hb = reinterpret_cast<const __half2*>(&b);
    __half2* hc = reinterpret_cast<__half2*>(&c);
    for (int k = 0; k < 4; ++k)
      hc[k] = __float22half2_rn(
          make_float2(__low2float(ha[k]) + __low2float(hb[k]), __high2float(ha[k]) + __high2float(hb[k])));
    y[i] = c;
  }
}
__global__ void ref_cast(const float4* x, uint2* y, unsigned n4) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
    float4 v = x[i];
    __half2 h[2] = {__float22half2_rn(make_float2(v.x, v.y)), __float22half2_rn(make_float2(v.z, v.w))};
    y[i] = *reinterpret_cast<uint2*>(h);
  }
}
__global__ void ref_copy(const uint4* x, uint4* y, unsigned n) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[i] = x[i];
}

struct Step {
  OpAttrs attrs;
  std::vector<cuda::DeviceTensor> in;
  cuda::DeviceTensor out;
  std::unique_ptr<cuda::StepState> state;
  cuda::KernelArgs args;
  void bind() {
    args.in.clear();
    for (auto& t : in) args.in.push_back(&t);
    args.out = {&out};
    args.stream = s;
    args.state = &state;
  }
};

void* dalloc(size_t bytes) {
  void* p;
  cudaMalloc(&p, bytes);
  cudaMemset(p, 0, bytes);
  return p;
}

int main() {
  cudaStreamCreate(&s);
  auto run = [&](const char* label, Step& st) {
    st.bind();
    Status e = cuda::run_kernel(st.attrs, st.args);
    if (!e.ok()) { printf("%s: %s\n", label, e.to_string().c_str()); return; }
    float us = time_graph([&] { (void)cuda::run_kernel(st.attrs, st.args); });
    printf("%-44s %8.2f us\n", label, us);
  };
  // ViT b32 position add: [32,197,768] + [1,197,768] fp16 (binary add -> pointwise)
  {
    Step st;
    st.attrs = BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)};
    st.in = {{dalloc(32 * 197 * 768 * 2), DType::kFloat16, {32, 197, 768}},
             {dalloc(197 * 768 * 2), DType::kFloat16, {1, 197, 768}}};
    st.out = {dalloc(32 * 197 * 768 * 2), DType::kFloat16, {32, 197, 768}};
    run("ingot add [32,197,768]+[1,197,768] f16", st);
    unsigned n8 = 32 * 197 * 768 / 8, p8 = 197 * 768 / 8;
    float us = time_graph([&] {
      ref_add_periodic<<<(n8 + 255) / 256, 256, 0, s>>>((const uint4*)st.in[0].data, (const uint4*)st.in[1].data,
                                                        (uint4*)st.out.data, n8, p8);
    });
    printf("%-44s %8.2f us\n", "ref add periodic (8/thread)", us);
    float us2 = time_graph([&] {
      ref_copy<<<(n8 + 255) / 256, 256, 0, s>>>((const uint4*)st.in[0].data, (uint4*)st.out.data, n8);
    });
    printf("%-44s %8.2f us\n", "ref copy 9.7 MB", us2);
  }
  // BERT b32 embedding sum: 3 inputs
  {
    Step st;
    PointwiseAttrs p;
    p.program = {1, static_cast<int64_t>(BinaryFn::kAdd), 0, 1, 0, 1, static_cast<int64_t>(BinaryFn::kAdd), 3, 2, 0};
    st.attrs = p;
    st.in = {{dalloc(32 * 128 * 768 * 2), DType::kFloat16, {32, 128, 768}},
             {dalloc(128 * 768 * 2), DType::kFloat16, {1, 128, 768}},
             {dalloc(768 * 2), DType::kFloat16, {1, 1, 768}}};
    st.out = {dalloc(32 * 128 * 768 * 2), DType::kFloat16, {32, 128, 768}};
    run("ingot pointwise 3-add [32,128,768] f16", st);
  }
  // The interpreter on a longer program: GELU (tanh form) written out, as GPT-2
  // exports it, over ViT-B/16's MLP activation [32 * 197, 3072]; once 8 wide and
  // once 4 wide (the output pointer 8 bytes off 16-byte alignment).
  {
    const int64_t mul = static_cast<int64_t>(BinaryFn::kMul), add = static_cast<int64_t>(BinaryFn::kAdd);
    PointwiseAttrs gelu;
    gelu.immediates = {0.5, 3.0, 0.0, 0.044715, 0.7978845608, 1.0};
    gelu.program = {2, 0, 0, 0, 0,                                            // r1 = 0.5
                    1, mul, 0, 1, 0,                                          // r2 = 0.5 x
                    0, static_cast<int64_t>(UnaryFn::kPowScalar), 0, 0, 1,    // r3 = x^3
                    2, 0, 0, 0, 3,                                            // r4 = 0.044715
                    1, mul, 3, 4, 0,                                          // r5
                    1, add, 0, 5, 0,                                          // r6 = x + 0.044715 x^3
                    2, 0, 0, 0, 4,                                            // r7
                    1, mul, 6, 7, 0,                                          // r8
                    0, static_cast<int64_t>(UnaryFn::kTanh), 8, 0, 0,         // r9
                    2, 0, 0, 0, 5,                                            // r10 = 1
                    1, add, 9, 10, 0,                                         // r11
                    1, mul, 2, 11, 0};                                        // r12
    const int64_t rows = 32 * 197, cols = 3072;
    Step st;
    st.attrs = gelu;
    st.in = {{dalloc(rows * cols * 2), DType::kFloat16, {rows, cols}}};
    char* out = static_cast<char*>(dalloc(rows * cols * 2 + 16));
    st.out = {out, DType::kFloat16, {rows, cols}};
    run("ingot pointwise gelu chain [6304,3072] 8-wide", st);
    Step st4;
    st4.attrs = gelu;
    st4.in = st.in;
    st4.out = {out + 8, DType::kFloat16, {rows, cols}};
    run("ingot pointwise gelu chain [6304,3072] 4-wide", st4);
  }
  // ResNet input: reformat fp32 NCHW -> fp16 NHWC, and the cast alone
  {
    Step st;
    st.attrs = ReformatAttrs{.perm = {0, 2, 3, 1}};
    st.in = {{dalloc(32 * 3 * 224 * 224 * 4), DType::kFloat32, {32, 3, 224, 224}}};
    st.out = {dalloc(32 * 3 * 224 * 224 * 2), DType::kFloat16, {32, 224, 224, 3}};
    run("ingot reformat nchw f32 -> nhwc f16", st);
    Step c;
    c.attrs = CastAttrs{};
    c.in = {st.in[0]};
    c.out = {st.out.data, DType::kFloat16, {32, 3, 224, 224}};
    run("ingot cast f32 -> f16 [32,3,224,224]", c);
    Step pm;
    pm.attrs = PermuteAttrs{.perm = {0, 2, 3, 1}};
    pm.in = {{st.out.data, DType::kFloat16, {32, 3, 224, 224}}};
    pm.out = {dalloc(32 * 3 * 224 * 224 * 2), DType::kFloat16, {32, 224, 224, 3}};
    run("ingot permute nchw->nhwc f16", pm);
    unsigned n4 = 32 * 3 * 224 * 224 / 4;
    float us = time_graph([&] {
      ref_cast<<<(n4 + 255) / 256, 256, 0, s>>>((const float4*)st.in[0].data, (uint2*)st.out.data, n4);
    });
    printf("%-44s %8.2f us\n", "ref cast f32->f16 (4/thread)", us);
    // ViT patches
    Step v;
    v.attrs = ReformatAttrs{.perm = {0, 2, 4, 1, 3, 5}};
    v.in = {{st.in[0].data, DType::kFloat32, {32, 3, 14, 16, 14, 16}}};
    v.out = {st.out.data, DType::kFloat16, {32, 14, 14, 3, 16, 16}};
    run("ingot reformat vit patches f32 -> f16", v);
  }
  // ResNet stem pool: [32,112,112,64] -> [32,56,56,64] 3x3/2 pad 1
  {
    Step st;
    PoolAttrs pa;
    pa.kind = 0;
    pa.kernel = {3, 3};
    pa.stride = {2, 2};
    pa.padding = {1, 1};
    pa.dilation = {1, 1};
    pa.channels_last = true;
    st.attrs = pa;
    st.in = {{dalloc(32 * 112 * 112 * 64 * 2), DType::kFloat16, {32, 112, 112, 64}}};
    st.out = {dalloc(32 * 56 * 56 * 64 * 2), DType::kFloat16, {32, 56, 56, 64}};
    run("ingot maxpool 3x3/2 [32,112,112,64]", st);
  }
  // Concat ViT cls: [32,1,768] + [32,196,768]
  {
    Step st;
    st.attrs = ConcatAttrs{.dim = 1};
    st.in = {{dalloc(32 * 768 * 2), DType::kFloat16, {32, 1, 768}},
             {dalloc(32 * 196 * 768 * 2), DType::kFloat16, {32, 196, 768}}};
    st.out = {dalloc(32 * 197 * 768 * 2), DType::kFloat16, {32, 197, 768}};
    run("ingot concat [32,1|196,768]", st);
  }
  // Layer norm over 768 features with weight and bias (ViT b32 rows, BERT b32 rows),
  // beside a copy of the same bytes.
  for (int64_t rows : {int64_t{6304}, int64_t{4096}}) {
    Step st;
    st.attrs = LayerNormAttrs{.normalized_ndim = 1, .eps = 1e-6};
    st.in = {{dalloc(rows * 768 * 2), DType::kFloat16, {rows, 768}},
             {dalloc(768 * 2), DType::kFloat16, {768}},
             {dalloc(768 * 2), DType::kFloat16, {768}}};
    st.out = {dalloc(rows * 768 * 2), DType::kFloat16, {rows, 768}};
    char label[64];
    snprintf(label, sizeof label, "ingot layer_norm [%lld,768] f16", static_cast<long long>(rows));
    run(label, st);
    const unsigned n8 = static_cast<unsigned>(rows * 768 / 8);
    float us = time_graph([&] {
      ref_copy<<<(n8 + 255) / 256, 256, 0, s>>>((const uint4*)st.in[0].data, (uint4*)st.out.data, n8);
    });
    snprintf(label, sizeof label, "ref copy [%lld,768] f16", static_cast<long long>(rows));
    printf("%-44s %8.2f us\n", label, us);
  }
  // Attention tactics on the models' b32 shapes, q/k/v read in place from the
  // packed QKV projection [B, L, 3, H, 64] as the engines do (views folded).
  {
    cuda::Handles handles;
    cublasLtCreate(&handles.cublaslt);
    cudnnCreate(&handles.cudnn);
    const size_t ws_bytes = size_t{64} << 20;
    void* ws = dalloc(ws_bytes);
    struct Shape { const char* name; int64_t L; bool mask; };
    for (const Shape& sh : {Shape{"vit", 197, false}, Shape{"bert", 128, true}}) {
      const int64_t B = 32, H = 12, E = 64, L = sh.L;
      char* qkv = static_cast<char*>(dalloc(B * L * 3 * H * E * 2));
      AttentionAttrs a;
      a.scale = 0.125;
      a.dims = {B, H, H, L, L, E, E};
      const int64_t row = 3 * H * E;
      a.views = {0,     L * row, E, row,   H * E,     L * row, E, row,  // q, k
                 2 * H * E, L * row, E, row,  0, L * H * E, E, H * E};  // v, out [B, L, H, E]
      Step st;
      st.attrs = a;
      for (int i = 0; i < 3; ++i) st.in.push_back({qkv, DType::kFloat16, {B, L, row}});
      // BERT: the padding mask as the engine reads it, additive in fp16 (0 here: all kept).
      if (sh.mask) st.in.push_back({dalloc(B * L * 2), DType::kFloat16, {B, 1, 1, L}});
      st.out = {dalloc(B * L * H * E * 2), DType::kFloat16, {B, L, H, E}};
      st.bind();
      for (const std::string& tactic : cuda::candidate_tactics(st.attrs, st.args)) {
        if (tactic == "rows" || tactic == "gemm") continue;  // far slower; not what the engines pick
        Step t;
        t.attrs = st.attrs;
        t.in = st.in;
        t.out = st.out;
        t.bind();
        t.args.handles = &handles;
        t.args.workspace = ws;
        t.args.workspace_bytes = ws_bytes;
        t.args.tactic = tactic;
        t.args.strict_tactic = true;
        Status e = cuda::run_kernel(t.attrs, t.args);
        char label[96];
        snprintf(label, sizeof label, "attention %s b32 L%lld tactic %s", sh.name, static_cast<long long>(L),
                 tactic.c_str());
        if (!e.ok()) { printf("%-44s %s\n", label, e.to_string().c_str()); continue; }
        printf("%-44s %8.2f us\n", label, time_graph([&] { (void)cuda::run_kernel(t.attrs, t.args); }));
      }
    }
  }
  cudaError_t err = cudaDeviceSynchronize();
  printf("done: %s\n", cudaGetErrorString(err));
  return 0;
}
