// The ingot runtime C++ API: load a serialized engine, bind inputs and outputs by
// name, run it. This header and the runtime library depend on no PyTorch, no
// Python, no JSON/zip code and nothing of the compiler.
//
//   auto engine = ingot::Engine::load_file("model.engine");        // Result<...>
//   auto ctx = engine->create_context();
//   ctx->bind_input("x", ingot::TensorView::host(x.data(), ingot::DType::kFloat32, {1, 3, 224, 224}));
//   ctx->run();
//   ingot::TensorView y = ctx->output(0).value();
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"

namespace ingot {

const char* version_string();  // "0.1.0"

enum class MemoryKind : uint8_t { kHost = 0, kDevice = 1 };

// A non-owning view of a dense, contiguous, row-major tensor.
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  MemoryKind memory = MemoryKind::kHost;

  static TensorView host(void* data, DType dtype, std::vector<int64_t> shape) {
    return {data, dtype, std::move(shape), MemoryKind::kHost};
  }
  static TensorView device(void* data, DType dtype, std::vector<int64_t> shape) {
    return {data, dtype, std::move(shape), MemoryKind::kDevice};
  }
  int64_t numel() const;
  size_t nbytes() const;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
};

// Provenance recorded in every engine.
struct EngineInfo {
  std::string format_version;   // "1.0"
  std::string ingot_version;
  std::string model_file;
  std::string model_hash;
  std::string torch_version;
  std::string backend;
  std::string target;
  std::string cuda_version, cublas_version, cudnn_version;
  std::vector<std::pair<std::string, std::string>> options;
  uint64_t arena_bytes = 0;
  uint64_t constants_bytes = 0;
  size_t num_steps = 0;
};

class ExecutionContext;

// An immutable, loaded engine; share it between threads.
class Engine : public std::enable_shared_from_this<Engine> {
 public:
  // Reads, verifies (magic, version, checksum, every table and offset) and, for
  // CUDA engines, checks that the GPU matches the engine's target.
  static Result<std::shared_ptr<const Engine>> load_file(const std::string& path);
  static Result<std::shared_ptr<const Engine>> load_memory(const void* data, size_t size);

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  const EngineInfo& info() const;

  // One context per concurrent stream/thread: it owns the activation arena.
  Result<std::unique_ptr<ExecutionContext>> create_context() const;

  struct Impl;
  explicit Engine(std::shared_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
  // Bind by name; dtype and shape must match the engine's signature exactly.
  // The memory must stay valid until run() returns (or the stream finishes).
  virtual Status bind_input(std::string_view name, const TensorView& tensor) = 0;
  // Optional: where to write an output. Unbound outputs go to buffers the
  // context owns, readable through output().
  virtual Status bind_output(std::string_view name, const TensorView& tensor) = 0;
  // Runs to completion (CPU; CUDA engines also wait for the stream).
  virtual Status run() = 0;
  // CUDA engines: enqueue on the caller's stream (cudaStream_t) without waiting.
  // CPU engines run synchronously here.
  virtual Status enqueue(void* cuda_stream) = 0;
  // The i-th output after run(): the bound view, or the context-owned buffer.
  virtual Result<TensorView> output(size_t index) const = 0;
  virtual Result<TensorView> output(std::string_view name) const = 0;
};

}  // namespace ingot
