// Shared pieces of the CUDA backend: error conversion (CUDA, cuBLAS, cuDNN errors
// become Status values, never aborts), device tensor views and the arguments every
// CUDA kernel family receives.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"
#include "ir/ops.h"

struct cublasLtContext;
struct cudnnContext;

namespace ingot::cuda {

Status cuda_status(cudaError_t err, const char* what);
#define INGOT_CUDA_RETURN_IF_ERROR(expr) INGOT_RETURN_IF_ERROR(::ingot::cuda::cuda_status((expr), #expr))
// After a kernel launch: reports launch-configuration errors.
#define INGOT_CUDA_CHECK_LAUNCH(name) INGOT_RETURN_IF_ERROR(::ingot::cuda::cuda_status(cudaGetLastError(), name))

// A dense, contiguous, row-major tensor in device memory.
struct DeviceTensor {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int rank() const { return static_cast<int>(shape.size()); }
};

// Library handles owned by one execution context (one stream at a time).
struct Handles {
  cublasLtContext* cublaslt = nullptr;
  cudnnContext* cudnn = nullptr;
};

// Per-step state built once per context (descriptors, chosen algorithms, sizes),
// so that the steady-state run only launches work and can be captured in a graph.
struct StepState {
  virtual ~StepState() = default;
};

struct KernelArgs {
  std::vector<const DeviceTensor*> in;  // nullptr = absent optional input
  std::vector<DeviceTensor*> out;
  cudaStream_t stream = nullptr;
  Handles* handles = nullptr;
  void* workspace = nullptr;   // scratch for this step, valid during the call
  size_t workspace_bytes = 0;
  std::unique_ptr<StepState>* state = nullptr;  // this step's cached state (may be empty)
  bool allow_tf32 = false;
  // The plan step's kernel choice (PlanStep::tactic, set by the build-time tuner);
  // "" = the family's default. Each family parses its own tactic strings.
  std::string tactic;
  // Set by the build-time tuner: a tactic that cannot run fails instead of
  // falling back to another kernel (which would be timed under its name).
  bool strict_tactic = false;
};

// Scratch bytes a step needs (asked once when the context is created).
size_t workspace_size(const OpAttrs& attrs, const KernelArgs& args);
// The most scratch any of the step's candidate tactics needs (what the tuner
// gives every candidate, so that none is rejected for want of workspace).
size_t max_workspace_size(const OpAttrs& attrs, const KernelArgs& args);

// Launches one step on args.stream. Must not allocate memory or synchronize
// after the step's state exists (the steady state is captured in a CUDA graph).
Status run_kernel(const OpAttrs& attrs, const KernelArgs& args);
// Holds the stream busy for about `microseconds` without touching memory, so that
// work enqueued behind it starts back to back however slowly the host enqueues it
// (the per-step profile uses it to time GPU work, not launch overhead).
Status gpu_delay(double microseconds, cudaStream_t stream);
bool supports(const OpAttrs& attrs, const std::vector<DType>& in_dtypes, const std::vector<DType>& out_dtypes);

// --- per family, one file each ---
Status data_movement(const OpAttrs& attrs, const KernelArgs& args);  // reshape, permute, expand, slice, concat, pad, slice_scatter, triangular
Status indexing(const OpAttrs& attrs, const KernelArgs& args);       // gather, index_select, index, where
Status elementwise(const OpAttrs& attrs, const KernelArgs& args);    // unary, binary, cast
Status reduction(const OpAttrs& attrs, const KernelArgs& args);      // reduce, arg_reduce, cumulative, softmax
Status normalization(const OpAttrs& attrs, const KernelArgs& args);  // layer_norm, rms_norm, group_norm, batch_norm
Status linear_algebra(const OpAttrs& attrs, const KernelArgs& args); // matmul, gemm (cuBLASLt)
Status convolution(const OpAttrs& attrs, const KernelArgs& args);    // conv (cuDNN)
Status attention(const OpAttrs& attrs, const KernelArgs& args);      // attention
Status pooling(const OpAttrs& attrs, const KernelArgs& args);        // pool, adaptive_pool, upsample
Status pointwise(const OpAttrs& attrs, const KernelArgs& args);      // pointwise (fused elementwise chains)

// The kernel choices the build-time tuner may time for a step, in the fixed
// order that breaks ties (the first is the family's default). Empty: nothing to
// tune. Strings are stored in PlanStep::tactic and parsed by the family.
std::vector<std::string> candidate_tactics(const OpAttrs& attrs, const KernelArgs& args);
// Per family (a family without choices has none).
std::vector<std::string> gemm_tactics(const OpAttrs& attrs, const KernelArgs& args);       // linear_algebra.cc
std::vector<std::string> conv_tactics(const OpAttrs& attrs, const KernelArgs& args);       // convolution.cc
// A conv step's scratch: the libraries' 32 MiB, plus the widened input of a pad8
// tactic (this step's tactic, or any tactic the step may be given).
size_t conv_workspace_size(const OpAttrs& attrs, const KernelArgs& args, bool any_tactic);
std::vector<std::string> attention_tactics(const OpAttrs& attrs, const KernelArgs& args);  // attention.cu

// Device properties of the current GPU: "sm_90".
Result<std::string> current_arch();
std::string runtime_versions();  // "cuda 13.0, cublasLt 130100, cudnn 91900"

}  // namespace ingot::cuda
