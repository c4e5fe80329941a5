// The convolution epilogue on the GPU: y = act(y + bias[c] + residual), in place,
// computed in float and rounded once, with the CPU backend's activation formulas
// (elementwise.cc), so a fused conv matches the unfused graph. One thread per
// element; the activation is a runtime switch, uniform across the grid. Also the
// zero channel padding of channels-last inputs and weights (one thread per output
// element: the writes, the larger side, are coalesced).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstring>
#include <string>

#include "backends/cuda/conv_epilogue.h"
#include "backends/cuda/cuda_util.cuh"

namespace ingot::cuda {
namespace {

__device__ __forceinline__ float activate(int64_t fn, float x, float alpha, float beta) {
  switch (static_cast<UnaryFn>(fn)) {
    case UnaryFn::kRelu: return x < 0.f ? 0.f : x;  // keeps NaN
    case UnaryFn::kClamp: { const float lo = x < alpha ? alpha : x; return beta < lo ? beta : lo; }
    case UnaryFn::kSilu: return x / (1.f + expf(-x));
    case UnaryFn::kSigmoid: return 1.f / (1.f + expf(-x));
    case UnaryFn::kHardSwish: { const float t = fminf(fmaxf(x + 3.f, 0.f), 6.f); return x * t / 6.f; }
    case UnaryFn::kHardSigmoid: return fminf(fmaxf(x + 3.f, 0.f), 6.f) / 6.f;
    case UnaryFn::kGelu: return 0.5f * x * (1.f + erff(x * 0.70710678118654752440f));
    case UnaryFn::kGeluTanh: return 0.5f * x * (1.f + tanhf(0.79788456080286535588f * (x + 0.044715f * x * x * x)));
    case UnaryFn::kLeakyRelu: return x > 0.f ? x : x * alpha;
    case UnaryFn::kTanh: return tanhf(x);
    case UnaryFn::kElu: return x > 0.f ? x : alpha * expm1f(x);
    case UnaryFn::kMish: return x * tanhf(log1pf(expf(x)));
    default: return x;
  }
}

template <typename T>
__device__ __forceinline__ float value_at(const T* p, int64_t i) { return widen(p[i]); }

template <typename T>
__global__ void conv_epilogue_kernel(T* __restrict__ y, ConvEpilogue e) {
  const T* bias = static_cast<const T*>(e.bias);
  const T* residual = static_cast<const T*>(e.residual);
  INGOT_GRID_STRIDE(i, e.elements) {
    float v = widen(y[i]);
    if (bias) {
      const int64_t c = e.channels_last ? i % e.channels : (i / e.inner) % e.channels;
      v += value_at(bias, c);
    }
    if (residual) v += value_at(residual, i);
    if (e.activation >= 0) v = activate(e.activation, v, e.alpha, e.beta);
    y[i] = cast_value<T>(v);
  }
}

}  // namespace

bool conv_epilogue_supports(int64_t activation) {
  if (activation < 0) return true;
  switch (static_cast<UnaryFn>(activation)) {
    case UnaryFn::kRelu: case UnaryFn::kClamp: case UnaryFn::kSilu: case UnaryFn::kSigmoid:
    case UnaryFn::kHardSwish: case UnaryFn::kHardSigmoid: case UnaryFn::kGelu: case UnaryFn::kGeluTanh:
    case UnaryFn::kLeakyRelu: case UnaryFn::kTanh: case UnaryFn::kElu: case UnaryFn::kMish:
      return true;
    default:
      return false;
  }
}

template <typename T>
__global__ void pad_channels_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, int c_in, int c_out) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += stride) {
    const int64_t row = i / c_out;
    const int c = static_cast<int>(i - row * c_out);
    y[i] = c < c_in ? x[row * c_in + c] : T{};
  }
}

Status pad_channels(DType dtype, const void* x, void* y, int64_t rows, int64_t c_in, int64_t c_out,
                    cudaStream_t stream) {
  if (c_in < 1 || c_out < c_in || rows < 0) return internal_error("[cuda conv] bad channel padding geometry");
  const int64_t total = rows * c_out;
  if (total == 0) return {};
  const unsigned blocks = blocks_for(total);
  const int ci = static_cast<int>(c_in), co = static_cast<int>(c_out);
  switch (dtype_size(dtype)) {
    case 2:
      pad_channels_kernel<uint16_t><<<blocks, kThreads, 0, stream>>>(static_cast<const uint16_t*>(x),
                                                                     static_cast<uint16_t*>(y), total, ci, co);
      break;
    case 4:
      pad_channels_kernel<uint32_t><<<blocks, kThreads, 0, stream>>>(static_cast<const uint32_t*>(x),
                                                                     static_cast<uint32_t*>(y), total, ci, co);
      break;
    default: return unsupported(std::string("[cuda conv] channel padding of ") + dtype_name(dtype));
  }
  INGOT_CUDA_CHECK_LAUNCH("pad_channels");
  return {};
}

Result<void*> padded_copy(DType dtype, const void* x, int64_t rows, int64_t c_in, int64_t c_out, cudaStream_t stream) {
  const size_t bytes = static_cast<size_t>(rows * c_out) * dtype_size(dtype);
  void* out = nullptr;
  if (cudaMalloc(&out, bytes) != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it
    return device_error("[cuda conv] cannot allocate " + std::to_string(bytes) + " bytes for a padded weight");
  }
  if (Status st = pad_channels(dtype, x, out, rows, c_in, c_out, stream); !st.ok()) {
    cudaFree(out);
    return st;
  }
  return out;
}

// One thread per 8 consecutive columns of a row (one 16-byte store): the image
// stems this serves have few channels, so a group spans several (ky, kx) taps and
// each element is gathered on its own; the reads hit L2 (the input is small next
// to the matrix).
__global__ void im2col_kernel(const uint16_t* __restrict__ x, uint16_t* __restrict__ cols, Im2colGeometry g,
                              int64_t groups_per_row, int64_t total) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t k_used = g.kh * g.kw * g.c;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += stride) {
    const int64_t row = i / groups_per_row;
    const int64_t k0 = (i - row * groups_per_row) * 8;
    const int64_t ox = row % g.ow, t = row / g.ow, oy = t % g.oh, b = t / g.oh;
    const int64_t iy0 = oy * g.sh - g.ph, ix0 = ox * g.sw - g.pw;
    const uint16_t* xb = x + b * g.h * g.w * g.c;
    uint16_t v[8];
    int64_t ci = k0 % g.c, tap = k0 / g.c;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      uint16_t e = 0;
      if (k0 + j < k_used) {
        const int64_t ky = tap / g.kw, kx = tap - ky * g.kw;
        const int64_t iy = iy0 + ky * g.dh, ix = ix0 + kx * g.dw;
        if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) e = xb[(iy * g.w + ix) * g.c + ci];
      }
      v[j] = e;
      if (++ci == g.c) {
        ci = 0;
        ++tap;
      }
    }
    uint4 packed;
    memcpy(&packed, v, sizeof(packed));
    *reinterpret_cast<uint4*>(cols + row * g.cols + k0) = packed;
  }
}

Status im2col_nhwc(DType dtype, const void* x, void* cols, const Im2colGeometry& g, cudaStream_t stream) {
  if (dtype_size(dtype) != 2) return unsupported(std::string("[cuda conv] im2col of ") + dtype_name(dtype));
  if (g.cols % 8 != 0 || g.cols < g.kh * g.kw * g.c || g.c < 1)
    return internal_error("[cuda conv] bad im2col geometry");
  if (reinterpret_cast<uintptr_t>(cols) % 16 != 0) return internal_error("[cuda conv] im2col output misaligned");
  const int64_t groups_per_row = g.cols / 8, total = g.rows() * groups_per_row;
  if (total == 0) return {};
  im2col_kernel<<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const uint16_t*>(x),
                                                             static_cast<uint16_t*>(cols), g, groups_per_row, total);
  INGOT_CUDA_CHECK_LAUNCH("im2col");
  return {};
}

Status run_conv_epilogue(DType dtype, void* y, const ConvEpilogue& e, cudaStream_t stream) {
  if (e.elements == 0 || (!e.bias && !e.residual && e.activation < 0)) return {};
  if (!conv_epilogue_supports(e.activation))
    return unsupported("[cuda conv] activation " + std::to_string(e.activation) + " is not supported in the epilogue");
  if (e.channels < 1 || e.inner < 1) return internal_error("[cuda conv] bad epilogue geometry");
  const unsigned blocks = blocks_for(e.elements);
  switch (dtype) {
    case DType::kFloat32: conv_epilogue_kernel<float><<<blocks, kThreads, 0, stream>>>(static_cast<float*>(y), e); break;
    case DType::kFloat16: conv_epilogue_kernel<__half><<<blocks, kThreads, 0, stream>>>(static_cast<__half*>(y), e); break;
    case DType::kBFloat16:
      conv_epilogue_kernel<__nv_bfloat16><<<blocks, kThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(y), e);
      break;
    default: return unsupported(std::string("[cuda conv] epilogue dtype ") + dtype_name(dtype));
  }
  INGOT_CUDA_CHECK_LAUNCH("conv_epilogue");
  return {};
}

}  // namespace ingot::cuda
