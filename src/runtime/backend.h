// The interface between the generic runtime (Engine, ExecutionContext: loading,
// binding and validation) and a backend (cpu, cuda) that executes a Plan.
// Backends are listed explicitly in backend_registry.cc (no static registration).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "ingot/ingot.h"

namespace ingot {

// Per-context execution state: arena, scratch, streams, CUDA graph.
class BackendContext {
 public:
  virtual ~BackendContext() = default;
  // inputs/outputs are in the plan's IO order and already validated against it
  // (dtype, shape). Views may be host or device memory; the backend copies as
  // needed. stream is a cudaStream_t for CUDA (nullptr = default), ignored by CPU.
  // synchronize: wait for completion before returning.
  virtual Status execute(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs,
                         void* stream, bool synchronize) = 0;
  // Profiling (`ingot bench --profile`): runs the plan once to warm up, then
  // times every step on its own `iterations` times (CUDA: replayed in a CUDA
  // graph of its own, as the engine's graph runs it), and returns the mean
  // milliseconds of each step in plan order. Same inputs and outputs contract as
  // execute(); returns after all work has finished.
  virtual Result<std::vector<double>> profile_steps(const std::vector<TensorView>& inputs,
                                                    const std::vector<TensorView>& outputs, void* stream,
                                                    int iterations) {
    return unsupported("this backend cannot time individual steps");
  }
};

// Per-engine, immutable state shared by its contexts (e.g. constants uploaded once).
class BackendEngine {
 public:
  virtual ~BackendEngine() = default;
  virtual Result<std::unique_ptr<BackendContext>> create_context() const = 0;
  // Where a context-owned output buffer should live for this backend.
  virtual MemoryKind output_memory() const { return MemoryKind::kHost; }
};

// The plan must outlive the returned engine.
Result<std::unique_ptr<BackendEngine>> make_cpu_backend(const Plan& plan);
#ifdef INGOT_WITH_CUDA
Result<std::unique_ptr<BackendEngine>> make_cuda_backend(const Plan& plan);
#endif
// Dispatches on plan.build.backend; a CUDA engine in a build without CUDA, or on a
// machine whose GPU differs from plan.build.target, is refused with both named.
Result<std::unique_ptr<BackendEngine>> make_backend(const Plan& plan);

}  // namespace ingot
