// In-place activation after a cuBLASLt product (see gemm_epilogue.h). A separate
// kernel costs one read and one write of the output, which is what the unfused
// Unary op costs too, but it saves a launch of the generic elementwise family and
// its output buffer. The math matches the CPU backend's unary kernel (and torch):
// exact erf gelu, NaN kept by relu and clamp.
// Memory bound: each thread moves 16 bytes at a time when the buffer allows.
#include "backends/cuda/gemm_epilogue.h"

#include <algorithm>
#include <string>

#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

__device__ __forceinline__ float activate(UnaryFn fn, float x, float alpha, float beta) {
  switch (fn) {
    case UnaryFn::kRelu: return x < 0.f ? 0.f : x;
    case UnaryFn::kGelu: return 0.5f * x * (1.f + erff(x * 0.70710678118654752440f));
    case UnaryFn::kGeluTanh: return 0.5f * x * (1.f + tanhf(0.79788456080286535588f * (x + 0.044715f * x * x * x)));
    case UnaryFn::kSilu: return x / (1.f + expf(-x));
    case UnaryFn::kSigmoid: return 1.f / (1.f + expf(-x));
    case UnaryFn::kTanh: return tanhf(x);
    case UnaryFn::kClamp: {
      const float lo = (x < alpha) ? alpha : x;  // NaN stays NaN
      return (beta < lo) ? beta : lo;
    }
    case UnaryFn::kLeakyRelu: return x > 0.f ? x : x * alpha;
    case UnaryFn::kElu: return x > 0.f ? x : alpha * expm1f(x);
    case UnaryFn::kHardSwish: return x * fminf(fmaxf(x + 3.f, 0.f), 6.f) / 6.f;
    case UnaryFn::kHardSigmoid: return fminf(fmaxf(x + 3.f, 0.f), 6.f) / 6.f;
    case UnaryFn::kSoftplus: return x * alpha > beta ? x : log1pf(expf(x * alpha)) / alpha;
    case UnaryFn::kMish: return x * tanhf(log1pf(expf(x)));
    default: return x;  // unreachable: the host checks gemm_activation_supported
  }
}

// Elements [0, n_vec * V) as 16-byte vectors (only when the base is 16-byte
// aligned), the rest one by one.
template <typename T>
__global__ void activation_in_place(T* __restrict__ y, int64_t n, int64_t n_vec, UnaryFn fn, float alpha,
                                    float beta) {
  constexpr int V = 16 / sizeof(T);
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  uint4* vec = reinterpret_cast<uint4*>(y);
  for (int64_t i = tid; i < n_vec; i += stride) {
    uint4 raw = vec[i];
    T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
    for (int k = 0; k < V; ++k) e[k] = from_float<T>(activate(fn, to_float(e[k]), alpha, beta));
    vec[i] = raw;
  }
  for (int64_t i = n_vec * V + tid; i < n; i += stride) y[i] = from_float<T>(activate(fn, to_float(y[i]), alpha, beta));
}

template <typename T>
Status launch(void* data, int64_t n, UnaryFn fn, float alpha, float beta, cudaStream_t stream) {
  constexpr int V = 16 / sizeof(T);
  const bool aligned = reinterpret_cast<uintptr_t>(data) % 16 == 0;
  const int64_t n_vec = aligned ? n / V : 0;
  const int64_t work = n_vec + (n - n_vec * V);
  // A few waves of 256-thread blocks; the grid-stride loops cover the rest.
  const unsigned blocks = std::min<unsigned>(blocks_for(work), 132u * 16u);
  activation_in_place<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(data), n, n_vec, fn, alpha, beta);
  INGOT_CUDA_CHECK_LAUNCH("gemm activation kernel");
  return {};
}

}  // namespace

bool gemm_activation_supported(int64_t fn) { return gemm_epilogue_activation(fn); }

Status apply_gemm_activation(void* data, DType dtype, int64_t n, int64_t fn, float alpha, float beta,
                             cudaStream_t stream) {
  if (!gemm_activation_supported(fn))
    return unsupported("gemm: activation " + std::to_string(fn) + " is not implemented in the CUDA gemm epilogue");
  if (n <= 0) return {};
  const auto f = static_cast<UnaryFn>(fn);
  switch (dtype) {
    case DType::kFloat32: return launch<float>(data, n, f, alpha, beta, stream);
    case DType::kFloat16: return launch<__half>(data, n, f, alpha, beta, stream);
    case DType::kBFloat16: return launch<__nv_bfloat16>(data, n, f, alpha, beta, stream);
    default: return unsupported(std::string("gemm: activation on ") + dtype_name(dtype) + " output");
  }
}

}  // namespace ingot::cuda
