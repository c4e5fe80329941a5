// The engine inspector: everything an engine holds, as JSON (provenance, build
// options, IO signature, memory, and each step with its kernel, attributes,
// tensors, its tuned tactic and the user's source node), and the kernel choices
// made at build time. `ingot inspect` renders its table from this same JSON.
// Keys keep the plan's order so the output is deterministic.
#include <nlohmann/json.hpp>

#include <map>

#include "compiler/file_io.h"
#include "engine/engine_format.h"
#include "ingot/compiler.h"

namespace ingot {

namespace {

using nlohmann::ordered_json;

const char* storage_name(TensorStorage s) {
  switch (s) {
    case TensorStorage::kArena: return "arena";
    case TensorStorage::kConstant: return "constant";
    case TensorStorage::kInput: return "input";
    case TensorStorage::kOutput: return "output";
  }
  return "unknown";
}

ordered_json tensor_json(const Plan& plan, int32_t id, bool with_storage) {
  if (id < 0) return nullptr;  // an absent optional input
  const PlanTensor& t = plan.tensors[static_cast<size_t>(id)];
  ordered_json j;
  j["name"] = t.name;
  j["dtype"] = dtype_name(t.dtype);
  j["shape"] = t.shape;
  if (with_storage) {
    j["storage"] = storage_name(t.storage);
    j["offset"] = t.offset;
    j["bytes"] = t.nbytes;
  }
  return j;
}

}  // namespace

Result<std::string> inspect_engine_json(const std::string& engine_path) {
  INGOT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file_bytes(engine_path));
  Result<EngineHeader> header = read_engine_header(bytes.data(), bytes.size());
  if (!header.ok()) return header.status().with_context("engine '" + engine_path + "'");
  Result<Plan> parsed = deserialize_plan(bytes.data(), bytes.size());
  if (!parsed.ok()) return parsed.status().with_context("engine '" + engine_path + "'");
  const Plan& plan = parsed.value();
  const BuildInfo& b = plan.build;

  ordered_json j;
  j["format_version"] = std::to_string(header->format_major) + "." + std::to_string(header->format_minor);
  ordered_json prov;
  prov["ingot_version"] = b.ingot_version;
  prov["model_file"] = b.model_file;
  prov["model_hash"] = b.model_hash;
  prov["torch_version"] = b.torch_version;
  prov["ir_dialect"] = b.ir_dialect;
  prov["backend"] = b.backend;
  prov["target"] = b.target;
  prov["cuda_version"] = b.cuda_version;
  prov["cublas_version"] = b.cublas_version;
  prov["cudnn_version"] = b.cudnn_version;
  ordered_json options = ordered_json::object();
  for (const auto& [k, v] : b.options) options[k] = v;
  prov["build_options"] = options;
  j["provenance"] = prov;

  j["inputs"] = ordered_json::array();
  for (int32_t id : plan.inputs) j["inputs"].push_back(tensor_json(plan, id, false));
  j["outputs"] = ordered_json::array();
  for (int32_t id : plan.outputs) j["outputs"].push_back(tensor_json(plan, id, false));
  if (!plan.symbols.empty()) {
    ordered_json syms = ordered_json::array();
    for (const PlanSymbol& s : plan.symbols) syms.push_back({{"name", s.name}, {"min", s.min}, {"max", s.max}});
    j["symbols"] = syms;
  }

  // Activations share one arena by lifetime; "unpacked" is what they would
  // take each in their own buffer, so the packing's saving is visible.
  uint64_t activations = 0, unpacked = 0;
  for (const PlanTensor& t : plan.tensors)
    if (t.storage == TensorStorage::kArena) {
      ++activations;
      unpacked += t.nbytes;
    }
  ordered_json mem;
  mem["arena_bytes"] = plan.arena_bytes;
  mem["activations"] = activations;
  mem["activation_bytes_unpacked"] = unpacked;
  mem["workspace_bytes"] = plan.workspace_bytes;
  mem["constants_bytes"] = static_cast<uint64_t>(plan.constants.size());
  mem["file_bytes"] = static_cast<uint64_t>(bytes.size());
  mem["tensors"] = plan.tensors.size();
  j["memory"] = mem;

  ordered_json steps = ordered_json::array();
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& s = plan.steps[i];
    ordered_json step;
    step["index"] = i;
    step["op"] = op_name(op_kind(s.attrs));
    step["attrs"] = attrs_to_string(s.attrs);
    step["tactic"] = s.tactic;
    ordered_json ins = ordered_json::array(), outs = ordered_json::array();
    for (int32_t t : s.inputs) ins.push_back(tensor_json(plan, t, true));
    for (int32_t t : s.outputs) outs.push_back(tensor_json(plan, t, true));
    step["inputs"] = ins;
    step["outputs"] = outs;
    step["source"] = {{"node", s.source.node_name},
                      {"target", s.source.aten_target},
                      {"location", s.source.location},
                      {"code", s.source.code}};
    steps.push_back(step);
  }
  j["steps"] = steps;

  // What the build-time tuner chose: per op, how many steps use each tactic.
  std::map<std::string, std::map<std::string, int>> chosen;
  size_t tuned = 0;
  for (const PlanStep& s : plan.steps) {
    if (s.tactic.empty()) continue;
    ++tuned;
    ++chosen[op_name(op_kind(s.attrs))][s.tactic];
  }
  ordered_json tuning;
  for (const auto& [k, v] : b.options)
    if (k == "optimization_level") tuning["optimization_level"] = v;
  tuning["steps_with_tactic"] = tuned;
  ordered_json tactics = ordered_json::object();
  for (const auto& [op, counts] : chosen) {
    ordered_json per_op = ordered_json::object();
    for (const auto& [tactic, count] : counts) per_op[tactic] = count;
    tactics[op] = per_op;
  }
  tuning["tactics"] = tactics;
  j["tuning"] = tuning;
  // Source lines come from user files: never let odd bytes throw.
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace ingot
