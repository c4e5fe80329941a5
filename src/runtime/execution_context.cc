// ExecutionContext: the generic half of running an engine. It binds user
// tensors by name (checking dtype, shape and memory kind exactly), owns buffers
// for outputs the user did not bind, and hands validated views to the backend's
// context, which owns the arena and does the work.
#include <memory>
#include <new>
#include <optional>

#include "runtime/engine_impl.h"

namespace ingot {

namespace {

std::string list_names(const std::vector<TensorInfo>& infos) {
  std::string s;
  for (size_t i = 0; i < infos.size(); ++i) s += (i ? ", " : "") + infos[i].name;
  return s.empty() ? "(none)" : s;
}

std::optional<size_t> find_name(const std::vector<TensorInfo>& infos, std::string_view name) {
  for (size_t i = 0; i < infos.size(); ++i)
    if (infos[i].name == name) return i;
  return std::nullopt;
}

class ContextImpl final : public ExecutionContext {
 public:
  ContextImpl(std::shared_ptr<const Engine> owner, const Engine::Impl& engine, std::unique_ptr<BackendContext> backend)
      : owner_(std::move(owner)),
        engine_(engine),
        backend_(std::move(backend)),
        inputs_(engine.inputs.size()),
        outputs_(engine.outputs.size()),
        owned_(engine.outputs.size()) {}

  Status bind_input(std::string_view name, const TensorView& tensor) override {
    auto index = find_name(engine_.inputs, name);
    if (!index)
      return not_found("the engine has no input named '" + std::string(name) +
                       "'; its inputs are: " + list_names(engine_.inputs));
    INGOT_RETURN_IF_ERROR(check_view("input", engine_.inputs[*index], tensor));
    inputs_[*index] = tensor;
    return {};
  }

  Status bind_output(std::string_view name, const TensorView& tensor) override {
    auto index = find_name(engine_.outputs, name);
    if (!index)
      return not_found("the engine has no output named '" + std::string(name) +
                       "'; its outputs are: " + list_names(engine_.outputs));
    INGOT_RETURN_IF_ERROR(check_view("output", engine_.outputs[*index], tensor));
    outputs_[*index] = tensor;
    return {};
  }

  Status run() override { return execute(nullptr, /*synchronize=*/true); }
  Status enqueue(void* cuda_stream) override { return execute(cuda_stream, /*synchronize=*/false); }

  Result<TensorView> output(size_t index) const override {
    if (index >= engine_.outputs.size())
      return not_found("output index " + std::to_string(index) + " is out of range: the engine has " +
                       std::to_string(engine_.outputs.size()) + " outputs");
    if (outputs_[index]) return *outputs_[index];
    if (!ran_)
      return invalid_argument("output '" + engine_.outputs[index].name +
                              "' is not available yet: call run() or enqueue() first");
    const TensorInfo& info = engine_.outputs[index];
    return TensorView{owned_[index].get(), info.dtype, info.shape, MemoryKind::kHost};
  }

  Result<TensorView> output(std::string_view name) const override {
    auto index = find_name(engine_.outputs, name);
    if (!index)
      return not_found("the engine has no output named '" + std::string(name) +
                       "'; its outputs are: " + list_names(engine_.outputs));
    return output(*index);
  }

 private:
  Status check_view(const char* what, const TensorInfo& info, const TensorView& view) const {
    if (view.dtype != info.dtype || view.shape != info.shape)
      return invalid_argument(std::string(what) + " '" + info.name + "': expected " +
                              describe_tensor(info.dtype, info.shape) + ", got " +
                              describe_tensor(view.dtype, view.shape));
    if (view.data == nullptr && view.nbytes() != 0)
      return invalid_argument(std::string(what) + " '" + info.name + "': the data pointer is null");
    if (view.memory == MemoryKind::kDevice && engine_.plan.build.backend != "cuda")
      return invalid_argument(std::string(what) + " '" + info.name + "': this engine runs on " +
                              engine_.plan.build.backend + " and needs host memory, got a device pointer");
    return {};
  }

  Status execute(void* stream, bool synchronize) {
    std::vector<TensorView> inputs;
    inputs.reserve(inputs_.size());
    for (size_t i = 0; i < inputs_.size(); ++i) {
      if (!inputs_[i])
        return invalid_argument("input '" + engine_.inputs[i].name + "' is not bound; call bind_input first");
      inputs.push_back(*inputs_[i]);
    }
    std::vector<TensorView> outputs;
    outputs.reserve(outputs_.size());
    for (size_t i = 0; i < outputs_.size(); ++i) {
      if (outputs_[i]) {
        outputs.push_back(*outputs_[i]);
        continue;
      }
      const TensorInfo& info = engine_.outputs[i];
      const size_t nbytes = engine_.plan.tensors[static_cast<size_t>(engine_.plan.outputs[i])].nbytes;
      if (!owned_[i]) {
        // TODO(cuda): device buffers when backend->output_memory() is kDevice.
        owned_[i].reset(new (std::nothrow) uint8_t[nbytes ? nbytes : 1]);
        if (!owned_[i])
          return io_error("out of memory allocating " + std::to_string(nbytes) + " bytes for output '" +
                          info.name + "'");
      }
      outputs.push_back(TensorView{owned_[i].get(), info.dtype, info.shape, MemoryKind::kHost});
    }
    Status st = backend_->execute(inputs, outputs, stream, synchronize);
    if (st.ok()) ran_ = true;
    return st;
  }

  std::shared_ptr<const Engine> owner_;  // keeps engine_ alive while this context lives
  const Engine::Impl& engine_;
  std::unique_ptr<BackendContext> backend_;
  std::vector<std::optional<TensorView>> inputs_;
  std::vector<std::optional<TensorView>> outputs_;
  std::vector<std::unique_ptr<uint8_t[]>> owned_;
  bool ran_ = false;
};

}  // namespace

Result<std::unique_ptr<ExecutionContext>> Engine::create_context() const {
  try {
    INGOT_ASSIGN_OR_RETURN(std::unique_ptr<BackendContext> backend, impl_->backend->create_context());
    // Engines made by load_file/load_memory live in a shared_ptr; the context
    // shares ownership so that it may outlive the caller's handle.
    std::shared_ptr<const Engine> owner = weak_from_this().lock();
    return std::unique_ptr<ExecutionContext>(new ContextImpl(std::move(owner), *impl_, std::move(backend)));
  } catch (const std::bad_alloc&) {
    return io_error("out of memory creating an execution context");
  }
}

}  // namespace ingot
