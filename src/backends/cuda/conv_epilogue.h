// The convolution epilogue kernel (conv_epilogue.cu), used by convolution.cc where
// cuDNN's fused conv-bias-activation call cannot do the whole epilogue: activations
// other than relu, convs without bias, algorithms the fused call refuses, and
// transposed convs.
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

}  // namespace ingot::cuda
