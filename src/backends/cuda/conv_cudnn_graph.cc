// cuDNN graph-API convolutions (see conv_cudnn_graph.h).
//
// The graph: conv_fprop (fp32 accumulate) -> + bias -> + residual -> ReLU -> y,
// every intermediate virtual, so cuDNN fuses the epilogue into the convolution
// where an engine can. Tensors are described in cuDNN's NCHW dimension order
// with NHWC strides (its channels-last convention); the weight [K, R, S, C] is
// KRSC the same way. Building a plan may compile a kernel (runtime fusion), so
// plans are shared through a cache keyed by handle, problem and index
// (PlanCache, cudnn_frontend_util.h), like the attention plans.
#include "backends/cuda/conv_cudnn_graph.h"

#include <string>

#if defined(INGOT_HAVE_CUDNN_FRONTEND)
#include <cudnn.h>

#include <tuple>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cudnn_frontend_util.h"
#endif

namespace ingot::cuda {

#if !defined(INGOT_HAVE_CUDNN_FRONTEND)

class ConvGraphPlan {};
bool conv_graph_available() { return false; }
int64_t conv_graph_plan_count(const ConvGraphDesc&, cudnnContext*) { return 0; }
Result<std::shared_ptr<const ConvGraphPlan>> conv_graph_plan(const ConvGraphDesc&, cudnnContext*, int64_t, size_t) {
  return unsupported("[cuda conv] graph: this build has no cuDNN frontend");
}
Status conv_graph_run(const ConvGraphPlan&, cudnnContext*, cudaStream_t, const void*, const void*, const void*,
                      const void*, void*, void*) {
  return unsupported("[cuda conv] graph: this build has no cuDNN frontend");
}

#else

namespace fe = cudnn_frontend;

namespace {
enum Uid : int64_t { kX = 1, kW, kBias, kResidual, kY };

constexpr const char* kWho = "[cuda conv] graph: ";

// NCHW-ordered dims with NHWC strides.
std::vector<int64_t> nhwc_strides(int64_t c, int64_t h, int64_t w) { return {h * w * c, 1, w * c, c}; }

using PlanKey = std::tuple<const void*, std::vector<int64_t>, int64_t>;

std::vector<int64_t> key_of(const ConvGraphDesc& d) {
  return {static_cast<int64_t>(d.dtype), d.n, d.c, d.h, d.w, d.k, d.r, d.s, d.oh, d.ow, d.pad[0], d.pad[1],
          d.stride[0], d.stride[1], d.dilation[0], d.dilation[1], d.bias, d.residual, d.relu};
}

// The graph with its operation graph built and cuDNN's candidate list made.
Result<std::unique_ptr<fe::graph::Graph>> make_graph(const ConvGraphDesc& d, cudnnContext* handle) {
  auto g = std::make_unique<fe::graph::Graph>();
  const auto io = d.dtype == DType::kBFloat16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::HALF;
  g->set_io_data_type(io).set_intermediate_data_type(fe::DataType_t::FLOAT).set_compute_data_type(
      fe::DataType_t::FLOAT);
  auto tensor = [&](const char* name, Uid uid, std::vector<int64_t> dims, std::vector<int64_t> strides) {
    return g->tensor(fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim(std::move(dims)).set_stride(
        std::move(strides)));
  };
  auto x = tensor("x", kX, {d.n, d.c, d.h, d.w}, nhwc_strides(d.c, d.h, d.w));
  auto w = tensor("w", kW, {d.k, d.c, d.r, d.s}, nhwc_strides(d.c, d.r, d.s));
  auto y = g->conv_fprop(x, w,
                         fe::graph::Conv_fprop_attributes()
                             .set_name("conv")
                             .set_padding({d.pad[0], d.pad[1]})
                             .set_stride({d.stride[0], d.stride[1]})
                             .set_dilation({d.dilation[0], d.dilation[1]}));
  if (d.bias) {
    auto b = tensor("bias", kBias, {1, d.k, 1, 1}, {d.k, 1, d.k, d.k});
    y = g->pointwise(y, b, fe::graph::Pointwise_attributes().set_name("bias").set_mode(fe::PointwiseMode_t::ADD));
  }
  if (d.residual) {
    auto r = tensor("residual", kResidual, {d.n, d.k, d.oh, d.ow}, nhwc_strides(d.k, d.oh, d.ow));
    y = g->pointwise(y, r,
                     fe::graph::Pointwise_attributes().set_name("residual").set_mode(fe::PointwiseMode_t::ADD));
  }
  if (d.relu)
    y = g->pointwise(y, fe::graph::Pointwise_attributes().set_name("relu").set_mode(fe::PointwiseMode_t::RELU_FWD));
  y->set_output(true).set_uid(kY).set_dim({d.n, d.k, d.oh, d.ow}).set_data_type(io);
  y->set_stride(nhwc_strides(d.k, d.oh, d.ow));
  INGOT_FE_RETURN_IF_ERROR(g->validate(), kWho, "validate");
  INGOT_FE_RETURN_IF_ERROR(g->build_operation_graph(handle), kWho, "operation graph");
  INGOT_FE_RETURN_IF_ERROR(g->create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}), kWho,
                           "heuristics");
  INGOT_FE_RETURN_IF_ERROR(g->check_support(handle), kWho, "support");
  return g;
}
}  // namespace

class ConvGraphPlan {
 public:
  std::unique_ptr<fe::graph::Graph> graph;
  ConvGraphDesc desc;
  int64_t index = 0;
  int64_t workspace = 0;
};

bool conv_graph_available() { return true; }

int64_t conv_graph_plan_count(const ConvGraphDesc& d, cudnnContext* handle) {
  if (!handle) return 0;
  auto g = make_graph(d, handle);
  return g.ok() ? g.value()->get_execution_plan_count() : 0;
}

namespace {
// Builds engine configuration `index` of the problem's graph.
Result<std::shared_ptr<const ConvGraphPlan>> build_plan(const ConvGraphDesc& d, cudnnContext* handle, int64_t index,
                                                        size_t workspace_bytes) {
  auto plan = std::make_shared<ConvGraphPlan>();
  plan->desc = d;
  plan->index = index;
  INGOT_ASSIGN_OR_RETURN(plan->graph, make_graph(d, handle));
  const int64_t count = plan->graph->get_execution_plan_count();
  if (index < 0 || index >= count)
    return unsupported(std::string(kWho) + "engine configuration " + std::to_string(index) + " of " +
                       std::to_string(count));
  INGOT_FE_RETURN_IF_ERROR(plan->graph->build_plan_at_index(handle, index), kWho, "plan build");
  INGOT_FE_RETURN_IF_ERROR(plan->graph->get_workspace_size_plan_at_index(index, plan->workspace), kWho,
                           "workspace size");
  if (plan->workspace < 0 || static_cast<size_t>(plan->workspace) > workspace_bytes)
    return unsupported(std::string(kWho) + "needs " + std::to_string(plan->workspace) +
                       " bytes of workspace, the step has " + std::to_string(workspace_bytes));
  return std::shared_ptr<const ConvGraphPlan>(std::move(plan));
}

}  // namespace

Result<std::shared_ptr<const ConvGraphPlan>> conv_graph_plan(const ConvGraphDesc& d, cudnnContext* handle,
                                                             int64_t index, size_t workspace_bytes) {
  if (!handle) return internal_error(std::string(kWho) + "no cuDNN handle");
  if (d.dtype != DType::kFloat16 && d.dtype != DType::kBFloat16)
    return unsupported(std::string(kWho) + "dtype " + dtype_name(d.dtype));
  static PlanCache<PlanKey, ConvGraphPlan> cache;
  return cache.get(PlanKey{handle, key_of(d), index}, workspace_bytes,
                   [&] { return build_plan(d, handle, index, workspace_bytes); });
}

Status conv_graph_run(const ConvGraphPlan& plan, cudnnContext* handle, cudaStream_t stream, const void* x,
                      const void* w, const void* bias, const void* residual, void* y, void* workspace) {
  if (cudnnSetStream(handle, stream) != CUDNN_STATUS_SUCCESS)
    return device_error(std::string(kWho) + "cudnnSetStream failed");
  std::unordered_map<int64_t, void*> pack = {{kX, const_cast<void*>(x)}, {kW, const_cast<void*>(w)}, {kY, y}};
  if (plan.desc.bias) pack[kBias] = const_cast<void*>(bias);
  if (plan.desc.residual) pack[kResidual] = const_cast<void*>(residual);
  auto status = plan.graph->execute_plan_at_index(handle, pack, workspace, plan.index);
  if (status.is_bad()) return device_error(std::string(kWho) + "execute: " + status.get_message());
  return {};
}

#endif

}  // namespace ingot::cuda
