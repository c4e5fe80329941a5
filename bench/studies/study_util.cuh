// Shared by the GEMM studies (gemm_algorithms_study.cu, cutlass_gemm_study.cu): the
// stream they run on, per-launch timing in a CUDA graph, random fp16 data and an
// nn.Linear-shaped cuBLASLt problem. A study stays one nvcc command: this header is
// all it includes from here.
#pragma once
#include <cublasLt.h>
#include <cuda_fp16.h>

static cudaStream_t s;

// Microseconds per launch: `reps` launches captured in one graph, best of `rounds` replays.
template <typename F> float time_graph(F launch, int reps = 50, int rounds = 3) {
  launch(); cudaStreamSynchronize(s);
  cudaGraph_t g; cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
  for (int i = 0; i < reps; ++i) launch();
  cudaStreamEndCapture(s, &g); cudaGraphExec_t ge;
  if (cudaGraphInstantiate(&ge, g, 0) != cudaSuccess) return -1;
  cudaGraphLaunch(ge, s);
  cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
  float best = 1e9;
  for (int r = 0; r < rounds; ++r) { cudaEventRecord(a, s); cudaGraphLaunch(ge, s); cudaEventRecord(b, s); cudaEventSynchronize(b);
    float ms; cudaEventElapsedTime(&ms, a, b); best = best < ms ? best : ms; }
  cudaEventDestroy(a); cudaEventDestroy(b);
  cudaGraphExecDestroy(ge); cudaGraphDestroy(g);
  return best * 1000 / reps;
}
// Uniform in [-scale, scale) from a hash of the index (random data draws the power real weights do).
__global__ void fill_kernel(__half* p, size_t n, float scale, unsigned seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    unsigned h = (unsigned)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
    p[i] = __float2half(((h & 0xffffff) / 16777216.0f * 2.f - 1.f) * scale);
  }
}
static unsigned g_seed = 1;
inline void fill_random(__half* p, size_t n, float scale) { fill_kernel<<<1024, 256>>>(p, n, scale, g_seed++ * 7919u); cudaDeviceSynchronize(); }

// A row-major fp16 linear layer D[M, N] = A[M, K] W[N, K]^T (fp32 accumulation) as
// cuBLASLt sees it, column-major D^T = W^T A^T: the descriptor with epilogue `epi`
// (`bias` for the bias epilogues) and the layouts la (W), lb (A), lc (C and D).
struct LtLinear {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  LtLinear(int M, int N, int K, cublasLtEpilogue_t epi, const void* bias) {
    cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi);
    if (bias) cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, K, N, K);
    cublasLtMatrixLayoutCreate(&lb, CUDA_R_16F, K, M, K);
    cublasLtMatrixLayoutCreate(&lc, CUDA_R_16F, N, M, N);
  }
  LtLinear(const LtLinear&) = delete;
  LtLinear& operator=(const LtLinear&) = delete;
  ~LtLinear() {
    cublasLtMatrixLayoutDestroy(la); cublasLtMatrixLayoutDestroy(lb); cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(desc);
  }
  // The heuristic's first `n` algorithms within ws_bytes of workspace; how many it gave.
  int heuristics(cublasLtHandle_t h, size_t ws_bytes, cublasLtMatmulHeuristicResult_t* res, int n) const {
    cublasLtMatmulPreference_t pref; cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof ws_bytes);
    int found = 0;
    cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, lc, lc, pref, n, res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    return found;
  }
};
