// The CUDA backend's executor: uploads an engine's constants once (shared by its
// contexts), and gives each execution context its own activation arena, workspace,
// stream, library handles and CUDA graph. The first run executes the steps eagerly
// (building per-step descriptors and algorithm choices, which may allocate), then
// captures the steady state in a CUDA graph that every later run replays. Device
// pointers bound by the caller are used in place; a change of pointer re-captures.
#include <cublasLt.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/cuda_common.h"
#include "runtime/backend.h"

namespace ingot {
namespace cuda {
namespace {

struct DeviceBuffer {
  void* ptr = nullptr;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr(o.ptr) { o.ptr = nullptr; }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
  Status allocate(size_t bytes, const char* what) {
    if (bytes == 0) bytes = 256;
    cudaError_t err = cudaMalloc(&ptr, bytes);
    if (err != cudaSuccess) {
      ptr = nullptr;
      return device_error(std::string("cannot allocate ") + std::to_string(bytes) + " bytes of GPU memory for " +
                          what + ": " + cudaGetErrorString(err));
    }
    return {};
  }
};

bool graphs_enabled() {
  const char* v = std::getenv("INGOT_CUDA_GRAPHS");
  return !(v && std::string(v) == "0");
}

class CudaEngine;

class CudaContext final : public BackendContext {
 public:
  CudaContext(const Plan& plan, const void* constants) : plan_(plan), constants_(constants) {}
  ~CudaContext() override {
    if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
    states_.clear();
    if (handles_.cudnn) cudnnDestroy(handles_.cudnn);
    if (handles_.cublaslt) cublasLtDestroy(handles_.cublaslt);
    if (own_stream_) cudaStreamDestroy(own_stream_);
  }

  Status init() {
    INGOT_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&own_stream_, cudaStreamNonBlocking));
    if (cublasLtCreate(&handles_.cublaslt) != CUBLAS_STATUS_SUCCESS)
      return device_error("cublasLtCreate failed");
    if (cudnnCreate(&handles_.cudnn) != CUDNN_STATUS_SUCCESS) return device_error("cudnnCreate failed");
    INGOT_RETURN_IF_ERROR(arena_.allocate(plan_.arena_bytes, "the activation arena"));

    tensors_.resize(plan_.tensors.size());
    for (size_t i = 0; i < plan_.tensors.size(); ++i) {
      const PlanTensor& t = plan_.tensors[i];
      tensors_[i].dtype = t.dtype;
      tensors_[i].shape = t.shape;
      if (t.storage == TensorStorage::kArena) tensors_[i].data = static_cast<char*>(arena_.ptr) + t.offset;
      if (t.storage == TensorStorage::kConstant)
        tensors_[i].data = const_cast<char*>(static_cast<const char*>(constants_)) + t.offset;
    }
    // Staging buffers receive host inputs and hold outputs bound to host memory.
    input_staging_.resize(plan_.inputs.size());
    for (size_t i = 0; i < plan_.inputs.size(); ++i)
      INGOT_RETURN_IF_ERROR(input_staging_[i].allocate(plan_.tensors[plan_.inputs[i]].nbytes, "an input"));
    output_staging_.resize(plan_.outputs.size());
    for (size_t i = 0; i < plan_.outputs.size(); ++i)
      INGOT_RETURN_IF_ERROR(output_staging_[i].allocate(plan_.tensors[plan_.outputs[i]].nbytes, "an output"));

    states_.resize(plan_.steps.size());
    args_.resize(plan_.steps.size());
    size_t workspace = 0;
    std::vector<size_t> step_workspace(plan_.steps.size());
    for (size_t s = 0; s < plan_.steps.size(); ++s) {
      const PlanStep& step = plan_.steps[s];
      KernelArgs& a = args_[s];
      for (int32_t id : step.inputs) a.in.push_back(id < 0 ? nullptr : &tensors_[id]);
      for (int32_t id : step.outputs) a.out.push_back(&tensors_[id]);
      a.handles = &handles_;
      a.state = &states_[s];
      for (const auto& [k, v] : plan_.build.options)
        if (k == "allow_tf32") a.allow_tf32 = (v == "true" || v == "1");
      a.tactic = step.tactic;
      step_workspace[s] = workspace_size(step.attrs, a);
      workspace = std::max(workspace, step_workspace[s]);
    }
    // The engine records the workspace its tactics were chosen with (capped by
    // --workspace-limit); engines without a record keep the per-step sizes.
    if (plan_.workspace_bytes > 0) workspace = plan_.workspace_bytes;
    INGOT_RETURN_IF_ERROR(workspace_.allocate(workspace, "the workspace"));
    // Each step sees the scratch it was tuned with (its own size, within the
    // buffer): some cuDNN algorithms pick different kernels with more of it.
    for (size_t s = 0; s < args_.size(); ++s) {
      args_[s].workspace = workspace_.ptr;
      args_[s].workspace_bytes = std::min(workspace, step_workspace[s]);
    }
    return {};
  }

  Status execute(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs, void* stream_ptr,
                 bool synchronize) override {
    cudaStream_t stream = stream_ptr ? static_cast<cudaStream_t>(stream_ptr) : own_stream_;
    INGOT_RETURN_IF_ERROR(bind_io(inputs, outputs, stream));

    if (graph_exec_) {
      INGOT_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(graph_exec_, stream));
    } else if (!warmed_up_ || !graphs_enabled() || capture_failures_ >= kMaxCaptureFailures) {
      INGOT_RETURN_IF_ERROR(run_steps(stream));
      warmed_up_ = true;
    } else if (Status captured = capture_and_launch(stream); !captured.ok()) {
      // A library call can fail only under capture (a kernel module loaded
      // lazily on first use with these pointers, another thread's capture): run
      // this time eagerly, which loads what was missing, and capture next time.
      // After repeated failures this context stays eager.
      ++capture_failures_;
      last_capture_error_ = captured.message();
      cudaGetLastError();
      INGOT_RETURN_IF_ERROR(run_steps(stream));
    }

    INGOT_RETURN_IF_ERROR(copy_host_outputs(outputs, stream));
    if (synchronize) INGOT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    return {};
  }

  // Every step is timed as the engine's CUDA graph runs it: kProfileReplays
  // launches of that step alone are captured into a graph, and the graph is
  // replayed `iterations` times between two events; a step's time is the
  // elapsed time over all its launches. Launch latency then overlaps the
  // previous launch as it does in the engine, so the steps add up to the
  // engine's latency (event pairs around each eager launch added a few
  // microseconds to every step: BERT-base b32's 90 steps summed to 2.22 ms for a
  // 1.65 ms engine). The replays run a step on the values its inputs hold after
  // a full run, with its inputs hot in L2 as they mostly are after the step
  // that wrote them. A step that cannot be captured is timed eagerly instead:
  //
  // eager: a pair of CUDA events around the step, queued behind a gpu_delay
  // longer than the step's measured host enqueue time, so that a GPU that
  // would otherwise wait for the host's enqueue (cuDNN's host side alone takes
  // tens of microseconds) is not charged for that wait.
  //
  // A last full run afterwards leaves the outputs as execute() would.
  Result<std::vector<double>> profile_steps(const std::vector<TensorView>& inputs,
                                            const std::vector<TensorView>& outputs, void* stream_ptr,
                                            int iterations) override {
    if (iterations < 1) return invalid_argument("profile_steps: iterations must be at least 1");
    cudaStream_t stream = stream_ptr ? static_cast<cudaStream_t>(stream_ptr) : own_stream_;
    INGOT_RETURN_IF_ERROR(bind_io(inputs, outputs, stream));
    INGOT_RETURN_IF_ERROR(run_steps(stream));
    warmed_up_ = true;
    INGOT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));

    const size_t n = plan_.steps.size();
    // Host enqueue time per step, from a second (state-warm) eager run.
    std::vector<double> host_us(n, 0.0);
    for (size_t s = 0; s < n; ++s) {
      args_[s].stream = stream;
      auto t0 = std::chrono::steady_clock::now();
      Status st = run_kernel(plan_.steps[s].attrs, args_[s]);
      host_us[s] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (!st.ok()) return st.with_context(step_label(s));
    }
    INGOT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));

    std::vector<double> step_ms(n, -1.0);  // -1: not captured, timed eagerly below
    for (size_t s = 0; s < n; ++s) {
      Result<double> ms = time_step_in_graph(s, stream, iterations);
      if (ms.ok()) step_ms[s] = ms.value();
      else cudaGetLastError();  // a failed capture: timed eagerly below (a real fault fails there too)
    }

    std::vector<cudaEvent_t> starts(n, nullptr), ends(n, nullptr);
    auto destroy_events = [&] {
      for (auto* list : {&starts, &ends})
        for (cudaEvent_t e : *list)
          if (e) cudaEventDestroy(e);
    };
    Status status;
    for (size_t i = 0; i < n && status.ok(); ++i) {
      status = cuda_status(cudaEventCreate(&starts[i]), "cudaEventCreate");
      if (status.ok()) status = cuda_status(cudaEventCreate(&ends[i]), "cudaEventCreate");
    }
    std::vector<double> eager_ms(n, 0.0);
    for (int it = 0; it < iterations && status.ok(); ++it) {
      for (size_t s = 0; s < n && status.ok(); ++s) {
        if (step_ms[s] >= 0) continue;  // timed in its graph
        // Twice the host time plus a margin: the enqueue varies from run to run.
        status = gpu_delay(50.0 + 2.0 * host_us[s], stream);
        if (status.ok()) status = cuda_status(cudaEventRecord(starts[s], stream), "cudaEventRecord");
        if (!status.ok()) break;
        args_[s].stream = stream;
        status = run_kernel(plan_.steps[s].attrs, args_[s]);
        if (!status.ok()) status = status.with_context(step_label(s));
        if (status.ok()) status = cuda_status(cudaEventRecord(ends[s], stream), "cudaEventRecord");
      }
      if (status.ok()) status = cuda_status(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
      for (size_t s = 0; s < n && status.ok(); ++s) {
        if (step_ms[s] >= 0) continue;
        float ms = 0;
        status = cuda_status(cudaEventElapsedTime(&ms, starts[s], ends[s]), "cudaEventElapsedTime");
        eager_ms[s] += ms;
      }
    }
    for (size_t s = 0; s < n; ++s)
      if (step_ms[s] < 0) step_ms[s] = eager_ms[s] / iterations;
    // Replayed steps that write over an input (in-place steps) changed the values
    // downstream: one full run restores the outputs.
    if (status.ok()) status = run_steps(stream);
    if (status.ok()) status = copy_host_outputs(outputs, stream);
    if (status.ok()) status = cuda_status(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    destroy_events();
    if (!status.ok()) return status;
    return step_ms;
  }

 private:
  static constexpr int kProfileReplays = 20;

  // Milliseconds per launch of step s, from `iterations` replays of a graph of
  // kProfileReplays launches of it (see profile_steps); an error if the step
  // cannot be captured.
  Result<double> time_step_in_graph(size_t s, cudaStream_t stream, int iterations) {
    cudaGraph_t graph = nullptr;
    INGOT_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    Status st;
    args_[s].stream = stream;
    for (int r = 0; r < kProfileReplays && st.ok(); ++r) st = run_kernel(plan_.steps[s].attrs, args_[s]);
    cudaError_t end = cudaStreamEndCapture(stream, &graph);
    if (!st.ok() || end != cudaSuccess) {
      if (graph) cudaGraphDestroy(graph);
      return st.ok() ? cuda_status(end, "cudaStreamEndCapture") : st;
    }
    cudaGraphExec_t exec = nullptr;
    cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    INGOT_CUDA_RETURN_IF_ERROR(inst);
    cudaEvent_t start = nullptr, stop = nullptr;
    Status status = cuda_status(cudaEventCreate(&start), "cudaEventCreate");
    if (status.ok()) status = cuda_status(cudaEventCreate(&stop), "cudaEventCreate");
    if (status.ok()) status = cuda_status(cudaGraphLaunch(exec, stream), "cudaGraphLaunch");  // warm-up
    // The GPU waits for the host to queue every replay, so the events time replays only.
    if (status.ok()) status = gpu_delay(50.0 + 10.0 * iterations, stream);
    if (status.ok()) status = cuda_status(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int it = 0; it < iterations && status.ok(); ++it)
      status = cuda_status(cudaGraphLaunch(exec, stream), "cudaGraphLaunch");
    if (status.ok()) status = cuda_status(cudaEventRecord(stop, stream), "cudaEventRecord");
    if (status.ok()) status = cuda_status(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    if (status.ok()) status = cuda_status(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    for (cudaEvent_t e : {start, stop})
      if (e) cudaEventDestroy(e);
    cudaGraphExecDestroy(exec);
    if (!status.ok()) return status;
    return static_cast<double>(ms) / (static_cast<double>(iterations) * kProfileReplays);
  }

  // Uploads host inputs to staging buffers and points the plan's IO tensors at
  // the right device memory; a pointer change drops the captured graph.
  Status bind_io(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs, cudaStream_t stream) {
    std::vector<void*> io_ptrs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      void* p = inputs[i].data;
      if (inputs[i].memory == MemoryKind::kHost) {
        INGOT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(input_staging_[i].ptr, inputs[i].data, inputs[i].nbytes(),
                                                   cudaMemcpyHostToDevice, stream));
        p = input_staging_[i].ptr;
      }
      io_ptrs.push_back(p);
    }
    for (size_t i = 0; i < outputs.size(); ++i)
      io_ptrs.push_back(outputs[i].memory == MemoryKind::kDevice ? outputs[i].data : output_staging_[i].ptr);

    const bool pointers_changed = io_ptrs != bound_ptrs_;
    if (pointers_changed) {
      // Every tensor stored as input i (its own and reshaped views of it).
      for (size_t t = 0; t < plan_.tensors.size(); ++t)
        if (plan_.tensors[t].storage == TensorStorage::kInput) tensors_[t].data = io_ptrs[plan_.tensors[t].offset];
      for (size_t i = 0; i < plan_.outputs.size(); ++i)
        tensors_[plan_.outputs[i]].data = io_ptrs[plan_.inputs.size() + i];
      bound_ptrs_ = io_ptrs;
      if (graph_exec_) {
        cudaGraphExecDestroy(graph_exec_);
        graph_exec_ = nullptr;
      }
    }
    return {};
  }

  Status copy_host_outputs(const std::vector<TensorView>& outputs, cudaStream_t stream) {
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].memory == MemoryKind::kHost)
        INGOT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(outputs[i].data, output_staging_[i].ptr, outputs[i].nbytes(),
                                                   cudaMemcpyDeviceToHost, stream));
    }
    return {};
  }

  std::string step_label(size_t s) const {
    const SourceInfo& src = plan_.steps[s].source;
    return "step " + std::to_string(s) + " [" + op_name(op_kind(plan_.steps[s].attrs)) + "] node '" +
           src.node_name + "'" + (src.location.empty() ? "" : " (" + src.location + ")");
  }

  Status run_steps(cudaStream_t stream) {
    for (size_t s = 0; s < plan_.steps.size(); ++s) {
      args_[s].stream = stream;
      Status st = run_kernel(plan_.steps[s].attrs, args_[s]);
      if (!st.ok()) return st.with_context(step_label(s));
    }
    return {};
  }

  Status capture_and_launch(cudaStream_t stream) {
    cudaGraph_t graph = nullptr;
    INGOT_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    Status st = run_steps(stream);
    cudaError_t end = cudaStreamEndCapture(stream, &graph);
    if (!st.ok()) {
      if (graph) cudaGraphDestroy(graph);
      return st.with_context("while capturing the CUDA graph");
    }
    INGOT_CUDA_RETURN_IF_ERROR(end);
    cudaError_t inst = cudaGraphInstantiate(&graph_exec_, graph, 0);
    cudaGraphDestroy(graph);
    if (inst != cudaSuccess) graph_exec_ = nullptr;
    INGOT_CUDA_RETURN_IF_ERROR(inst);
    // The first launch has not run anything yet, so a failure here can still
    // fall back to eager execution (the caller does).
    if (Status launched = cuda_status(cudaGraphLaunch(graph_exec_, stream), "cudaGraphLaunch"); !launched.ok()) {
      cudaGraphExecDestroy(graph_exec_);
      graph_exec_ = nullptr;
      return launched;
    }
    return {};
  }

  const Plan& plan_;
  const void* constants_;
  cudaStream_t own_stream_ = nullptr;
  Handles handles_;
  DeviceBuffer arena_, workspace_;
  std::vector<DeviceBuffer> input_staging_, output_staging_;
  std::vector<DeviceTensor> tensors_;
  std::vector<KernelArgs> args_;
  std::vector<std::unique_ptr<StepState>> states_;
  std::vector<void*> bound_ptrs_;
  cudaGraphExec_t graph_exec_ = nullptr;
  bool warmed_up_ = false;
  static constexpr int kMaxCaptureFailures = 3;
  int capture_failures_ = 0;
  std::string last_capture_error_;  // kept for debugging a context that stays eager
};

class CudaEngine final : public BackendEngine {
 public:
  explicit CudaEngine(const Plan& plan) : plan_(plan) {}
  Status init() {
    INGOT_RETURN_IF_ERROR(constants_.allocate(plan_.constants.size(), "the engine's constants"));
    if (!plan_.constants.empty())
      INGOT_CUDA_RETURN_IF_ERROR(
          cudaMemcpy(constants_.ptr, plan_.constants.data(), plan_.constants.size(), cudaMemcpyHostToDevice));
    return {};
  }
  Result<std::unique_ptr<BackendContext>> create_context() const override {
    auto ctx = std::make_unique<CudaContext>(plan_, constants_.ptr);
    INGOT_RETURN_IF_ERROR(ctx->init());
    return std::unique_ptr<BackendContext>(std::move(ctx));
  }

 private:
  const Plan& plan_;
  DeviceBuffer constants_;
};

}  // namespace

Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return {};
  return device_error(std::string(what) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

Result<std::string> current_arch() {
  int device = 0, major = 0, minor = 0;
  INGOT_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  INGOT_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  INGOT_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return "sm_" + std::to_string(major * 10 + minor);
}

std::string runtime_versions() {
  int rt = 0;
  cudaRuntimeGetVersion(&rt);
  return "cuda " + std::to_string(rt / 1000) + "." + std::to_string((rt % 1000) / 10) + ", cublasLt " +
         std::to_string(cublasLtGetVersion()) + ", cudnn " + std::to_string(cudnnGetVersion());
}

}  // namespace cuda

Result<std::unique_ptr<BackendEngine>> make_cuda_backend(const Plan& plan) {
  auto arch = cuda::current_arch();
  if (!arch.ok())
    return device_error("this engine needs a CUDA GPU, and none is usable: " + arch.status().message());
  if (!plan.build.target.empty() && plan.build.target != arch.value()) {
    cudaDeviceProp prop{};
    int dev = 0;
    cudaGetDevice(&dev);
    cudaGetDeviceProperties(&prop, dev);
    return unsupported("this engine was built for " + plan.build.target + " but this GPU (" + prop.name + ") is " +
                       arch.value() + "; rebuild the engine on this GPU (ingot convert --backend cuda)");
  }
  auto engine = std::make_unique<cuda::CudaEngine>(plan);
  INGOT_RETURN_IF_ERROR(engine->init());
  return std::unique_ptr<BackendEngine>(std::move(engine));
}

}  // namespace ingot
