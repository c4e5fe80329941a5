// Build-time tuning on the GPU (see tuning.h): one set of device buffers for a
// plan, the steps run in order on a dedicated stream, and for a tunable step
// every candidate tactic run, checked against the reference tactic and timed.
//
// Timing: each tactic gets a checked run (which builds its per-step state and
// may allocate), then warm-up launches, then timed launches with a CUDA event
// between consecutive launches; the median is reported. The timed launches are
// queued behind a host-side gate so that the GPU runs them back to back: what is
// measured is GPU time, as in the engine's replayed CUDA graph, not how fast this
// thread can enqueue (which would dominate for small batch-1 kernels).
#include "backends/cuda/tuning.h"

#include <cublasLt.h>
#include <cudnn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "backends/cuda/cuda_common.h"
#include "core/half.h"

namespace ingot::cuda {

namespace {

struct DeviceMemory {
  void* ptr = nullptr;
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  DeviceMemory(DeviceMemory&& o) noexcept : ptr(o.ptr) { o.ptr = nullptr; }
  ~DeviceMemory() {
    if (ptr) cudaFree(ptr);
  }
  Status allocate(size_t bytes, const std::string& what) {
    cudaError_t err = cudaMalloc(&ptr, std::max<size_t>(bytes, 256));
    if (err != cudaSuccess) {
      ptr = nullptr;
      cudaGetLastError();  // cudaMalloc failures are not sticky; clear the last error
      return device_error("tuning: cannot allocate " + std::to_string(bytes) + " bytes of GPU memory for " + what +
                          ": " + cudaGetErrorString(err));
    }
    return {};
  }
};

double element_as_double(const uint8_t* p, DType t, int64_t i) {
  switch (t) {
    case DType::kFloat32: { float v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case DType::kFloat64: { double v; std::memcpy(&v, p + 8 * i, 8); return v; }
    case DType::kFloat16: { uint16_t v; std::memcpy(&v, p + 2 * i, 2); return half_bits_to_float(v); }
    case DType::kBFloat16: { uint16_t v; std::memcpy(&v, p + 2 * i, 2); return bf16_bits_to_float(v); }
    case DType::kInt64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); return static_cast<double>(v); }
    case DType::kInt32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case DType::kInt16: { int16_t v; std::memcpy(&v, p + 2 * i, 2); return v; }
    case DType::kInt8: return static_cast<int8_t>(p[i]);
    case DType::kUInt8: case DType::kBool: return p[i];
  }
  return 0;
}

// Host copy of a step's outputs after a run.
struct HostOutputs {
  std::vector<std::vector<uint8_t>> bytes;
};

// Where the rejection of `got` against `ref` comes from, or "" when it matches.
std::string compare_outputs(const std::vector<DeviceTensor*>& outs, const HostOutputs& ref, const HostOutputs& got,
                            bool allow_tf32, double* worst_error) {
  *worst_error = 0;
  for (size_t o = 0; o < outs.size(); ++o) {
    const DType t = outs[o]->dtype;
    const int64_t n = outs[o]->numel();
    const uint8_t* r = ref.bytes[o].data();
    const uint8_t* g = got.bytes[o].data();
    const double tol = tactic_tolerance(t, allow_tf32);
    double err = 0, norm = 0;
    int64_t mismatched = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double rv = element_as_double(r, t, i), gv = element_as_double(g, t, i);
      if (!std::isfinite(rv)) continue;  // the reference itself is not finite here: no claim
      if (!std::isfinite(gv))
        return "NaN/Inf in output " + std::to_string(o) + " at element " + std::to_string(i) +
               " where the reference is finite";
      if (tol == 0) {
        mismatched += rv != gv;
        continue;
      }
      err += (gv - rv) * (gv - rv);
      norm += rv * rv;
    }
    if (tol == 0) {
      if (mismatched) return std::to_string(mismatched) + " elements of output " + std::to_string(o) + " differ";
      continue;
    }
    const double rel = std::sqrt(err) / std::max(std::sqrt(norm), 1e-30);
    *worst_error = std::max(*worst_error, norm == 0 ? std::sqrt(err) : rel);
    if (*worst_error > tol) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "relative error %.1e > %.1e in output %zu", *worst_error, tol, o);
      return buf;
    }
  }
  return "";
}

// Holds a stream until opened (or until a safety timeout, so a full launch queue
// can never deadlock the enqueueing thread against the gate).
struct Gate {
  std::atomic<bool> open{false};
};
void CUDART_CB wait_for_gate(void* data) {
  auto* gate = static_cast<Gate*>(data);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!gate->open.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(20));
}

}  // namespace

double tactic_tolerance(DType dtype, bool allow_tf32) {
  switch (dtype) {
    case DType::kFloat16: case DType::kBFloat16: return 1e-2;
    case DType::kFloat32: return allow_tf32 ? 5e-3 : 1e-4;
    case DType::kFloat64: return 1e-10;
    default: return 0;
  }
}

namespace {
// Device views of a plan's tensors with null data: enough for workspace_size()
// and for building KernelArgs before the memory exists.
std::vector<DeviceTensor> describe_tensors(const Plan& plan) {
  std::vector<DeviceTensor> tensors(plan.tensors.size());
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    tensors[i].dtype = plan.tensors[i].dtype;
    tensors[i].shape = plan.tensors[i].shape;
  }
  return tensors;
}

KernelArgs step_args(const PlanStep& step, std::vector<DeviceTensor>& tensors, bool allow_tf32) {
  KernelArgs a;
  for (int32_t id : step.inputs) a.in.push_back(id < 0 ? nullptr : &tensors[static_cast<size_t>(id)]);
  for (int32_t id : step.outputs) a.out.push_back(&tensors[static_cast<size_t>(id)]);
  a.allow_tf32 = allow_tf32;
  a.tactic = step.tactic;
  return a;
}
}  // namespace

uint64_t default_workspace_bytes(const Plan& plan, bool allow_tf32) {
  std::vector<DeviceTensor> tensors = describe_tensors(plan);
  uint64_t bytes = 0;
  for (const PlanStep& step : plan.steps) {
    KernelArgs a = step_args(step, tensors, allow_tf32);
    bytes = std::max<uint64_t>(bytes, workspace_size(step.attrs, a));
  }
  return bytes;
}

uint64_t tuning_workspace_bytes(const Plan& plan, bool allow_tf32) {
  std::vector<DeviceTensor> tensors = describe_tensors(plan);
  uint64_t bytes = 0;
  for (const PlanStep& step : plan.steps) {
    KernelArgs a = step_args(step, tensors, allow_tf32);
    bytes = std::max<uint64_t>(bytes, max_workspace_size(step.attrs, a));
  }
  return bytes;
}

struct TuningSession::Impl {
  const Plan& plan;
  TuningSettings settings;
  cudaStream_t stream = nullptr;
  Handles handles;
  DeviceMemory arena, constants, workspace;
  std::vector<DeviceMemory> io;  // one per user input, then one per user output
  std::vector<DeviceTensor> tensors;

  Impl(const Plan& p, const TuningSettings& s) : plan(p), settings(s) {}
  ~Impl() {
    if (stream) {
      cudaStreamSynchronize(stream);
      cudaStreamDestroy(stream);
    }
    if (handles.cudnn) cudnnDestroy(handles.cudnn);
    if (handles.cublaslt) cublasLtDestroy(handles.cublaslt);
  }

  std::string step_label(size_t s) const {
    const PlanStep& step = plan.steps[s];
    return "tuning step " + std::to_string(s) + " [" + op_name(op_kind(step.attrs)) + "] node '" +
           step.source.node_name + "'";
  }

  Status init() {
    INGOT_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    if (cublasLtCreate(&handles.cublaslt) != CUBLAS_STATUS_SUCCESS)
      return device_error("tuning: cublasLtCreate failed");
    if (cudnnCreate(&handles.cudnn) != CUDNN_STATUS_SUCCESS) return device_error("tuning: cudnnCreate failed");
    INGOT_RETURN_IF_ERROR(arena.allocate(plan.arena_bytes, "the activation arena"));
    INGOT_RETURN_IF_ERROR(constants.allocate(plan.constants.size(), "the constants"));
    if (!plan.constants.empty())
      INGOT_CUDA_RETURN_IF_ERROR(
          cudaMemcpy(constants.ptr, plan.constants.data(), plan.constants.size(), cudaMemcpyHostToDevice));
    INGOT_RETURN_IF_ERROR(workspace.allocate(settings.workspace_bytes, "the workspace"));

    tensors = describe_tensors(plan);
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlanTensor& t = plan.tensors[i];
      if (t.storage == TensorStorage::kArena) tensors[i].data = static_cast<char*>(arena.ptr) + t.offset;
      if (t.storage == TensorStorage::kConstant) tensors[i].data = static_cast<char*>(constants.ptr) + t.offset;
    }
    io.resize(plan.inputs.size() + plan.outputs.size());
    std::mt19937_64 rng(settings.seed);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (size_t i = 0; i < plan.inputs.size(); ++i) {
      const PlanTensor& t = plan.tensors[static_cast<size_t>(plan.inputs[i])];
      INGOT_RETURN_IF_ERROR(io[i].allocate(t.nbytes, "input '" + t.name + "'"));
      tensors[static_cast<size_t>(plan.inputs[i])].data = io[i].ptr;
      std::vector<uint8_t> host(t.nbytes, 0);  // integers: zeros, in range for any index
      const int64_t n = t.numel();
      for (int64_t e = 0; e < n; ++e) {
        switch (t.dtype) {
          case DType::kFloat32: { float v = uniform(rng); std::memcpy(&host[4 * e], &v, 4); break; }
          case DType::kFloat64: { double v = uniform(rng); std::memcpy(&host[8 * e], &v, 8); break; }
          case DType::kFloat16: { uint16_t v = float_to_half_bits(uniform(rng)); std::memcpy(&host[2 * e], &v, 2); break; }
          case DType::kBFloat16: { uint16_t v = float_to_bf16_bits(uniform(rng)); std::memcpy(&host[2 * e], &v, 2); break; }
          case DType::kBool: host[e] = 1; break;  // masks: keep everything (no fully masked rows)
          default: break;
        }
      }
      if (!host.empty())
        INGOT_CUDA_RETURN_IF_ERROR(cudaMemcpy(io[i].ptr, host.data(), host.size(), cudaMemcpyHostToDevice));
    }
    for (size_t o = 0; o < plan.outputs.size(); ++o) {
      const PlanTensor& t = plan.tensors[static_cast<size_t>(plan.outputs[o])];
      DeviceMemory& m = io[plan.inputs.size() + o];
      INGOT_RETURN_IF_ERROR(m.allocate(t.nbytes, "output '" + t.name + "'"));
      tensors[static_cast<size_t>(plan.outputs[o])].data = m.ptr;
    }
    // Reshaped views of a user input (stored as that input) read its memory.
    for (size_t i = 0; i < plan.tensors.size(); ++i)
      if (plan.tensors[i].storage == TensorStorage::kInput && plan.tensors[i].offset < plan.inputs.size())
        tensors[i].data = io[plan.tensors[i].offset].ptr;
    // A user input that is also an output shares no memory with it (the planner
    // adds a copy step), so every tensor now has its own device memory.
    return {};
  }

  KernelArgs args_for(size_t s, const std::string& tactic, std::unique_ptr<StepState>* state) {
    KernelArgs a = step_args(plan.steps[s], tensors, settings.allow_tf32);
    a.stream = stream;
    a.handles = &handles;
    a.workspace = workspace.ptr;
    a.workspace_bytes = settings.workspace_bytes;
    a.state = state;
    a.tactic = tactic;
    a.strict_tactic = true;
    // Timed with the scratch this tactic gets in the engine (cuda_executor.cc),
    // not the largest any candidate needs: cuDNN's algorithms run different
    // kernels with more of it.
    a.workspace_bytes = std::min<size_t>(a.workspace_bytes, workspace_size(plan.steps[s].attrs, a));
    return a;
  }

  // A kernel fault leaves the context unusable: report it as a device error.
  Status sync(const std::string& what) {
    cudaError_t err = cudaStreamSynchronize(stream);
    if (err == cudaSuccess) return {};
    return device_error(what + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
  }

  // Runs the step once; a launch error the family did not report (a bad launch
  // configuration is not sticky) counts against this tactic, not the session.
  Status launch(size_t s, const KernelArgs& args) {
    Status st = run_kernel(plan.steps[s].attrs, args);
    cudaError_t err = cudaGetLastError();
    if (st.ok() && err != cudaSuccess) return cuda_status(err, "kernel launch");
    return st;
  }

  Status copy_outputs(size_t s, HostOutputs* host) {
    const PlanStep& step = plan.steps[s];
    host->bytes.resize(step.outputs.size());
    for (size_t o = 0; o < step.outputs.size(); ++o) {
      const PlanTensor& t = plan.tensors[static_cast<size_t>(step.outputs[o])];
      host->bytes[o].resize(t.nbytes);
      if (t.nbytes)
        INGOT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host->bytes[o].data(), tensors[static_cast<size_t>(step.outputs[o])].data,
                                                   t.nbytes, cudaMemcpyDeviceToHost, stream));
    }
    return sync(step_label(s) + ": copying outputs");
  }

  // Poisons the step's outputs (0xFF bytes: NaN in every float type) so that an
  // element a tactic leaves unwritten is caught by the comparison.
  Status poison_outputs(size_t s) {
    for (int32_t id : plan.steps[s].outputs) {
      const PlanTensor& t = plan.tensors[static_cast<size_t>(id)];
      if (t.nbytes)
        INGOT_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(tensors[static_cast<size_t>(id)].data, 0xFF, t.nbytes, stream));
    }
    return {};
  }

  // Median milliseconds of settings.iterations launches, queued behind a gate.
  // The returned Status is a device fault only; a launch that merely returns an
  // error fills *rejection instead.
  Status time_launches(size_t s, const KernelArgs& args, double* median_ms, std::string* rejection) {
    const int n = std::max(1, settings.iterations);
    std::vector<cudaEvent_t> events(static_cast<size_t>(n) + 1, nullptr);
    auto destroy = [&] {
      for (cudaEvent_t e : events)
        if (e) cudaEventDestroy(e);
    };
    for (cudaEvent_t& e : events) {
      Status created = cuda_status(cudaEventCreate(&e), "cudaEventCreate");
      if (!created.ok()) {
        destroy();
        return created;
      }
    }
    Gate gate;
    if (cudaLaunchHostFunc(stream, wait_for_gate, &gate) != cudaSuccess) cudaGetLastError();  // ungated timing then
    Status st = cuda_status(cudaEventRecord(events[0], stream), "cudaEventRecord");
    for (int i = 0; i < n && st.ok(); ++i) {
      st = launch(s, args);
      if (st.ok()) st = cuda_status(cudaEventRecord(events[static_cast<size_t>(i) + 1], stream), "cudaEventRecord");
    }
    gate.open.store(true, std::memory_order_release);
    Status synced = sync(step_label(s) + " tactic '" + args.tactic + "'");
    if (!synced.ok()) {
      destroy();
      return synced;
    }
    std::vector<double> ms;
    for (int i = 0; i < n && st.ok(); ++i) {
      float t = 0;
      st = cuda_status(cudaEventElapsedTime(&t, events[static_cast<size_t>(i)], events[static_cast<size_t>(i) + 1]),
                       "cudaEventElapsedTime");
      ms.push_back(t);
    }
    destroy();
    if (!st.ok()) {
      *rejection = "error: " + st.message();
      return {};
    }
    std::sort(ms.begin(), ms.end());
    const size_t m = ms.size();
    *median_ms = m % 2 ? ms[m / 2] : 0.5 * (ms[m / 2 - 1] + ms[m / 2]);
    return {};
  }
};

TuningSession::TuningSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TuningSession::~TuningSession() = default;

Result<std::unique_ptr<TuningSession>> TuningSession::create(const Plan& plan, const TuningSettings& settings) {
  INGOT_ASSIGN_OR_RETURN(std::string arch, current_arch());
  (void)arch;
  auto impl = std::make_unique<Impl>(plan, settings);
  INGOT_RETURN_IF_ERROR(impl->init());
  return std::unique_ptr<TuningSession>(new TuningSession(std::move(impl)));
}

std::vector<std::string> TuningSession::candidates(size_t step) {
  if (step >= impl_->plan.steps.size()) return {};
  KernelArgs a = impl_->args_for(step, "", nullptr);
  a.workspace_bytes = impl_->settings.workspace_bytes;  // list what fits the whole allowance
  return candidate_tactics(impl_->plan.steps[step].attrs, a);
}

Status TuningSession::run_step(size_t step, const std::string& tactic) {
  Impl& im = *impl_;
  if (step >= im.plan.steps.size()) return internal_error("tuning: step " + std::to_string(step) + " is out of range");
  std::unique_ptr<StepState> state;
  KernelArgs a = im.args_for(step, tactic, &state);
  Status st = im.launch(step, a);
  if (!st.ok()) return st.with_context(im.step_label(step) + (tactic.empty() ? "" : " tactic '" + tactic + "'"));
  return im.sync(im.step_label(step));
}

Result<std::vector<TacticTiming>> TuningSession::time_step(size_t step, const std::vector<std::string>& tactics) {
  Impl& im = *impl_;
  if (step >= im.plan.steps.size()) return internal_error("tuning: step " + std::to_string(step) + " is out of range");
  std::vector<TacticTiming> results;
  HostOutputs reference;
  bool have_reference = false;
  for (const std::string& tactic : tactics) {
    TacticTiming r;
    r.tactic = tactic;
    std::unique_ptr<StepState> state;  // fresh per tactic: no state built for another tactic leaks in
    KernelArgs a = im.args_for(step, tactic, &state);

    // Checked run: builds the state, then the output is compared with the reference.
    INGOT_RETURN_IF_ERROR(im.poison_outputs(step));
    Status st = im.launch(step, a);
    INGOT_RETURN_IF_ERROR(im.sync(im.step_label(step) + " tactic '" + tactic + "'"));
    if (!st.ok()) {
      r.rejection = "error: " + st.message();
      results.push_back(std::move(r));
      continue;
    }
    HostOutputs got;
    INGOT_RETURN_IF_ERROR(im.copy_outputs(step, &got));
    if (!have_reference) {
      reference = std::move(got);
      have_reference = true;
    } else {
      std::vector<DeviceTensor*> outs = a.out;
      std::string why = compare_outputs(outs, reference, got, im.settings.allow_tf32, &r.relative_error);
      if (!why.empty()) {
        r.rejection = why;
        results.push_back(std::move(r));
        continue;
      }
    }

    for (int w = 0; w < im.settings.warmup && st.ok(); ++w) st = im.launch(step, a);
    INGOT_RETURN_IF_ERROR(im.sync(im.step_label(step) + " tactic '" + tactic + "'"));
    if (!st.ok()) {
      r.rejection = "error: " + st.message();
      results.push_back(std::move(r));
      continue;
    }
    INGOT_RETURN_IF_ERROR(im.time_launches(step, a, &r.median_ms, &r.rejection));
    r.accepted = r.rejection.empty();
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace ingot::cuda
