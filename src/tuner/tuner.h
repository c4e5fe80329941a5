// Build-time kernel tuning of a CUDA plan (DESIGN.md, pipeline step 5): for every
// step whose kernel family offers several tactics, take the timing cache's
// choice, or time the candidates on the GPU and keep the fastest one whose
// output matches the default's. Ties (within 2%) go to the earlier tactic in
// the family's list, so the same timings always give the same choice.
//
// The GPU is reached through the StepTimer interface: the real one wraps
// cuda::TuningSession (backends/cuda/tuning.h); tests drive the same logic with
// a scripted timer on machines without a GPU.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "backends/cuda/tuning.h"
#include "engine/plan.h"
#include "ingot/compiler.h"
#include "ingot/status.h"
#include "tuner/timing_cache.h"

namespace ingot::tuner {

// The GPU side as the tuner sees it. Steps are run in plan order: run() gives
// later steps their real inputs; time() is called for a step just before it runs.
class StepTimer {
 public:
  virtual ~StepTimer() = default;
  virtual std::vector<std::string> candidates(size_t step) = 0;
  virtual Result<std::vector<cuda::TacticTiming>> time(size_t step, const std::vector<std::string>& tactics) = 0;
  virtual Status run(size_t step, const std::string& tactic) = 0;
};

// How hard to try, by optimization level: 0-1 no tuning, 2 quick, 3 the default,
// 4-5 more launches per tactic and every candidate.
struct TuningEffort {
  bool tune = true;
  int warmup = 3;
  int iterations = 15;
  size_t max_candidates = 8;  // 0 = all the family offers
};
TuningEffort effort_for_level(int optimization_level);

// Index of the chosen timing: the fastest accepted one, where a tactic within 2%
// of the fastest that comes earlier in the list wins. -1 when none was accepted.
int choose_tactic(const std::vector<cuda::TacticTiming>& timings);

struct StepChoice {
  size_t step = 0;
  std::string tactic;
  double median_ms = 0;
  int candidates = 0;
  bool from_cache = false;
};

struct TuningReport {
  std::vector<StepChoice> choices;  // steps with more than one candidate (or a cached tactic)
  size_t timed = 0;                 // steps timed in this build
  size_t from_cache = 0;            // steps whose tactic came from the cache (file or an identical earlier step)
  size_t untuned = 0;               // steps left at the default for want of a GPU
  double seconds = 0;
};

using Progress = std::function<void(const std::string&)>;

// Tunes plan's steps in place (PlanStep::tactic). timer may be null (no usable
// GPU): cached choices still apply, every other step keeps its default. Every
// step is looked up in the cache (steps with nothing to choose are cached too,
// so a rebuild from a full cache needs no timing). Errors: a device fault or a
// chosen tactic that fails when run.
Result<TuningReport> tune_steps(Plan& plan, const TuningTarget& target, int optimization_level, TimingCache& cache,
                                StepTimer* timer, const Progress& progress);

// "gemm [4096x768x3072]": the op and its problem size, for progress lines.
std::string describe_step(const Plan& plan, size_t step);

// The compiler's hook for a cuda plan (after build_plan): records the workspace
// (the backend's need, capped by --workspace-limit) in plan.workspace_bytes,
// loads the timing cache, tunes on this machine's GPU when it is the target
// (else applies cached choices only, with a progress note) and saves the cache.
Status tune_plan(Plan& plan, const BuildOptions& options);

}  // namespace ingot::tuner
