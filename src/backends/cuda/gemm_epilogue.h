// The part of a fused Gemm's epilogue that cuBLASLt cannot do: activations other
// than relu and the tanh-approximated gelu (exact gelu, silu, sigmoid, ...),
// applied in place to the product after cublasLtMatmul on the same stream.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ingot/dtype.h"
#include "ingot/status.h"

namespace ingot::cuda {

// Whether apply_gemm_activation implements this UnaryFn (keep in step with the
// activations the fusion pass folds into Gemm: src/passes/fuse_gemm.cc).
bool gemm_activation_supported(int64_t fn);

// data[i] = fn(data[i]) for n elements of dtype (float32, float16, bfloat16),
// computed in float32. No allocation, no synchronization (CUDA-graph safe).
Status apply_gemm_activation(void* data, DType dtype, int64_t n, int64_t fn, float alpha, float beta,
                             cudaStream_t stream);

}  // namespace ingot::cuda
