// The CUDA side of build-time kernel tuning: runs a plan's steps on the GPU with
// each candidate tactic, checks every candidate's output against the first
// (default) tactic's and times the ones that agree. Choosing among the results
// and the timing cache live in the compiler (src/tuner/), so this part of the
// runtime library stays free of JSON and compiler code (DESIGN.md rule 1).
//
// Free of CUDA headers, like cuda_query.h, so the compiler can call it. The
// result structs are plain data and may be used without CUDA; the functions and
// TuningSession exist only in a build with the CUDA backend (INGOT_WITH_CUDA).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "ingot/status.h"

namespace ingot::cuda {

struct TuningSettings {
  int warmup = 3;           // untimed launches per tactic, after its checked run
  int iterations = 15;      // timed launches per tactic; the median is reported
  bool allow_tf32 = false;  // as the engine will run (KernelArgs::allow_tf32)
  // Scratch every step gets, exactly as the engine will give it (plan.workspace_bytes).
  uint64_t workspace_bytes = 0;
  uint64_t seed = 0x696e676f74ull;  // for the random float inputs
};

// One candidate's outcome. Rejected candidates carry the reason.
struct TacticTiming {
  std::string tactic;
  bool accepted = false;
  double median_ms = 0;        // accepted only
  double relative_error = 0;   // ||out - reference|| / ||reference|| over all outputs
  std::string rejection;       // "error: ...", "relative error 3.1e-01 > 1.0e-02", "NaN/Inf ..."
};

// Relative L2 error a candidate may have against the reference for an output of
// this dtype: 1e-2 for fp16/bf16, 1e-4 for fp32 (5e-3 with TF32), 0 (exact) for
// integers and bool.
double tactic_tolerance(DType dtype, bool allow_tf32);

// The scratch bytes the CUDA backend would give the steps of this plan (the
// largest workspace_size() of any step): what plan.workspace_bytes records when
// no --workspace-limit is given.
uint64_t default_workspace_bytes(const Plan& plan, bool allow_tf32);
// The most any candidate tactic of any step needs: the scratch tuning runs with.
uint64_t tuning_workspace_bytes(const Plan& plan, bool allow_tf32);

// GPU buffers for one plan (arena, constants, inputs, outputs, workspace), a
// dedicated stream and library handles, allocated once and reused for every
// step. Run the steps in plan order with run_step() so that each step's inputs
// hold the values the plan really computes there; tune a step just before
// running it. Every method returns errors as Status values.
class TuningSession {
 public:
  // Fails (device_error) where no GPU is usable or memory runs out. Float inputs
  // are seeded uniform values in [-1, 1]; integer inputs are zeros (in range for
  // any embedding or gather) and bool inputs true.
  static Result<std::unique_ptr<TuningSession>> create(const Plan& plan, const TuningSettings& settings);
  ~TuningSession();
  TuningSession(const TuningSession&) = delete;
  TuningSession& operator=(const TuningSession&) = delete;

  // The family's candidate tactics for this step (cuda::candidate_tactics), in
  // tie-break order, the default first. Empty or one entry: nothing to tune.
  std::vector<std::string> candidates(size_t step);
  // Runs and times each tactic on the step's current inputs. The first tactic
  // that runs without error is the reference; every tactic must match it
  // (tactic_tolerance; NaN/Inf where the reference is finite rejects). An error
  // status only for a broken device (a kernel fault), never for a tactic that
  // merely returns an error: that one is rejected.
  Result<std::vector<TacticTiming>> time_step(size_t step, const std::vector<std::string>& tactics);
  // Runs the step once with this tactic (fresh per-step state) and waits for it.
  Status run_step(size_t step, const std::string& tactic);

 private:
  struct Impl;
  explicit TuningSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ingot::cuda
