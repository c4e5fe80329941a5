// The CPU backend's kernel interface. One file per op family implements the
// functions declared here; cpu_backend.cc dispatches a Plan step to them. The
// CPU backend runs every op ingot supports: it is the reference CI can run and
// the evaluator the compiler uses for constant folding.
#pragma once
#include <cstdint>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"
#include "ir/ops.h"

namespace ingot::cpu {

// A dense, contiguous, row-major tensor in host memory.
struct TensorRef {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int rank() const { return static_cast<int>(shape.size()); }
  template <typename T> T* as() const { return static_cast<T*>(data); }
};

// Inputs may hold nullptr for an absent optional input. Output shapes and dtypes
// are already set (from the plan); kernels fill the data.
struct KernelArgs {
  std::vector<const TensorRef*> in;
  std::vector<TensorRef*> out;
};

// Runs one step. Returns kUnsupported for a dtype/shape combination the CPU
// backend cannot run, kInvalidArgument for inconsistent shapes.
Status run_kernel(const OpAttrs& attrs, const KernelArgs& args);

// Whether run_kernel supports this op with these input/output dtypes (compiler asks before committing).
bool supports(const OpAttrs& attrs, const std::vector<DType>& in_dtypes, const std::vector<DType>& out_dtypes);

// --- per family (each in its own file) ---
Status data_movement(const OpAttrs& attrs, const KernelArgs& args);  // reshape, permute, expand, slice, concat, pad, slice_scatter, triangular
Status indexing(const OpAttrs& attrs, const KernelArgs& args);       // gather, index_select, index, where
Status elementwise(const OpAttrs& attrs, const KernelArgs& args);    // unary, binary, cast
Status reduction(const OpAttrs& attrs, const KernelArgs& args);      // reduce, arg_reduce, cumulative, softmax
Status normalization(const OpAttrs& attrs, const KernelArgs& args);  // layer_norm, rms_norm, group_norm, batch_norm
Status linear_algebra(const OpAttrs& attrs, const KernelArgs& args); // matmul, gemm
Status convolution(const OpAttrs& attrs, const KernelArgs& args);    // conv
Status attention(const OpAttrs& attrs, const KernelArgs& args);      // attention
Status pooling(const OpAttrs& attrs, const KernelArgs& args);        // pool, adaptive_pool, upsample
Status pointwise(const OpAttrs& attrs, const KernelArgs& args);      // pointwise (fused elementwise chains)
Status grid_sampling(const OpAttrs& attrs, const KernelArgs& args);  // grid_sample

}  // namespace ingot::cpu
