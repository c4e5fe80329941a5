// The compiler API (ingot/compiler.h): check a model, build an engine, write it
// atomically, and verify that an engine came from a given model. build_engine
// is the whole pipeline in one place:
//   read .pt2 -> import (refuse on any unsupported op) -> passes -> verify -> plan -> serialize.
#include <string>

#include "compiler/file_io.h"
#include "engine/engine_format.h"
#include "frontend/converter.h"
#include "frontend/export_program.h"
#include "frontend/importer.h"
#include "ingot/compiler.h"
#include "passes/passes.h"
#include "planner/planner.h"


#ifndef INGOT_VERSION
#define INGOT_VERSION "0.0.0-unknown"
#endif

namespace ingot {

namespace {

constexpr int kPhases = 5;

void say(const BuildOptions& options, int phase, const std::string& what) {
  if (options.progress) options.progress("[" + std::to_string(phase) + "/" + std::to_string(kPhases) + "] " + what);
}

Status validate_options(const BuildOptions& o) {
  if (o.backend != "cpu" && o.backend != "cuda")
    return invalid_argument("unknown backend '" + o.backend + "' (expected cpu or cuda)");
  if (o.precision != "fp32" && o.precision != "fp16" && o.precision != "bf16")
    return invalid_argument("unknown precision '" + o.precision + "' (expected fp32, fp16 or bf16)");
  if (o.optimization_level < 0 || o.optimization_level > 5)
    return invalid_argument("optimization level " + std::to_string(o.optimization_level) + " is outside 0..5");
  if (o.backend == "cuda") {
#ifndef INGOT_WITH_CUDA
    return unsupported("backend cuda needs an ingot built with CUDA (configure with -DINGOT_CUDA=ON on a machine with nvcc)");
#endif
  }
  if (o.precision != "fp32") {
    if (o.backend == "cpu") return unsupported("precision " + o.precision + " needs --backend cuda");
    return unsupported("precision " + o.precision + " is not implemented yet; build with precision fp32");
  }
  return Status::ok_status();
}

std::string ir_dialect(const frontend::ExportedProgram& ep) {
  std::string out;
  for (const std::string& v : ep.verifiers) out += (out.empty() ? "" : ",") + v;
  return out;
}

// Reads and imports; the report is filled whether or not conversion succeeded.
Result<frontend::ImportResult> read_and_import(const std::string& pt2_path, frontend::ExportedProgram* ep_out) {
  INGOT_ASSIGN_OR_RETURN(frontend::ExportedProgram ep, frontend::read_pt2_file(pt2_path));
  INGOT_ASSIGN_OR_RETURN(frontend::ImportResult imported,
                         frontend::import_program(ep, frontend::default_converter_table()));
  if (imported.report.model_file.empty()) imported.report.model_file = ep.file_name;
  if (ep_out) {
    // Keep what provenance needs; the weights already live in the graph's constants.
    ep_out->file_name = ep.file_name;
    ep_out->content_hash = ep.content_hash;
    ep_out->torch_version = ep.torch_version;
    ep_out->verifiers = ep.verifiers;
  }
  return imported;
}

}  // namespace

Result<SupportReport> check_model(const std::string& pt2_path) {
  INGOT_ASSIGN_OR_RETURN(frontend::ImportResult imported, read_and_import(pt2_path, nullptr));
  return std::move(imported.report);
}

Result<std::vector<uint8_t>> build_engine(const std::string& pt2_path, const BuildOptions& options) {
  INGOT_RETURN_IF_ERROR(validate_options(options));
  say(options, 1, "reading " + path_base_name(pt2_path));
  frontend::ExportedProgram ep;
  INGOT_ASSIGN_OR_RETURN(frontend::ImportResult imported, read_and_import(pt2_path, &ep));
  say(options, 2, "converted " + std::to_string(imported.report.num_nodes) + " nodes to " +
                      std::to_string(imported.graph.num_nodes()) + " IR ops");
  if (!imported.report.ok()) return unsupported(imported.report.to_string());

  Graph& graph = imported.graph;
  say(options, 3, "optimizing");
  INGOT_RETURN_IF_ERROR(run_pipeline(graph, options, options.progress));
  INGOT_RETURN_IF_ERROR(verify_graph(graph));

  BuildInfo info;
  info.ingot_version = INGOT_VERSION;
  info.model_file = ep.file_name.empty() ? path_base_name(pt2_path) : ep.file_name;
  info.model_hash = ep.content_hash;
  info.torch_version = ep.torch_version;
  info.ir_dialect = ir_dialect(ep);
  info.options = options.to_record();
  info.backend = options.backend;
  info.target = options.backend == "cpu" ? "x86_64" : (options.cuda_arch.empty() ? "sm_90" : options.cuda_arch);
  say(options, 4, "planning memory for " + std::to_string(graph.num_nodes()) + " steps");
  INGOT_ASSIGN_OR_RETURN(Plan plan, build_plan(graph, info));
  say(options, 5, "serializing engine (arena " + std::to_string(plan.arena_bytes) + " bytes, constants " +
                      std::to_string(plan.constants.size()) + " bytes)");
  return serialize_plan(plan);
}

Status build_engine_file(const std::string& pt2_path, const std::string& engine_path, const BuildOptions& options) {
  if (engine_path.empty()) return invalid_argument("no engine output path given");
  INGOT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, build_engine(pt2_path, options));
  return write_file_atomic(engine_path, bytes.data(), bytes.size());
}

Result<VerifyResult> verify_engine_model(const std::string& engine_path, const std::string& pt2_path) {
  INGOT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_file_bytes(engine_path));
  Result<Plan> plan = deserialize_plan(bytes.data(), bytes.size());
  if (!plan.ok()) return plan.status().with_context("engine '" + engine_path + "'");
  Result<frontend::ExportedProgram> ep = frontend::read_pt2_file(pt2_path);
  if (!ep.ok()) return ep.status().with_context("model '" + pt2_path + "'");
  VerifyResult r;
  r.engine_hash = plan->build.model_hash;
  r.model_hash = ep->content_hash;
  r.match = !r.engine_hash.empty() && r.engine_hash == r.model_hash;
  if (r.match)
    r.message = "engine '" + engine_path + "' was built from '" + pt2_path + "' (content hash " + r.model_hash + ")";
  else
    r.message = "engine '" + engine_path + "' records model '" + plan->build.model_file + "' with content hash " +
                r.engine_hash + ", but model '" + pt2_path + "' has content hash " + r.model_hash;
  return r;
}

}  // namespace ingot
