// What the two users of the cuDNN frontend (attention_cudnn.cc, conv_cudnn_graph.cc)
// share: the frontend's headers, a Status for its errors, and the cache of built
// plans. Included only where INGOT_HAVE_CUDNN_FRONTEND is set.
//
// A plan is built for one problem on one cuDNN handle. Building costs milliseconds
// to seconds (cuDNN may compile a kernel with NVRTC) and a model repeats its shapes
// (one attention shape, a few conv shapes per stage), so plans are shared: the
// steps hold them, the cache only weakly, and it forgets plans no step holds any
// more (contexts, each with its own handle, come and go).
#pragma once
#include <algorithm>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

// The runtime library links no JSON (DESIGN.md, rule 1); the frontend only needs
// it for serialization, which ingot does not use.
#define CUDNN_FRONTEND_SKIP_JSON_LIB
#include <cudnn_frontend.h>

#include "ingot/status.h"

namespace ingot::cuda {

// An `unsupported` Status naming `prefix`, the step `what` and the frontend's message
// when expr (a cudnn_frontend::error_t) is bad.
#define INGOT_FE_RETURN_IF_ERROR(expr, prefix, what)                                                  \
  do {                                                                                                \
    auto _fe_status = (expr);                                                                         \
    if (_fe_status.is_bad())                                                                          \
      return unsupported(std::string(prefix) + (what) + ": " + _fe_status.get_message());             \
  } while (0)

// Plans by key (the handle and the problem); Plan has a `workspace` byte count.
template <typename Key, typename Plan>
class PlanCache {
 public:
  // The cached plan for key when it fits workspace_bytes, else build() (a
  // Result<std::shared_ptr<const Plan>>), remembered when it succeeds.
  template <typename Build>
  Result<std::shared_ptr<const Plan>> get(const Key& key, size_t workspace_bytes, Build&& build) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(key); it != plans_.end())
      if (auto plan = it->second.lock(); plan && static_cast<size_t>(plan->workspace) <= workspace_bytes) return plan;
    Result<std::shared_ptr<const Plan>> built = build();
    if (built.ok()) {
      std::erase_if(plans_, [](const auto& entry) { return entry.second.expired(); });
      plans_[key] = built.value();
    }
    return built;
  }

 private:
  std::mutex mu_;
  std::map<Key, std::weak_ptr<const Plan>> plans_;
};

}  // namespace ingot::cuda
