// The ingot compiler API: check a .pt2 for unsupported operators, build an engine.
// Used by the `ingot` command and the Python package. Links the frontend (JSON,
// zip) and the optimizer; deployments need only ingot/ingot.h and the runtime.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ingot/status.h"

namespace ingot {

struct BuildOptions {
  std::string backend = "cpu";        // "cpu" or "cuda"
  std::string precision = "fp32";     // "fp32", "fp16", "bf16"
  bool allow_tf32 = false;
  // fp16/bf16 cuda engines may run an exact (erf) gelu after a GEMM as cuBLASLt's
  // fused tanh-approximated epilogue when the tuner finds it faster (at most
  // 4.7e-4 apart); true keeps the erf formula everywhere.
  bool exact_gelu = false;
  int optimization_level = 3;         // 0 (fastest build) .. 5
  std::string timing_cache;           // path; "" = none
  uint64_t workspace_limit = 0;       // bytes; 0 = no limit
  std::string cuda_arch;              // "sm_90"; "" = the current GPU, else sm_90
  // Shapes for user inputs by name, for a model exported with dynamic dims
  // (torch.export.Dim): the engine is built at these sizes instead of the example
  // inputs'. Static dims must match; dynamic ones must lie in the exported range.
  std::map<std::string, std::vector<int64_t>> input_shapes;
  // Optimizer passes to skip, by name (docs/optimizer.md lists them), to compare
  // engines or find the pass that changed an output; recorded in the engine.
  std::vector<std::string> disabled_passes;
  // Called with short progress lines ("[3/5] folding constants").
  std::function<void(const std::string&)> progress;
  // Canonical "key=value" list recorded in the engine (sorted; excludes progress).
  std::vector<std::pair<std::string, std::string>> to_record() const;
};

struct UnsupportedOp {
  std::string target;     // "aten.foo.default"
  std::string node_name;  // first node seen
  std::string location;   // user's "file.py:42"
  std::string code;       // the source line
  std::string reason;     // "no converter" or the converter's message
  int count = 0;          // how many nodes with this target and reason
};

struct SupportReport {
  std::string model_file;
  size_t num_nodes = 0;
  std::map<std::string, int> op_counts;   // aten target -> count
  std::vector<UnsupportedOp> unsupported; // every one, in graph order of first appearance
  bool ok() const { return unsupported.empty(); }
  // The text `ingot check` prints.
  std::string to_string() const;
};

// Reads the archive and tries to convert every node, never stopping at the first problem.
Result<SupportReport> check_model(const std::string& pt2_path);
// Builds the engine bytes; a model with unsupported operators fails with kUnsupported
// whose message is the full report.
Result<std::vector<uint8_t>> build_engine(const std::string& pt2_path, const BuildOptions& options);
// Builds and writes atomically (temporary file + rename): no half-written output.
Status build_engine_file(const std::string& pt2_path, const std::string& engine_path, const BuildOptions& options);
// Whether the engine records exactly this model (content hash of the archive).
struct VerifyResult { bool match = false; std::string engine_hash, model_hash, message; };
Result<VerifyResult> verify_engine_model(const std::string& engine_path, const std::string& pt2_path);
// The inspector's JSON for an engine (IO, steps with sources, memory, provenance).
Result<std::string> inspect_engine_json(const std::string& engine_path);

// Writes bytes to path atomically (temporary file in the same folder, then rename).
Status write_file_atomic(const std::string& path, const void* data, size_t size);

}  // namespace ingot
