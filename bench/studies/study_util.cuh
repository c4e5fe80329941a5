// Shared by the GEMM studies (gemm_algorithms_study.cu, cutlass_gemm_study.cu): the
// stream they run on, per-launch timing in a CUDA graph and random fp16 data. A
// study stays one nvcc command: this header is all it includes from here.
#pragma once
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
