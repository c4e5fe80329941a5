// The "cudnn" attention tactic: cuDNN's fused scaled-dot-product-attention
// engine (flash attention tuned by NVIDIA per GPU generation), built through the
// cuDNN frontend's graph API. Plain C++ (no device code): attention.cu turns its
// parsed problem into a CudnnSdpaDesc and calls these.
//
// The frontend is header-only and optional: without it (INGOT_HAVE_CUDNN_FRONTEND
// unset at build time) cudnn_sdpa_available() is false and the tactic is never
// offered. cuDNN compiles some of its attention engines at run time with NVRTC,
// so building a plan can fail on a machine without libnvrtc; attention.cu then
// falls back to its own kernels for an engine that asked for this tactic.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include <cuda_runtime.h>

#include "ingot/dtype.h"
#include "ingot/status.h"
#include "ir/attention_geometry.h"

struct cudnnContext;

namespace ingot::cuda {

// cuDNN frontend's SDPA implementations: the composite one (the fused attention
// engines of cuDNN 9.0 on, which take a bias) and the unified one (cuDNN's
// SDPA_FWD operation, 9.13.1 on: q, k, v and the scale only); auto is the
// frontend's pick (unified where it can).
enum class CudnnSdpaImpl { kAuto, kComposite, kUnified };

// One attention problem as cuDNN sees it: [batch, heads, rows, head size] views
// with unit stride in the head dimension, an optional additive bias broadcast
// over batch, heads and query rows (a dimension of size 1 is broadcast); a bool
// mask is converted to that form by attention.cu before each run.
struct CudnnSdpaDesc {
  DType dtype = DType::kFloat16;
  int64_t batch = 0, hq = 0, hkv = 0, L = 0, S = 0, E = 0, Ev = 0;
  AttnView q, k, v, out;
  float scale = 1.f;
  bool causal = false;  // torch's top-left causal mask
  bool has_bias = false;
  int64_t bias_dims[4] = {}, bias_strides[4] = {};  // [batch|1, heads|1, L|1, S]
  // Which of cuDNN's SDPA implementations and execution plans: the tactic
  // "cudnn" is {kAuto, 0} (the frontend's choice, the heuristic's first plan);
  // "cudnn:composite", "cudnn:unified:1" ... name the others (see attention.cu).
  CudnnSdpaImpl impl = CudnnSdpaImpl::kAuto;
  int plan_index = 0;
};

class CudnnSdpaPlan;

// Whether this build carries the cuDNN frontend.
bool cudnn_sdpa_available();

// The checks that need no GPU (dtype, head sizes, 16-byte strides): ok or `unsupported`.
Status cudnn_sdpa_check(const CudnnSdpaDesc& d);

// Builds (or reuses, per handle and problem) cuDNN's plan; `unsupported` when
// cuDNN has no engine for it or it needs more than workspace_bytes of scratch.
Result<std::shared_ptr<const CudnnSdpaPlan>> cudnn_sdpa_plan(const CudnnSdpaDesc& d, cudnnContext* handle,
                                                             size_t workspace_bytes);

// Runs the plan on `stream`. The q, k, v, out pointers are the tensors' data (the
// views' offsets are applied here); bias may be null when the plan has none.
Status cudnn_sdpa_run(const CudnnSdpaPlan& plan, cudnnContext* handle, cudaStream_t stream, const void* q,
                      const void* k, const void* v, void* out, const void* bias, void* workspace);

// Scratch the tactic may use: what workspace sizing reserves for it.
inline constexpr size_t kCudnnSdpaWorkspace = size_t{32} << 20;

}  // namespace ingot::cuda
