// cuDNN fused attention through the cuDNN frontend (see attention_cudnn.h).
//
// A plan is a frontend graph with one SDPA node (inference: no softmax stats),
// built for one problem on one cuDNN handle. Building it costs milliseconds to
// seconds (cuDNN may compile the kernel with NVRTC), and a transformer repeats
// one attention shape in every layer, so plans are shared through a cache keyed
// by handle and problem (PlanCache, cudnn_frontend_util.h).
#include "backends/cuda/attention_cudnn.h"

#include <string>

#if defined(INGOT_HAVE_CUDNN_FRONTEND)
#include <cudnn.h>

#include <tuple>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cudnn_frontend_util.h"
#endif

#if defined(INGOT_HAVE_CUDNN_FRONTEND)
// The frontend's headers call NVRTC (for normalization engines ingot never
// builds). Linking libnvrtc would make every CUDA engine need it; instead these
// private (hidden) definitions load it on first use, which never comes.
#include <dlfcn.h>

namespace {
void* nvrtc_symbol(const char* name) {
  static void* lib = [] {
    void* h = dlopen("libnvrtc.so.13", RTLD_NOW | RTLD_LOCAL);
    return h ? h : dlopen("libnvrtc.so", RTLD_NOW | RTLD_LOCAL);
  }();
  return lib ? dlsym(lib, name) : nullptr;
}
template <typename Fn, typename... A>
nvrtcResult call_nvrtc(const char* name, A... a) {
  auto fn = reinterpret_cast<Fn*>(nvrtc_symbol(name));
  return fn ? fn(a...) : NVRTC_ERROR_INTERNAL_ERROR;
}
}  // namespace

#define INGOT_NVRTC_SHIM(name, params, args)                                           \
  extern "C" __attribute__((visibility("hidden"))) nvrtcResult name params {           \
    return call_nvrtc<decltype(name)> args;                                            \
  }
INGOT_NVRTC_SHIM(nvrtcCreateProgram,
                 (nvrtcProgram * prog, const char* src, const char* name, int n, const char* const* headers,
                  const char* const* include_names),
                 ("nvrtcCreateProgram", prog, src, name, n, headers, include_names))
INGOT_NVRTC_SHIM(nvrtcDestroyProgram, (nvrtcProgram * prog), ("nvrtcDestroyProgram", prog))
INGOT_NVRTC_SHIM(nvrtcCompileProgram, (nvrtcProgram prog, int n, const char* const* options),
                 ("nvrtcCompileProgram", prog, n, options))
INGOT_NVRTC_SHIM(nvrtcGetCUBINSize, (nvrtcProgram prog, size_t * size), ("nvrtcGetCUBINSize", prog, size))
INGOT_NVRTC_SHIM(nvrtcGetCUBIN, (nvrtcProgram prog, char* cubin), ("nvrtcGetCUBIN", prog, cubin))
INGOT_NVRTC_SHIM(nvrtcGetProgramLogSize, (nvrtcProgram prog, size_t * size), ("nvrtcGetProgramLogSize", prog, size))
INGOT_NVRTC_SHIM(nvrtcGetProgramLog, (nvrtcProgram prog, char* log), ("nvrtcGetProgramLog", prog, log))
#undef INGOT_NVRTC_SHIM
#endif

namespace ingot::cuda {

// Head-dimension and stride rules of cuDNN's SDPA engines: 16-bit floats, head
// sizes a multiple of 8 up to 256, every stride (in bytes) a multiple of 16.
Status cudnn_sdpa_check(const CudnnSdpaDesc& d) {
  const std::string who = "[cuda attention] cudnn: ";
  if (!cudnn_sdpa_available()) return unsupported(who + "this build has no cuDNN frontend");
  if (d.dtype != DType::kFloat16 && d.dtype != DType::kBFloat16)
    return unsupported(who + "dtype " + std::string(dtype_name(d.dtype)) + " (needs float16 or bfloat16)");
  if (d.E % 8 != 0 || d.Ev % 8 != 0 || d.E > 256 || d.Ev > 256)
    return unsupported(who + "head sizes " + std::to_string(d.E) + "/" + std::to_string(d.Ev) +
                       " (need multiples of 8 up to 256)");
  if (d.hkv <= 0 || d.hq % d.hkv != 0) return unsupported(who + "query heads must be a multiple of key heads");
  for (const AttnView* v : {&d.q, &d.k, &d.v, &d.out})
    for (int64_t s : {v->offset, v->stride_b, v->stride_h, v->stride_row})
      if ((s * 2) % 16 != 0) return unsupported(who + "views must start and step on 16-byte boundaries");
  if (d.has_bias && (d.bias_strides[2] * 2) % 16 != 0 && d.bias_dims[2] != 1)
    return unsupported(who + "the mask's rows must be 16-byte aligned");
  return {};
}

#if !defined(INGOT_HAVE_CUDNN_FRONTEND)

class CudnnSdpaPlan {};
bool cudnn_sdpa_available() { return false; }
Result<std::shared_ptr<const CudnnSdpaPlan>> cudnn_sdpa_plan(const CudnnSdpaDesc&, cudnnContext*, size_t) {
  return unsupported("[cuda attention] cudnn: this build has no cuDNN frontend");
}
Status cudnn_sdpa_run(const CudnnSdpaPlan&, cudnnContext*, cudaStream_t, const void*, const void*, const void*, void*,
                      const void*, void*) {
  return unsupported("[cuda attention] cudnn: this build has no cuDNN frontend");
}

#else

namespace fe = cudnn_frontend;

namespace {
enum Uid : int64_t { kQ = 1, kK, kV, kO, kBias };

constexpr const char* kWho = "[cuda attention] cudnn: ";

std::vector<int64_t> dims4(int64_t b, int64_t h, int64_t rows, int64_t e) { return {b, h, rows, e}; }
std::vector<int64_t> strides4(const AttnView& v) { return {v.stride_b, v.stride_h, v.stride_row, 1}; }

// Everything a plan depends on, as a sortable key.
using PlanKey = std::tuple<const void*, std::vector<int64_t>, float>;

PlanKey key_of(const CudnnSdpaDesc& d, cudnnContext* handle) {
  std::vector<int64_t> k = {static_cast<int64_t>(d.dtype), d.batch, d.hq, d.hkv, d.L, d.S, d.E, d.Ev, d.causal,
                            d.has_bias, static_cast<int64_t>(d.impl), d.plan_index};
  for (const AttnView* v : {&d.q, &d.k, &d.v, &d.out})
    k.insert(k.end(), {v->stride_b, v->stride_h, v->stride_row});  // offsets are applied per run
  for (int i = 0; i < 4; ++i) k.insert(k.end(), {d.bias_dims[i], d.bias_strides[i]});
  return {handle, std::move(k), d.scale};
}
}  // namespace

class CudnnSdpaPlan {
 public:
  fe::graph::Graph graph;
  CudnnSdpaDesc desc;
  int64_t workspace = 0;
};

bool cudnn_sdpa_available() { return true; }

namespace {
Result<std::shared_ptr<const CudnnSdpaPlan>> build_plan(const CudnnSdpaDesc& d, cudnnContext* handle,
                                                        size_t workspace_bytes) {
  auto plan = std::make_shared<CudnnSdpaPlan>();
  plan->desc = d;
  fe::graph::Graph& g = plan->graph;
  const auto io = d.dtype == DType::kBFloat16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::HALF;
  g.set_io_data_type(io).set_intermediate_data_type(fe::DataType_t::FLOAT).set_compute_data_type(
      fe::DataType_t::FLOAT);
  auto tensor = [&](const char* name, Uid uid, std::vector<int64_t> dims, std::vector<int64_t> strides) {
    return g.tensor(fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim(std::move(dims)).set_stride(
        std::move(strides)));
  };
  auto q = tensor("q", kQ, dims4(d.batch, d.hq, d.L, d.E), strides4(d.q));
  auto k = tensor("k", kK, dims4(d.batch, d.hkv, d.S, d.E), strides4(d.k));
  auto v = tensor("v", kV, dims4(d.batch, d.hkv, d.S, d.Ev), strides4(d.v));
  auto options = fe::graph::SDPA_attributes().set_name("attention").set_generate_stats(false).set_attn_scale(d.scale);
  if (d.impl == CudnnSdpaImpl::kComposite) options.set_implementation(fe::AttentionImplementation_t::COMPOSITE);
  if (d.impl == CudnnSdpaImpl::kUnified) options.set_implementation(fe::AttentionImplementation_t::UNIFIED);
  if (d.causal) options.set_causal_mask(true);
  if (d.has_bias) {
    auto bias = tensor("bias", kBias, {d.bias_dims, d.bias_dims + 4}, {d.bias_strides, d.bias_strides + 4});
    options.set_bias(bias);
  }
  auto [o, stats] = g.sdpa(q, k, v, options);
  (void)stats;
  o->set_output(true).set_uid(kO).set_dim(dims4(d.batch, d.hq, d.L, d.Ev)).set_stride(strides4(d.out));

  INGOT_FE_RETURN_IF_ERROR(g.validate(), kWho, "validate");
  INGOT_FE_RETURN_IF_ERROR(g.build_operation_graph(handle), kWho, "operation graph");
  if (d.plan_index == 0) {  // the heuristic's first choice, built as such
    INGOT_FE_RETURN_IF_ERROR(g.create_execution_plans({fe::HeurMode_t::A}), kWho, "heuristics");
    INGOT_FE_RETURN_IF_ERROR(g.check_support(handle), kWho, "support");
    INGOT_FE_RETURN_IF_ERROR(g.build_plans(handle, fe::BuildPlanPolicy_t::HEURISTICS_CHOICE), kWho, "plan build");
    INGOT_FE_RETURN_IF_ERROR(g.get_workspace_size(plan->workspace), kWho, "workspace size");
  } else {  // the plan_index-th of every plan the heuristic and the fallback list offer
    INGOT_FE_RETURN_IF_ERROR(g.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}), kWho,
                             "heuristics");
    INGOT_FE_RETURN_IF_ERROR(g.check_support(handle), kWho, "support");
    if (d.plan_index >= g.get_execution_plan_count())
      return unsupported(std::string(kWho) + "no execution plan " + std::to_string(d.plan_index) + " (cuDNN offers " +
                         std::to_string(g.get_execution_plan_count()) + ")");
    INGOT_FE_RETURN_IF_ERROR(g.build_plan_at_index(handle, d.plan_index), kWho, "plan build");
    INGOT_FE_RETURN_IF_ERROR(g.get_workspace_size_plan_at_index(d.plan_index, plan->workspace), kWho,
                             "workspace size");
  }
  if (plan->workspace < 0 || static_cast<size_t>(plan->workspace) > workspace_bytes)
    return unsupported("[cuda attention] cudnn: needs " + std::to_string(plan->workspace) +
                       " bytes of workspace, the step has " + std::to_string(workspace_bytes));
  return std::shared_ptr<const CudnnSdpaPlan>(std::move(plan));
}
}  // namespace

Result<std::shared_ptr<const CudnnSdpaPlan>> cudnn_sdpa_plan(const CudnnSdpaDesc& d, cudnnContext* handle,
                                                             size_t workspace_bytes) {
  INGOT_RETURN_IF_ERROR(cudnn_sdpa_check(d));
  if (!handle) return internal_error("[cuda attention] cudnn: no cuDNN handle");
  static PlanCache<PlanKey, CudnnSdpaPlan> cache;
  return cache.get(key_of(d, handle), workspace_bytes, [&] { return build_plan(d, handle, workspace_bytes); });
}

Status cudnn_sdpa_run(const CudnnSdpaPlan& plan, cudnnContext* handle, cudaStream_t stream, const void* q,
                      const void* k, const void* v, void* out, const void* bias, void* workspace) {
  const CudnnSdpaDesc& d = plan.desc;
  if (cudnnSetStream(handle, stream) != CUDNN_STATUS_SUCCESS)
    return device_error("[cuda attention] cudnn: cudnnSetStream failed");
  const size_t elem = 2;  // fp16 / bf16
  auto at = [&](const void* base, const AttnView& view) {
    return const_cast<char*>(static_cast<const char*>(base)) + view.offset * static_cast<int64_t>(elem);
  };
  std::unordered_map<int64_t, void*> pack = {
      {kQ, at(q, d.q)}, {kK, at(k, d.k)}, {kV, at(v, d.v)}, {kO, at(out, d.out)}};
  if (d.has_bias) pack[kBias] = const_cast<void*>(bias);
  auto status = d.plan_index == 0 ? plan.graph.execute(handle, pack, workspace)
                                  : plan.graph.execute_plan_at_index(handle, pack, workspace, d.plan_index);
  if (status.is_bad()) return device_error(std::string(kWho) + "execute: " + status.get_message());
  return {};
}

#endif

}  // namespace ingot::cuda
