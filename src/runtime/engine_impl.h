// Engine::Impl: what a loaded engine holds. The Plan comes first so that it
// outlives the backend built from it (members are destroyed in reverse order).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "ingot/ingot.h"
#include "runtime/backend.h"

namespace ingot {

struct Engine::Impl {
  Plan plan;
  std::unique_ptr<BackendEngine> backend;  // refers to plan
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  EngineInfo info;
};

// "float32[1,3,224,224]", used in binding errors.
std::string describe_tensor(DType dtype, const std::vector<int64_t>& shape);

}  // namespace ingot
