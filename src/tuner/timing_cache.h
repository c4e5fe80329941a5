// The persistent timing cache (--timing-cache FILE): for every step signature
// the build-time tuner has timed, the tactic it chose and the timings behind the
// choice. A hit means the step is not timed again, so two builds that share a
// cache choose the same tactics and write byte-identical engines.
//
// The key names everything a choice depends on: the op and its attributes, the
// dtypes and shapes of the step's inputs and outputs, the target GPU
// architecture, the cuBLASLt and cuDNN versions, TF32 and the workspace size.
// The file is JSON with keys sorted (stable diffs), loaded before the build,
// merged with whatever the file holds by then and written atomically after it.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/plan.h"
#include "ingot/status.h"

namespace ingot::tuner {

// What a tactic choice depends on besides the step itself.
struct TuningTarget {
  std::string arch;            // "sm_90"
  std::string cublas_version;  // "13.1.0"
  std::string cudnn_version;   // "9.19.0"
  bool allow_tf32 = false;
  bool exact_gelu = false;  // --exact-gelu: the tanh-gelu tactics are not candidates
  uint64_t workspace_bytes = 0;
};

// "gemm|<attrs_to_string>|in float16[32,768] float16[3072,768] -|out float16[32,3072]|sm_90|cublasLt 13.1.0|
//  cudnn 9.19.0|tf32 0|workspace 33554432" (and "|exact-gelu" with --exact-gelu). Tensor names and
//  storage do not matter.
std::string timing_key(const Plan& plan, size_t step, const TuningTarget& target);

struct TimingEntry {
  std::string tactic;          // the choice ("" = the family's default: nothing to choose)
  double median_ms = 0;        // of the choice; 0 when nothing was timed
  int candidates = 0;          // how many tactics the family offered
  int optimization_level = 0;  // of the build that timed it: a build at a higher level times again
  std::vector<std::pair<std::string, double>> timings;        // accepted tactics, list order
  std::vector<std::pair<std::string, std::string>> rejected;  // tactic, why
  bool operator==(const TimingEntry&) const = default;
};

class TimingCache {
 public:
  // Bumped when the key or entry format changes; entries of another version are ignored.
  // 2: conv gemm/ and gemm lt-tanh: tactics; 3: attention cudnn, conv im2col/, and every
  // candidate timed with its own workspace (older timings of cuDNN algorithms do not hold).
  static constexpr int kFormatVersion = 3;

  // A missing file is an empty cache; a malformed one is an error naming the file.
  static Result<TimingCache> load(const std::string& path);
  static Result<TimingCache> parse(const std::string& text, const std::string& origin);
  std::string serialize() const;
  // Writes the entries put() in this build over what the file holds now (another
  // build may have added entries meanwhile), atomically.
  Status save(const std::string& path) const;

  // The entry for key when it was timed at this optimization level or higher.
  const TimingEntry* find(const std::string& key, int optimization_level) const;
  void put(const std::string& key, TimingEntry entry);
  size_t size() const { return entries_.size(); }
  bool changed() const { return !changed_.empty(); }

 private:
  std::map<std::string, TimingEntry> entries_;
  std::set<std::string> changed_;
};

}  // namespace ingot::tuner
