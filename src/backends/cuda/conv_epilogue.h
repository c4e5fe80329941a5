// The convolution family's own kernels (conv_epilogue.cu), used by convolution.cc:
// the epilogue where cuDNN's fused conv-bias-activation call cannot do it all
// (activations other than relu, convs without bias, algorithms the fused call
// refuses, transposed convs), and the channel padding of the "pad8" tactics.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/cuda_common.h"

namespace ingot::cuda {

struct ConvEpilogue {
  int64_t elements = 0;   // y's element count
  int64_t channels = 1;   // C
  int64_t inner = 1;      // elements per (n, c) plane for channels-first y; 1 for channels-last
  bool channels_last = false;
  const void* bias = nullptr;      // [C] in y's dtype, or nullptr
  const void* residual = nullptr;  // y's shape and dtype, or nullptr
  int64_t activation = -1;         // -1 none, else a UnaryFn
  float alpha = 0.f, beta = 0.f;   // the activation's parameters
};

// Whether the epilogue kernel implements this UnaryFn as an activation.
bool conv_epilogue_supports(int64_t activation);

// y = act(y + bias[c] + residual) in place; y is float32, float16 or bfloat16.
Status run_conv_epilogue(DType dtype, void* y, const ConvEpilogue& e, cudaStream_t stream);

// y[r, c] = c < c_in ? x[r, c] : 0 for rows x [rows, c_in] -> y [rows, c_out] (c_out >=
// c_in): channels-last tensors widened with zero channels. 2- or 4-byte dtypes.
Status pad_channels(DType dtype, const void* x, void* y, int64_t rows, int64_t c_in, int64_t c_out,
                    cudaStream_t stream);

}  // namespace ingot::cuda
