// The list of backends, written out explicitly (no static registration): picks
// the backend an engine was built for, or says clearly why it cannot run here.
#include "runtime/backend.h"

namespace ingot {

Result<std::unique_ptr<BackendEngine>> make_backend(const Plan& plan) {
  const std::string& backend = plan.build.backend;
  if (backend == "cpu") return make_cpu_backend(plan);
  if (backend == "cuda") {
#ifdef INGOT_WITH_CUDA
    // make_cuda_backend checks the GPU against plan.build.target.
    return make_cuda_backend(plan);
#else
    return unsupported("this engine targets cuda (" + (plan.build.target.empty() ? "unknown" : plan.build.target) +
                       ") but this ingot runtime was built without CUDA");
#endif
  }
  return unsupported("this engine targets backend '" + backend +
                     "', which this ingot runtime does not know (known: cpu, cuda)");
}

}  // namespace ingot
