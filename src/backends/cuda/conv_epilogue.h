// The convolution family's own kernels (conv_epilogue.cu), used by convolution.cc:
// the epilogue where cuDNN's fused conv-bias-activation call cannot do it all
// (activations other than relu, convs without bias, algorithms the fused call
// refuses, transposed convs), the channel padding of the "pad8" tactics and the
// patch matrix of the "im2col/" tactics.
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
// The same into new device memory the caller owns (cudaFree): a weight widened
// once per step state (pad8 and im2col tactics).
Result<void*> padded_copy(DType dtype, const void* x, int64_t rows, int64_t c_in, int64_t c_out, cudaStream_t stream);

// The geometry of a 2-d channels-last convolution as an im2col matrix product.
struct Im2colGeometry {
  int64_t n = 0, h = 0, w = 0, c = 0;     // input [N, H, W, C]
  int64_t oh = 0, ow = 0;                 // output spatial size
  int64_t kh = 0, kw = 0;                 // kernel
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t cols = 0;                       // row length: kh*kw*c rounded up (zeros past it)
  int64_t rows() const { return n * oh * ow; }
};

// cols[(b, oy, ox), (ky, kx, ci)] = x[b, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw, ci]
// (zero outside the image and past kh*kw*c): the patch matrix whose product with
// the [Cout, kh, kw, C] weight (rows padded to g.cols) is the convolution. 2-byte dtypes.
Status im2col_nhwc(DType dtype, const void* x, void* cols, const Im2colGeometry& g, cudaStream_t stream);

}  // namespace ingot::cuda
