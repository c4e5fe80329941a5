// The build-time tuner (see tuner.h): walks a CUDA plan's steps in order, takes
// each step's tactic from the timing cache or times the candidates on the GPU,
// and runs every step once so that the next step is timed on the values the
// plan really computes (the arena reuses memory, so a step's inputs only exist
// between their producer and their last consumer: tuning happens in that window).
#include "tuner/tuner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#ifdef INGOT_WITH_CUDA
#include "backends/cuda/cuda_query.h"
#endif

namespace ingot::tuner {

namespace {

std::string dims(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s.empty() ? "scalar" : s;
}

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", ms);
  return buf;
}

const PlanTensor* tensor(const Plan& plan, const PlanStep& step, bool input, size_t i) {
  const std::vector<int32_t>& ids = input ? step.inputs : step.outputs;
  if (i >= ids.size() || ids[i] < 0) return nullptr;
  return &plan.tensors[static_cast<size_t>(ids[i])];
}

}  // namespace

TuningEffort effort_for_level(int level) {
  TuningEffort e;
  if (level <= 1) {
    e.tune = false;
  } else if (level == 2) {
    e.warmup = 1;
    e.iterations = 5;
    e.max_candidates = 4;
  } else if (level == 3) {
    e.warmup = 3;
    e.iterations = 15;
    e.max_candidates = 8;
  } else if (level == 4) {
    e.warmup = 5;
    e.iterations = 30;
    e.max_candidates = 0;
  } else {
    e.warmup = 10;
    e.iterations = 60;
    e.max_candidates = 0;
  }
  return e;
}

int choose_tactic(const std::vector<cuda::TacticTiming>& timings) {
  double best = -1;
  for (const cuda::TacticTiming& t : timings)
    if (t.accepted && (best < 0 || t.median_ms < best)) best = t.median_ms;
  if (best < 0) return -1;
  for (size_t i = 0; i < timings.size(); ++i)
    if (timings[i].accepted && timings[i].median_ms <= best * 1.02) return static_cast<int>(i);
  return -1;  // unreachable: the fastest itself qualifies
}

std::string describe_step(const Plan& plan, size_t s) {
  const PlanStep& step = plan.steps[s];
  const OpKind kind = op_kind(step.attrs);
  std::string text = op_name(kind);
  const PlanTensor* a = tensor(plan, step, true, 0);
  const PlanTensor* out = tensor(plan, step, false, 0);
  if (!out) return text;
  if ((kind == OpKind::kGemm || kind == OpKind::kMatMul) && a && !a->shape.empty() && !out->shape.empty()) {
    const int64_t k = a->shape.back(), n = out->shape.back();
    const int64_t m = n == 0 ? 0 : out->numel() / n;
    return text + " [" + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + "]";
  }
  if (a && (kind == OpKind::kConv || kind == OpKind::kAttention))
    return text + " [" + dims(a->shape) + " -> " + dims(out->shape) + "]";
  return text + " [" + dims(out->shape) + "]";
}

Result<TuningReport> tune_steps(Plan& plan, const TuningTarget& target, int optimization_level, TimingCache& cache,
                                StepTimer* timer, const Progress& progress) {
  TuningReport report;
  const TuningEffort effort = effort_for_level(optimization_level);
  if (!effort.tune) return report;
  const auto start = std::chrono::steady_clock::now();
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  const size_t n = plan.steps.size();
  for (size_t s = 0; s < n; ++s) {
    const std::string key = timing_key(plan, s, target);
    const std::string where = "step " + std::to_string(s) + "/" + std::to_string(n) + " " + describe_step(plan, s);

    if (const TimingEntry* hit = cache.find(key, optimization_level)) {
      const TimingEntry entry = *hit;  // put() below may move the map's node
      Status ran = timer ? timer->run(s, entry.tactic) : Status::ok_status();
      if (ran.code() == StatusCode::kDeviceError) return ran;
      if (ran.ok()) {
        plan.steps[s].tactic = entry.tactic;
        if (entry.candidates > 1 || !entry.tactic.empty()) {
          report.choices.push_back({s, entry.tactic, entry.median_ms, entry.candidates, true});
          ++report.from_cache;
        }
        continue;
      }
      // A cached tactic this build's kernels no longer accept: time the step again.
      say("timing cache: " + where + ": cached tactic '" + entry.tactic + "' fails (" + ran.message() +
          "); timing again");
    }
    if (!timer) {
      plan.steps[s].tactic.clear();
      ++report.untuned;
      continue;
    }

    std::vector<std::string> candidates = timer->candidates(s);
    if (target.exact_gelu)
      std::erase_if(candidates, [](const std::string& t) { return t.find("lt-tanh:") != std::string::npos; });
    const int offered = static_cast<int>(candidates.size());
    if (effort.max_candidates && candidates.size() > effort.max_candidates) candidates.resize(effort.max_candidates);
    std::string tactic;
    if (candidates.size() > 1) {
      Result<std::vector<cuda::TacticTiming>> timings = timer->time(s, candidates);
      if (!timings.ok()) return timings.status().with_context("tuning " + where);
      TimingEntry entry;
      entry.candidates = static_cast<int>(candidates.size());
      entry.optimization_level = optimization_level;
      for (const cuda::TacticTiming& t : timings.value()) {
        if (t.accepted) entry.timings.emplace_back(t.tactic, t.median_ms);
        else entry.rejected.emplace_back(t.tactic, t.rejection);
      }
      const int chosen = choose_tactic(timings.value());
      std::string line = "tuning " + where + ": " + std::to_string(candidates.size()) + " candidates";
      if (offered > static_cast<int>(candidates.size())) line += " (of " + std::to_string(offered) + ")";
      if (chosen >= 0) {
        const cuda::TacticTiming& best = timings.value()[static_cast<size_t>(chosen)];
        tactic = best.tactic;
        entry.tactic = tactic;
        entry.median_ms = best.median_ms;
        line += ", " + tactic + " " + format_ms(best.median_ms);
        cache.put(key, entry);
        report.choices.push_back({s, tactic, best.median_ms, entry.candidates, false});
      } else {
        // Not cached: a family whose every tactic fails is a bug to fix, not a result to keep.
        line += ", none accepted; keeping the default";
        if (!entry.rejected.empty()) line += " (first: " + entry.rejected.front().second + ")";
      }
      if (!entry.rejected.empty() && chosen >= 0) line += ", " + std::to_string(entry.rejected.size()) + " rejected";
      say(line);
      ++report.timed;
    } else {
      // Nothing to choose: cached as such, so a rebuild needs no GPU work for it.
      TimingEntry entry;
      entry.candidates = offered;
      entry.optimization_level = optimization_level;
      cache.put(key, entry);
    }
    Status ran = timer->run(s, tactic);
    if (!ran.ok()) return ran.with_context("running " + where + " with tactic '" + tactic + "' while tuning");
    plan.steps[s].tactic = tactic;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

#ifdef INGOT_WITH_CUDA
namespace {

class GpuTimer final : public StepTimer {
 public:
  explicit GpuTimer(std::unique_ptr<cuda::TuningSession> session) : session_(std::move(session)) {}
  std::vector<std::string> candidates(size_t step) override { return session_->candidates(step); }
  Result<std::vector<cuda::TacticTiming>> time(size_t step, const std::vector<std::string>& tactics) override {
    return session_->time_step(step, tactics);
  }
  Status run(size_t step, const std::string& tactic) override { return session_->run_step(step, tactic); }

 private:
  std::unique_ptr<cuda::TuningSession> session_;
};

std::string mib(uint64_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace
#endif

Status tune_plan(Plan& plan, const BuildOptions& options) {
  if (options.backend != "cuda") return Status::ok_status();
#ifdef INGOT_WITH_CUDA
  auto note = [&](const std::string& line) {
    if (options.progress) options.progress("  " + line);
  };
  // The workspace the engine's steps get: what the backend asks for, capped by
  // the user's limit. Each candidate is timed with the scratch its own tactic
  // asks for, within this much (the engine gives its step the same), so one
  // that needs more fails and is rejected.
  const uint64_t wanted = cuda::tuning_workspace_bytes(plan, options.allow_tf32);
  plan.workspace_bytes = options.workspace_limit ? std::min<uint64_t>(wanted, options.workspace_limit) : wanted;
  if (options.workspace_limit && wanted > options.workspace_limit)
    note("workspace limited to " + std::to_string(plan.workspace_bytes) + " bytes (kernels ask for " +
         mib(wanted) + ")");

  const TuningEffort effort = effort_for_level(options.optimization_level);
  if (!effort.tune) {
    note("kernel tuning is off at optimization level " + std::to_string(options.optimization_level) +
         ": every step uses its default kernel");
    const uint64_t needed = cuda::default_workspace_bytes(plan, options.allow_tf32);
    plan.workspace_bytes = options.workspace_limit ? std::min<uint64_t>(needed, options.workspace_limit) : needed;
    return Status::ok_status();
  }
  TuningTarget target;
  target.arch = plan.build.target;
  target.cublas_version = plan.build.cublas_version;
  target.cudnn_version = plan.build.cudnn_version;
  target.allow_tf32 = options.allow_tf32;
  target.exact_gelu = options.exact_gelu;
  target.workspace_bytes = plan.workspace_bytes;

  TimingCache cache;
  if (!options.timing_cache.empty()) {
    INGOT_ASSIGN_OR_RETURN(cache, TimingCache::load(options.timing_cache));
    note("timing cache '" + options.timing_cache + "': " + std::to_string(cache.size()) + " entries");
  }

  std::unique_ptr<StepTimer> timer;
  Result<std::string> arch = cuda::current_arch();
  if (!arch.ok()) {
    note("no usable GPU here (" + arch.status().message() +
         "): kernel tuning skipped; steps not in the timing cache use their default kernel");
  } else if (arch.value() != plan.build.target) {
    note("this GPU is " + arch.value() + " but the target is " + plan.build.target +
         ": kernel tuning skipped; steps not in the timing cache use their default kernel");
  } else {
    cuda::TuningSettings settings;
    settings.warmup = effort.warmup;
    settings.iterations = effort.iterations;
    settings.allow_tf32 = options.allow_tf32;
    settings.workspace_bytes = plan.workspace_bytes;
    Result<std::unique_ptr<cuda::TuningSession>> session = cuda::TuningSession::create(plan, settings);
    if (session.ok())
      timer = std::make_unique<GpuTimer>(std::move(session.value()));
    else
      note("cannot tune on this GPU (" + session.status().message() +
           "): steps not in the timing cache use their default kernel");
  }

  const bool timer_available = timer != nullptr;
  Result<TuningReport> report = tune_steps(plan, target, options.optimization_level, cache, timer.get(), note);
  timer.reset();  // frees the GPU memory before the cache is written
  if (!report.ok())
    return report.status().with_context("kernel tuning (--optimization-level 1 builds without it)");
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f s", report->seconds);
  if (timer_available)
    note("kernel choices: " + std::to_string(report->choices.size()) + " steps with several candidates, " +
         std::to_string(report->timed) + " timed, " + std::to_string(report->from_cache) + " from the timing cache (" +
         secs + ")");
  else
    note("kernel choices: " + std::to_string(report->from_cache) + " steps from the timing cache; " +
         std::to_string(report->untuned) + " steps not in it keep their default kernel");
  if (!options.timing_cache.empty() && cache.changed()) INGOT_RETURN_IF_ERROR(cache.save(options.timing_cache));
  // The engine keeps only the scratch its chosen kernels need (never above the limit).
  const uint64_t chosen = cuda::default_workspace_bytes(plan, options.allow_tf32);
  plan.workspace_bytes = std::max<uint64_t>(std::min<uint64_t>(chosen, plan.workspace_bytes), 256);
  return Status::ok_status();
#else
  (void)plan;
  return unsupported("backend cuda needs an ingot built with CUDA");
#endif
}

}  // namespace ingot::tuner
