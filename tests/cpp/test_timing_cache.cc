// Tests of the build-time tuner's logic without a GPU: timing-cache keys, the
// JSON file (round trip, merge on save, refusal of malformed files), the choice
// rule (fastest accepted, ties within 2% to the earlier tactic) and the tuning
// walk with a scripted timer: a cache hit is never timed, so a second build that
// shares the cache makes the same choices even when the timings would differ.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <unistd.h>

#include "engine/plan.h"
#include "tuner/timing_cache.h"
#include "tuner/tuner.h"

namespace ingot::tuner {
namespace {

namespace fs = std::filesystem;

int32_t add_tensor(Plan& p, const std::string& name, DType t, std::vector<int64_t> shape, TensorStorage storage) {
  PlanTensor pt;
  pt.name = name;
  pt.dtype = t;
  pt.shape = std::move(shape);
  pt.storage = storage;
  pt.nbytes = static_cast<uint64_t>(pt.numel()) * dtype_size(t);
  p.tensors.push_back(pt);
  return static_cast<int32_t>(p.tensors.size() - 1);
}

// x[32,768] -> gemm(w1) -> relu -> gemm(w2, same shapes as the first) -> y:
// steps 0 and 2 have the same signature, step 1 has nothing to tune.
Plan small_plan(DType t = DType::kFloat16) {
  Plan p;
  const int32_t x = add_tensor(p, "x", t, {32, 768}, TensorStorage::kInput);
  const int32_t w1 = add_tensor(p, "w1", t, {768, 768}, TensorStorage::kConstant);
  const int32_t w2 = add_tensor(p, "w2", t, {768, 768}, TensorStorage::kConstant);
  const int32_t h = add_tensor(p, "h", t, {32, 768}, TensorStorage::kArena);
  const int32_t r = add_tensor(p, "r", t, {32, 768}, TensorStorage::kArena);
  const int32_t y = add_tensor(p, "y", t, {32, 768}, TensorStorage::kOutput);
  GemmAttrs g;
  g.trans_b = true;
  UnaryAttrs relu;
  p.steps.push_back({g, {x, w1}, {h}, "", {}});
  p.steps.push_back({relu, {h}, {r}, "", {}});
  p.steps.push_back({g, {r, w2, -1}, {y}, "", {}});
  p.steps[2].inputs = {r, w2};
  p.inputs = {x};
  p.outputs = {y};
  return p;
}

TuningTarget h100() {
  TuningTarget t;
  t.arch = "sm_90";
  t.cublas_version = "13.1.0";
  t.cudnn_version = "9.19.0";
  t.workspace_bytes = 32 << 20;
  return t;
}

// A GPU stand-in: candidates and timings by step, a log of what was asked.
class ScriptedTimer : public StepTimer {
 public:
  std::map<size_t, std::vector<std::string>> offered;
  std::map<std::string, double> ms;             // tactic -> median
  std::map<std::string, std::string> rejects;   // tactic -> reason
  std::map<std::string, std::string> run_fails; // tactic -> error when run
  std::vector<size_t> timed_steps;
  std::vector<std::pair<size_t, std::string>> runs;

  std::vector<std::string> candidates(size_t step) override {
    auto it = offered.find(step);
    return it == offered.end() ? std::vector<std::string>{} : it->second;
  }
  Result<std::vector<cuda::TacticTiming>> time(size_t step, const std::vector<std::string>& tactics) override {
    timed_steps.push_back(step);
    std::vector<cuda::TacticTiming> out;
    for (const std::string& t : tactics) {
      cuda::TacticTiming r;
      r.tactic = t;
      if (rejects.count(t)) {
        r.rejection = rejects[t];
      } else {
        r.accepted = true;
        r.median_ms = ms.count(t) ? ms[t] : 1.0;
      }
      out.push_back(r);
    }
    return out;
  }
  Status run(size_t step, const std::string& tactic) override {
    runs.emplace_back(step, tactic);
    if (run_fails.count(tactic)) return unsupported(run_fails[tactic]);
    return {};
  }
};

std::vector<std::string> tactics_of(const Plan& p) {
  std::vector<std::string> t;
  for (const PlanStep& s : p.steps) t.push_back(s.tactic);
  return t;
}

fs::path temp_dir() { return fs::temp_directory_path() / ("ingot_timing_cache_test_" + std::to_string(::getpid())); }

// Removes this run's temporary folder when the tests end.
class TempDirCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(temp_dir(), ignored);
  }
};
[[maybe_unused]] ::testing::Environment* const kCleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

fs::path temp_file(const std::string& name) {
  fs::path dir = temp_dir();
  fs::create_directories(dir);
  fs::path p = dir / name;
  fs::remove(p);
  return p;
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

// ------------------------------------------------------------------ keys

TEST(TimingKey, NamesEverythingTheChoiceDependsOn) {
  const Plan p = small_plan();
  const TuningTarget t = h100();
  const std::string key = timing_key(p, 0, t);
  // Steps 0 and 2 differ only in tensor names and storage: same key.
  EXPECT_EQ(key, timing_key(p, 2, t));
  EXPECT_NE(key, timing_key(p, 1, t));
  EXPECT_NE(key.find("gemm"), std::string::npos) << key;
  EXPECT_NE(key.find("float16[32,768]"), std::string::npos) << key;
  EXPECT_NE(key.find("sm_90"), std::string::npos) << key;

  auto differs = [&](auto change) {
    TuningTarget t2 = t;
    Plan p2 = p;
    change(p2, t2);
    return timing_key(p2, 0, t2) != key;
  };
  EXPECT_TRUE(differs([](Plan&, TuningTarget& x) { x.arch = "sm_80"; }));
  EXPECT_TRUE(differs([](Plan&, TuningTarget& x) { x.cublas_version = "13.0.0"; }));
  EXPECT_TRUE(differs([](Plan&, TuningTarget& x) { x.cudnn_version = "9.10.0"; }));
  EXPECT_TRUE(differs([](Plan&, TuningTarget& x) { x.allow_tf32 = true; }));
  EXPECT_TRUE(differs([](Plan&, TuningTarget& x) { x.exact_gelu = true; }));
  EXPECT_TRUE(differs([](Plan&, TuningTarget& x) { x.workspace_bytes = 1 << 20; }));
  EXPECT_TRUE(differs([](Plan& q, TuningTarget&) { q.tensors[0].shape = {64, 768}; }));
  EXPECT_TRUE(differs([](Plan& q, TuningTarget&) { q.tensors[0].dtype = DType::kBFloat16; }));
  EXPECT_TRUE(differs([](Plan& q, TuningTarget&) { std::get<GemmAttrs>(q.steps[0].attrs).activation = 0; }));
  // Names and storage do not matter.
  EXPECT_FALSE(differs([](Plan& q, TuningTarget&) { q.tensors[0].name = "other"; }));
}

// ------------------------------------------------------------------ the file

TimingEntry sample_entry() {
  TimingEntry e;
  e.tactic = "lt:2";
  e.median_ms = 0.041;
  e.candidates = 3;
  e.optimization_level = 3;
  e.timings = {{"lt:0", 0.05}, {"lt:2", 0.041}};
  e.rejected = {{"lt:1", "relative error 3.0e-01 > 1.0e-02 in output 0"}};
  return e;
}

TEST(TimingCacheFile, RoundTripsEntries) {
  TimingCache c;
  c.put("k1", sample_entry());
  TimingEntry other;
  other.candidates = 1;
  other.optimization_level = 3;
  c.put("k0 with \"quotes\" and | bars", other);
  const std::string text = c.serialize();
  Result<TimingCache> back = TimingCache::parse(text, "mem");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_EQ(back->size(), 2u);
  ASSERT_NE(back->find("k1", 3), nullptr);
  EXPECT_EQ(*back->find("k1", 3), sample_entry());
  ASSERT_NE(back->find("k0 with \"quotes\" and | bars", 0), nullptr);
  EXPECT_EQ(back->find("k0 with \"quotes\" and | bars", 0)->tactic, "");
  // Stable: serializing again gives the same text.
  EXPECT_EQ(back->serialize(), text);
}

TEST(TimingCacheFile, HitsNeedTheSameOrHigherLevel) {
  TimingCache c;
  c.put("k", sample_entry());  // level 3
  EXPECT_NE(c.find("k", 2), nullptr);
  EXPECT_NE(c.find("k", 3), nullptr);
  EXPECT_EQ(c.find("k", 4), nullptr);
  EXPECT_EQ(c.find("missing", 0), nullptr);
}

TEST(TimingCacheFile, MissingFileIsEmptyAndMalformedFilesAreRefused) {
  const fs::path p = temp_file("missing.json");
  Result<TimingCache> empty = TimingCache::load(p.string());
  ASSERT_TRUE(empty.ok()) << empty.status().to_string();
  EXPECT_EQ(empty->size(), 0u);

  const std::string current = "{\"format\": \"ingot-timing-cache\", \"version\": " +
                              std::to_string(TimingCache::kFormatVersion) + ", ";
  for (const std::string& text : {std::string("{not json"), std::string("[1,2]"), std::string("{\"format\": \"x\"}"),
                                 current + "\"entries\": 3}",
                                 current + "\"entries\": {\"k\": {\"no_tactic\": 1}}}"}) {
    const fs::path bad = temp_file("bad.json");
    write_text(bad, text);
    Result<TimingCache> r = TimingCache::load(bad.string());
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find(bad.string()), std::string::npos) << r.status().message();
  }
  // Another format version: its entries are ignored, not an error.
  const fs::path old = temp_file("old.json");
  write_text(old, "{\"format\": \"ingot-timing-cache\", \"version\": 999, \"entries\": {\"k\": {\"tactic\": \"x\"}}}");
  Result<TimingCache> r = TimingCache::load(old.string());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->size(), 0u);
}

TEST(TimingCacheFile, SaveMergesWithWhatTheFileHoldsNow) {
  const fs::path p = temp_file("merge.json");
  // Two builds load the (missing) cache, each times a different step.
  TimingCache a, b;
  a.put("from_a", sample_entry());
  TimingEntry eb = sample_entry();
  eb.tactic = "lt:0";
  b.put("from_b", eb);
  ASSERT_TRUE(a.save(p.string()).ok());
  ASSERT_TRUE(b.save(p.string()).ok());
  Result<TimingCache> merged = TimingCache::load(p.string());
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  ASSERT_NE(merged->find("from_a", 0), nullptr);
  ASSERT_NE(merged->find("from_b", 0), nullptr);
  EXPECT_EQ(merged->find("from_a", 0)->tactic, "lt:2");
  EXPECT_EQ(merged->find("from_b", 0)->tactic, "lt:0");
  // A build that retimes a key overwrites it; entries it only read stay as on disk.
  TimingCache c = merged.value();
  TimingEntry ec = sample_entry();
  ec.tactic = "lt:7";
  c.put("from_a", ec);
  ASSERT_TRUE(c.save(p.string()).ok());
  Result<TimingCache> again = TimingCache::load(p.string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->find("from_a", 0)->tactic, "lt:7");
  EXPECT_EQ(again->find("from_b", 0)->tactic, "lt:0");
  EXPECT_EQ(again->size(), 2u);
  // No temporary files left next to it.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(p.parent_path()))
    files += entry.path().filename().string().find(".tmp") != std::string::npos;
  EXPECT_EQ(files, 0);
}

// ------------------------------------------------------------------ the choice rule

cuda::TacticTiming timing(const std::string& t, double ms, bool ok = true) {
  cuda::TacticTiming r;
  r.tactic = t;
  r.accepted = ok;
  r.median_ms = ms;
  if (!ok) r.rejection = "error: no";
  return r;
}

TEST(ChooseTactic, FastestAcceptedWithTiesToTheEarlierTactic) {
  EXPECT_EQ(choose_tactic({timing("a", 1.0), timing("b", 0.5), timing("c", 0.7)}), 1);
  // c is within 2% of the fastest (b) and comes earlier in the list: c wins the tie.
  EXPECT_EQ(choose_tactic({timing("a", 1.0), timing("c", 0.505), timing("b", 0.5)}), 1);
  // 3% slower is not a tie.
  EXPECT_EQ(choose_tactic({timing("a", 0.515), timing("b", 0.5)}), 1);
  // Within 2% of the fastest: the first in list order.
  EXPECT_EQ(choose_tactic({timing("a", 0.509), timing("b", 0.5)}), 0);
  // Rejected tactics never win, however fast.
  EXPECT_EQ(choose_tactic({timing("a", 1.0), timing("b", 0.1, false)}), 0);
  EXPECT_EQ(choose_tactic({timing("a", 1.0, false), timing("b", 0.1, false)}), -1);
  EXPECT_EQ(choose_tactic({}), -1);
}

TEST(TuningEffortByLevel, OffBelowTwoAndGrowingAbove) {
  EXPECT_FALSE(effort_for_level(0).tune);
  EXPECT_FALSE(effort_for_level(1).tune);
  for (int level = 2; level <= 5; ++level) EXPECT_TRUE(effort_for_level(level).tune) << level;
  for (int level = 3; level <= 5; ++level)
    EXPECT_GE(effort_for_level(level).iterations, effort_for_level(level - 1).iterations) << level;
  EXPECT_EQ(effort_for_level(4).max_candidates, 0u);  // every candidate
  EXPECT_GT(effort_for_level(2).max_candidates, 1u);
}

// ------------------------------------------------------------------ the tuning walk

TEST(TuneSteps, TimesOncePerSignatureAndRunsEveryStepInOrder) {
  Plan p = small_plan();
  ScriptedTimer timer;
  timer.offered = {{0, {"lt:0", "lt:1", "lt:2"}}, {2, {"lt:0", "lt:1", "lt:2"}}};
  timer.ms = {{"lt:0", 0.05}, {"lt:1", 0.03}, {"lt:2", 0.04}};
  TimingCache cache;
  std::vector<std::string> lines;
  Result<TuningReport> r = tune_steps(p, h100(), 3, cache, &timer, [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(tactics_of(p), (std::vector<std::string>{"lt:1", "", "lt:1"}));
  // Step 2 has step 0's signature: taken from the cache, not timed.
  EXPECT_EQ(timer.timed_steps, (std::vector<size_t>{0}));
  EXPECT_EQ(r->timed, 1u);
  EXPECT_EQ(r->from_cache, 1u);
  EXPECT_EQ(timer.runs, (std::vector<std::pair<size_t, std::string>>{{0, "lt:1"}, {1, ""}, {2, "lt:1"}}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("tuning step 0/3 gemm [32x768x768]: 3 candidates, lt:1 0.030 ms"), std::string::npos)
      << lines[0];
}

TEST(TuneSteps, ASharedCacheGivesTheSameChoicesWithoutTiming) {
  Plan first = small_plan();
  ScriptedTimer t1;
  t1.offered = {{0, {"a", "b", "c"}}, {2, {"a", "b", "c"}}};
  t1.ms = {{"a", 0.05}, {"b", 0.03}, {"c", 0.04}};
  TimingCache cache;
  ASSERT_TRUE(tune_steps(first, h100(), 3, cache, &t1, nullptr).ok());

  // The second build reads the file the first wrote; its GPU would now prefer c.
  Result<TimingCache> reloaded = TimingCache::parse(cache.serialize(), "mem");
  ASSERT_TRUE(reloaded.ok());
  Plan second = small_plan();
  ScriptedTimer t2;
  t2.offered = t1.offered;
  t2.ms = {{"a", 0.05}, {"b", 0.09}, {"c", 0.01}};
  Result<TuningReport> r = tune_steps(second, h100(), 3, reloaded.value(), &t2, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(t2.timed_steps.empty());
  EXPECT_EQ(tactics_of(second), tactics_of(first));
  EXPECT_EQ(r->timed, 0u);
  EXPECT_FALSE(reloaded->changed());

  // Without a GPU the cached choices still apply.
  Plan third = small_plan();
  Result<TimingCache> again = TimingCache::parse(cache.serialize(), "mem");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(tune_steps(third, h100(), 3, again.value(), nullptr, nullptr).ok());
  EXPECT_EQ(tactics_of(third), tactics_of(first));

  // A higher optimization level times again.
  Plan fourth = small_plan();
  ScriptedTimer t4 = t2;
  Result<TimingCache> c4 = TimingCache::parse(cache.serialize(), "mem");
  ASSERT_TRUE(tune_steps(fourth, h100(), 4, c4.value(), &t4, nullptr).ok());
  EXPECT_EQ(t4.timed_steps, (std::vector<size_t>{0}));
  EXPECT_EQ(tactics_of(fourth), (std::vector<std::string>{"c", "", "c"}));

  // Another GPU architecture: no hits.
  Plan fifth = small_plan();
  TuningTarget a100 = h100();
  a100.arch = "sm_80";
  Result<TimingCache> c5 = TimingCache::parse(cache.serialize(), "mem");
  ASSERT_TRUE(tune_steps(fifth, a100, 3, c5.value(), nullptr, nullptr).ok());
  EXPECT_EQ(tactics_of(fifth), (std::vector<std::string>{"", "", ""}));
}

TEST(TuneSteps, LevelsZeroAndOneTuneNothing) {
  for (int level : {0, 1}) {
    Plan p = small_plan();
    ScriptedTimer t;
    t.offered = {{0, {"a", "b"}}};
    TimingCache cache;
    ASSERT_TRUE(tune_steps(p, h100(), level, cache, &t, nullptr).ok());
    EXPECT_TRUE(t.timed_steps.empty());
    EXPECT_TRUE(t.runs.empty());
    EXPECT_EQ(tactics_of(p), (std::vector<std::string>{"", "", ""}));
    EXPECT_FALSE(cache.changed());
  }
}

TEST(TuneSteps, RejectedCandidatesLoseAndAllRejectedKeepsTheDefaultUncached) {
  Plan p = small_plan();
  ScriptedTimer t;
  t.offered = {{0, {"a", "b", "c"}}, {2, {"a", "b", "c"}}};
  t.ms = {{"a", 0.05}, {"b", 0.01}, {"c", 0.04}};
  t.rejects = {{"b", "relative error 1.0e+00 > 1.0e-02 in output 0"}};
  TimingCache cache;
  ASSERT_TRUE(tune_steps(p, h100(), 3, cache, &t, nullptr).ok());
  EXPECT_EQ(p.steps[0].tactic, "c");
  const TimingEntry* e = cache.find(timing_key(p, 0, h100()), 3);
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->rejected.size(), 1u);
  EXPECT_EQ(e->rejected[0].first, "b");

  Plan q = small_plan();
  ScriptedTimer all_bad;
  all_bad.offered = t.offered;
  all_bad.rejects = {{"a", "error: x"}, {"b", "error: y"}, {"c", "error: z"}};
  TimingCache c2;
  std::vector<std::string> lines;
  ASSERT_TRUE(tune_steps(q, h100(), 3, c2, &all_bad, [&](const std::string& l) { lines.push_back(l); }).ok());
  EXPECT_EQ(tactics_of(q), (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(c2.find(timing_key(q, 0, h100()), 0), nullptr);
  // Not cached, so step 2 is timed too.
  EXPECT_EQ(all_bad.timed_steps, (std::vector<size_t>{0, 2}));
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("none accepted"), std::string::npos) << lines[0];
}

TEST(TuneSteps, AStaleCachedTacticIsTimedAgain) {
  Plan p = small_plan();
  TimingCache cache;
  TimingEntry stale;
  stale.tactic = "gone";
  stale.candidates = 2;
  stale.optimization_level = 3;
  cache.put(timing_key(p, 0, h100()), stale);
  ScriptedTimer t;
  t.offered = {{0, {"a", "b"}}, {2, {"a", "b"}}};
  t.ms = {{"a", 0.02}, {"b", 0.03}};
  t.run_fails = {{"gone", "unknown gemm tactic 'gone'"}};
  ASSERT_TRUE(tune_steps(p, h100(), 3, cache, &t, nullptr).ok());
  EXPECT_EQ(tactics_of(p), (std::vector<std::string>{"a", "", "a"}));
  EXPECT_EQ(cache.find(timing_key(p, 0, h100()), 3)->tactic, "a");
}

TEST(TuneSteps, CandidatesAreCappedByLevel) {
  Plan p = small_plan();
  ScriptedTimer t;
  t.offered = {{0, {"a", "b", "c", "d", "e", "f"}}};
  t.ms = {{"a", 0.05}, {"b", 0.05}, {"c", 0.05}, {"d", 0.05}, {"e", 0.01}, {"f", 0.05}};
  TimingCache cache;
  ASSERT_TRUE(tune_steps(p, h100(), 2, cache, &t, nullptr).ok());  // level 2: the first 4
  EXPECT_EQ(p.steps[0].tactic, "a");
  Plan q = small_plan();
  TimingCache c5;
  ASSERT_TRUE(tune_steps(q, h100(), 5, c5, &t, nullptr).ok());  // level 5: all
  EXPECT_EQ(q.steps[0].tactic, "e");
}

TEST(TuneSteps, ExactGeluDropsTheTanhGeluTactics) {
  ScriptedTimer t;
  t.offered = {{0, {"lt:0", "lt-tanh:0", "lt:1", "lt-tanh:1"}}, {1, {"algo:1", "gemm/lt-tanh:0", "gemm/lt:0"}}};
  t.ms = {{"lt:0", 0.05}, {"lt-tanh:0", 0.01}, {"lt:1", 0.04}, {"lt-tanh:1", 0.02},
          {"algo:1", 0.05}, {"gemm/lt-tanh:0", 0.01}, {"gemm/lt:0", 0.03}};
  Plan approx = small_plan();
  TimingCache c1;
  ASSERT_TRUE(tune_steps(approx, h100(), 3, c1, &t, nullptr).ok());
  EXPECT_EQ(approx.steps[0].tactic, "lt-tanh:0");
  EXPECT_EQ(approx.steps[1].tactic, "gemm/lt-tanh:0");
  Plan exact = small_plan();
  TuningTarget target = h100();
  target.exact_gelu = true;
  TimingCache c2;
  ASSERT_TRUE(tune_steps(exact, target, 3, c2, &t, nullptr).ok());
  EXPECT_EQ(exact.steps[0].tactic, "lt:1");
  EXPECT_EQ(exact.steps[1].tactic, "gemm/lt:0");
}

TEST(TuneSteps, ARunFailureIsAnError) {
  Plan p = small_plan();
  ScriptedTimer t;
  t.run_fails = {{"", "kernel refused"}};
  TimingCache cache;
  Result<TuningReport> r = tune_steps(p, h100(), 3, cache, &t, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("kernel refused"), std::string::npos) << r.status().message();
}

TEST(BuildRecord, TimingCachePathIsNotRecorded) {
  BuildOptions a, b;
  a.timing_cache = "/some/where/cache.json";
  b.timing_cache = "";
  EXPECT_EQ(a.to_record(), b.to_record());
  bool level = false;
  for (const auto& [k, v] : a.to_record()) {
    EXPECT_NE(k, "timing_cache");
    level |= k == "optimization_level" && v == "3";
  }
  EXPECT_TRUE(level);
}

}  // namespace
}  // namespace ingot::tuner
