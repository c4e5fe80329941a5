// The "graph:<i>" convolution tactics: a channels-last 2-d convolution with its
// bias, residual add and ReLU as one cuDNN graph (the cuDNN frontend's graph API),
// run with engine configuration i of cuDNN's heuristics list (mode A, then the
// fallback list). The legacy API that convolution.cc otherwise uses offers a
// handful of algorithms and fuses only bias + ReLU; the graph API reaches cuDNN's
// whole engine list, runtime-fused epilogues included. Plain C++ (no device
// code); without the frontend (INGOT_HAVE_CUDNN_FRONTEND unset) nothing is offered.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include <cuda_runtime.h>

#include "ingot/dtype.h"
#include "ingot/status.h"

struct cudnnContext;

namespace ingot::cuda {

// y[N, OH, OW, K] = relu?(conv(x[N, H, W, C], w[K, R, S, C]) + bias[K]? + residual?)
struct ConvGraphDesc {
  DType dtype = DType::kFloat16;
  int64_t n = 0, c = 0, h = 0, w = 0, k = 0, r = 0, s = 0, oh = 0, ow = 0;
  int64_t pad[2] = {}, stride[2] = {1, 1}, dilation[2] = {1, 1};
  bool bias = false, residual = false, relu = false;
};

class ConvGraphPlan;

// Whether this build has the cuDNN frontend (without it no graph tactic exists).
bool conv_graph_available();

// How many engine configurations cuDNN proposes for the problem (0 when none, or
// without the frontend).
int64_t conv_graph_plan_count(const ConvGraphDesc& d, cudnnContext* handle);

// Builds (or reuses, per handle, problem and index) configuration `index`;
// `unsupported` when it cannot run or needs more than workspace_bytes.
Result<std::shared_ptr<const ConvGraphPlan>> conv_graph_plan(const ConvGraphDesc& d, cudnnContext* handle,
                                                             int64_t index, size_t workspace_bytes);

Status conv_graph_run(const ConvGraphPlan& plan, cudnnContext* handle, cudaStream_t stream, const void* x,
                      const void* w, const void* bias, const void* residual, void* y, void* workspace);

}  // namespace ingot::cuda
