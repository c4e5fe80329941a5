// The CPU backend's engine and context: a context owns a 64-byte-aligned host
// arena for activations (plus the plan's workspace), resolves every plan tensor
// to a cpu::TensorRef once, and per run only repoints the user inputs and
// outputs before calling run_kernel step by step. Errors name the failing step
// and the user's source line.
#include <chrono>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "backends/cpu/cpu_kernels.h"
#include "runtime/backend.h"

namespace ingot {
namespace {

constexpr size_t kArenaAlignment = 64;

struct AlignedFree {
  void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(kArenaAlignment)); }
};

// "step 12 [conv] node 'convolution_3' (model.py:42)"
std::string step_label(const PlanStep& step, size_t index) {
  std::string label = "step " + std::to_string(index) + " [" + op_name(op_kind(step.attrs)) + "]";
  if (!step.source.node_name.empty()) label += " node '" + step.source.node_name + "'";
  if (!step.source.location.empty()) label += " (" + step.source.location + ")";
  return label;
}

class CpuContext final : public BackendContext {
 public:
  explicit CpuContext(const Plan& plan) : plan_(plan) {}

  Status init() {
    const uint64_t total = plan_.arena_bytes + plan_.workspace_bytes;
    const size_t alloc = static_cast<size_t>((total + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment);
    arena_.reset(new (std::align_val_t(kArenaAlignment), std::nothrow) uint8_t[alloc ? alloc : kArenaAlignment]);
    if (!arena_) return io_error("out of memory allocating a " + std::to_string(total) + "-byte cpu arena");

    refs_.resize(plan_.tensors.size());
    for (size_t id = 0; id < plan_.tensors.size(); ++id) {
      const PlanTensor& t = plan_.tensors[id];
      cpu::TensorRef& r = refs_[id];
      r.dtype = t.dtype;
      r.shape = t.shape;
      const std::string what = "tensor " + std::to_string(id) + " '" + t.name + "'";
      switch (t.storage) {
        case TensorStorage::kArena:
          if (t.offset + t.nbytes > plan_.arena_bytes || t.offset + t.nbytes < t.offset)
            return corrupt(what + " lies outside the " + std::to_string(plan_.arena_bytes) + "-byte arena");
          r.data = arena_.get() + t.offset;
          break;
        case TensorStorage::kConstant:
          if (t.offset + t.nbytes > plan_.constants.size() || t.offset + t.nbytes < t.offset)
            return corrupt(what + " lies outside the constants section");
          // Kernels never write inputs; TensorRef just has no const flavour.
          r.data = const_cast<uint8_t*>(plan_.constants.data()) + t.offset;
          break;
        case TensorStorage::kInput:
          if (t.offset >= plan_.inputs.size()) return corrupt(what + " names a missing input");
          bound_.push_back({id, false, static_cast<size_t>(t.offset)});
          break;
        case TensorStorage::kOutput:
          if (t.offset >= plan_.outputs.size()) return corrupt(what + " names a missing output");
          bound_.push_back({id, true, static_cast<size_t>(t.offset)});
          break;
        default:
          return corrupt(what + " has an unknown storage kind");
      }
    }

    args_.resize(plan_.steps.size());
    for (size_t s = 0; s < plan_.steps.size(); ++s) {
      const PlanStep& step = plan_.steps[s];
      cpu::KernelArgs& a = args_[s];
      for (int32_t id : step.inputs) {
        if (id < -1 || id >= static_cast<int32_t>(refs_.size()))
          return corrupt(step_label(step, s) + ": input tensor id " + std::to_string(id) + " out of range");
        a.in.push_back(id < 0 ? nullptr : &refs_[static_cast<size_t>(id)]);
      }
      for (int32_t id : step.outputs) {
        if (id < 0 || id >= static_cast<int32_t>(refs_.size()))
          return corrupt(step_label(step, s) + ": output tensor id " + std::to_string(id) + " out of range");
        a.out.push_back(&refs_[static_cast<size_t>(id)]);
      }
    }
    return Status::ok_status();
  }

  Status execute(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs, void* /*stream*/,
                 bool /*synchronize*/) override {
    INGOT_RETURN_IF_ERROR(bind(inputs, outputs));
    for (size_t s = 0; s < plan_.steps.size(); ++s) INGOT_RETURN_IF_ERROR(run_step(s));
    return Status::ok_status();
  }

  // Wall time of each step (std::chrono), averaged over the timed iterations.
  Result<std::vector<double>> profile_steps(const std::vector<TensorView>& inputs,
                                            const std::vector<TensorView>& outputs, void* /*stream*/,
                                            int iterations) override {
    if (iterations < 1) return invalid_argument("profile_steps: iterations must be at least 1");
    INGOT_RETURN_IF_ERROR(bind(inputs, outputs));
    for (size_t s = 0; s < plan_.steps.size(); ++s) INGOT_RETURN_IF_ERROR(run_step(s));  // warm-up
    std::vector<double> total_ms(plan_.steps.size(), 0.0);
    for (int it = 0; it < iterations; ++it) {
      for (size_t s = 0; s < plan_.steps.size(); ++s) {
        auto start = std::chrono::steady_clock::now();
        INGOT_RETURN_IF_ERROR(run_step(s));
        total_ms[s] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      }
    }
    for (double& t : total_ms) t /= iterations;
    return total_ms;
  }

 private:
  Status run_step(size_t s) {
    Status st = cpu::run_kernel(plan_.steps[s].attrs, args_[s]);
    return st.ok() ? st : st.with_context(step_label(plan_.steps[s], s));
  }

  // Points the plan's input/output tensors at the caller's views.
  Status bind(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) {
    if (inputs.size() != plan_.inputs.size() || outputs.size() != plan_.outputs.size())
      return internal_error("cpu backend: got " + std::to_string(inputs.size()) + " inputs and " +
                            std::to_string(outputs.size()) + " outputs, the plan has " +
                            std::to_string(plan_.inputs.size()) + " and " + std::to_string(plan_.outputs.size()));
    for (const Bound& b : bound_) {
      const TensorView& view = b.is_output ? outputs[b.index] : inputs[b.index];
      const PlanTensor& t = plan_.tensors[b.tensor];
      const char* kind = b.is_output ? "output" : "input";
      if (view.memory != MemoryKind::kHost)
        return invalid_argument(std::string("cpu backend: ") + kind + " '" + t.name +
                                "' is in device memory; the cpu backend needs host memory");
      if (!view.data && t.nbytes != 0)
        return invalid_argument(std::string("cpu backend: ") + kind + " '" + t.name + "' has a null data pointer");
      refs_[b.tensor].data = view.data;
    }
    return Status::ok_status();
  }

  struct Bound {
    size_t tensor;
    bool is_output;
    size_t index;  // into the inputs or outputs of execute()
  };
  const Plan& plan_;
  std::unique_ptr<uint8_t[], AlignedFree> arena_;
  std::vector<cpu::TensorRef> refs_;    // one per plan tensor; never reallocated after init
  std::vector<cpu::KernelArgs> args_;   // one per step, pointing into refs_
  std::vector<Bound> bound_;            // tensors repointed at every run
};

class CpuEngine final : public BackendEngine {
 public:
  explicit CpuEngine(const Plan& plan) : plan_(plan) {}
  Result<std::unique_ptr<BackendContext>> create_context() const override {
    auto ctx = std::make_unique<CpuContext>(plan_);
    INGOT_RETURN_IF_ERROR(ctx->init());
    return std::unique_ptr<BackendContext>(std::move(ctx));
  }

 private:
  const Plan& plan_;
};

}  // namespace

Result<std::unique_ptr<BackendEngine>> make_cpu_backend(const Plan& plan) {
  return std::unique_ptr<BackendEngine>(std::make_unique<CpuEngine>(plan));
}

}  // namespace ingot
