// The Plan: what an engine file holds, in memory. The compiler produces it, the
// engine writer serializes it, the reader rebuilds it from untrusted bytes and
// the runtime executes it. It has no compiler dependency (Rule 1 of DESIGN.md).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"
#include "ir/ops.h"
#include "ir/source_info.h"

namespace ingot {

enum class TensorStorage : uint8_t {
  kArena = 0,     // activation arena; offset = byte offset in the arena
  kConstant = 1,  // constants section; offset = byte offset in the section
  kInput = 2,     // the bound user input; offset = input index
  kOutput = 3,    // the bound user output; offset = output index
};

struct PlanTensor {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  TensorStorage storage = TensorStorage::kArena;
  uint64_t offset = 0;
  uint64_t nbytes = 0;
  int64_t numel() const;
};

struct PlanStep {
  OpAttrs attrs;
  std::vector<int32_t> inputs;   // tensor ids; -1 = absent optional input
  std::vector<int32_t> outputs;  // tensor ids
  std::string tactic;            // backend kernel choice ("" = default)
  SourceInfo source;             // aten node(s) it came from
};

// Where an engine came from: enough to trace it back to its model and build.
struct BuildInfo {
  std::string ingot_version;
  std::string model_file;       // base name of the .pt2
  std::string model_hash;       // xxh3-128 of the .pt2 bytes, hex
  std::string torch_version;    // as recorded in the .pt2
  std::string ir_dialect;       // "TRAINING" or "ATEN"
  std::vector<std::pair<std::string, std::string>> options;  // build options, sorted by key
  std::string backend;          // "cpu" or "cuda"
  std::string target;           // "x86_64" or "sm_90"
  std::string cuda_version;     // "" for cpu engines
  std::string cublas_version;
  std::string cudnn_version;
};

struct PlanSymbol {
  std::string name;
  int64_t min = 0, max = 0;
};

struct Plan {
  BuildInfo build;
  std::vector<PlanTensor> tensors;
  std::vector<PlanStep> steps;
  std::vector<int32_t> inputs;   // tensor ids of user inputs, in model order
  std::vector<int32_t> outputs;  // tensor ids of user outputs, in model order
  std::vector<PlanSymbol> symbols;
  uint64_t arena_bytes = 0;      // activation arena size
  uint64_t workspace_bytes = 0;  // scratch needed by the largest step
  std::vector<uint8_t> constants;  // constants section, each tensor 256-byte aligned
};

inline constexpr uint64_t kConstantAlignment = 256;

// Structural checks shared by the writer (catch compiler bugs) and the reader
// (reject hostile files): ids in range, storage offsets inside their sections,
// nbytes == numel * dtype size, every step's arity and attributes valid.
Status validate_plan(const Plan& plan);

}  // namespace ingot
