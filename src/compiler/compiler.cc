// The compiler API (ingot/compiler.h): check a model, build an engine, write it
// atomically, and verify that an engine came from a given model. build_engine
// is the whole pipeline in one place:
//   read .pt2 -> import (refuse on any unsupported op) -> passes (including
//   precision lowering) -> verify -> backend support check (refuse, listing every
//   node the backend cannot run) -> plan -> tune kernels (cuda: time candidate
//   tactics on the GPU, with the timing cache; src/tuner/) -> serialize.
// The CUDA backend is reached through cuda_query.h (plain C++ functions the
// runtime library exports), so this file needs no CUDA headers.
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "compiler/file_io.h"
#include "engine/engine_format.h"
#include "frontend/converter.h"
#include "frontend/export_program.h"
#include "frontend/importer.h"
#include "ingot/compiler.h"
#include "passes/passes.h"
#include "planner/planner.h"
#include "tuner/tuner.h"

#ifdef INGOT_WITH_CUDA
#include "backends/cuda/cuda_query.h"
#endif

#ifndef INGOT_VERSION
#define INGOT_VERSION "0.0.0-unknown"
#endif

namespace ingot {

namespace {

// A cuda build has one more phase than a cpu build: kernel tuning.
int phases(const BuildOptions& options) { return options.backend == "cuda" ? 6 : 5; }

void say(const BuildOptions& options, int phase, const std::string& what) {
  if (options.progress) options.progress("[" + std::to_string(phase) + "/" + std::to_string(phases(options)) + "] " + what);
}

// "12.3 MiB (12897792 bytes)": sizes a user reads at a glance, exact bytes kept.
std::string size_text(uint64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  const unsigned long long exact = bytes;
  if (bytes < 1024)
    std::snprintf(buf, sizeof buf, "%llu bytes", exact);
  else if (bytes < (1u << 20))
    std::snprintf(buf, sizeof buf, "%.1f KiB (%llu bytes)", b / 1024.0, exact);
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB (%llu bytes)", b / (1024.0 * 1024.0), exact);
  return buf;
}
// A detail line under the current phase.
void note(const BuildOptions& options, const std::string& what) {
  if (options.progress) options.progress("  " + what);
}

// Engines have static shapes: an input dim exported as dynamic (torch.export.Dim)
// is built at the example input's size. Said for every such dim, so that a user
// who exported a dynamic batch learns which size the engine takes.
void note_symbolic_inputs(const BuildOptions& options, const Graph& graph) {
  for (ValueId id : graph.inputs) {
    const Value& v = graph.value(id);
    for (size_t d = 0; d < v.dim_symbols.size() && d < v.shape.size(); ++d) {
      const std::string& sym = v.dim_symbols[d];
      if (sym.empty()) continue;
      std::string range;
      if (auto it = graph.symbols.find(sym); it != graph.symbols.end()) {
        range = ", " + std::to_string(it->second.min) + ".." +
                (it->second.max >= INT64_MAX / 2 ? std::string("inf") : std::to_string(it->second.max));
      }
      const bool asked = options.input_shapes.count(v.name) > 0;
      note(options, "input '" + v.name + "' dim " + std::to_string(d) + " is dynamic in the model (" + sym + range +
                        "); engines have static shapes, so this one takes size " + std::to_string(v.shape[d]) +
                        (asked ? " (--input-shape)" : " (the example input's; --input-shape " + v.name + "=... for another)"));
    }
  }
}

// "sm_" followed by two or three digits (the form cuda::current_arch() reports).
bool valid_cuda_arch(const std::string& arch) {
  if (arch.size() < 5 || arch.size() > 6 || arch.compare(0, 3, "sm_") != 0) return false;
  for (size_t i = 3; i < arch.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(arch[i]))) return false;
  return arch[3] != '0';
}

Status validate_options(const BuildOptions& o) {
  if (o.backend != "cpu" && o.backend != "cuda")
    return invalid_argument("unknown backend '" + o.backend + "' (expected cpu or cuda)");
  if (o.precision != "fp32" && o.precision != "fp16" && o.precision != "bf16")
    return invalid_argument("unknown precision '" + o.precision + "' (expected fp32, fp16 or bf16)");
  if (o.optimization_level < 0 || o.optimization_level > 5)
    return invalid_argument("optimization level " + std::to_string(o.optimization_level) + " is outside 0..5");
  if (!o.cuda_arch.empty()) {
    if (o.backend != "cuda") return invalid_argument("--cuda-arch " + o.cuda_arch + " needs --backend cuda");
    if (!valid_cuda_arch(o.cuda_arch))
      return invalid_argument("invalid CUDA architecture '" + o.cuda_arch + "' (expected sm_NN, e.g. sm_80 or sm_90)");
  }
  if (o.backend == "cuda") {
#ifndef INGOT_WITH_CUDA
    return unsupported("backend cuda needs an ingot built with CUDA (configure with -DINGOT_CUDA=ON on a machine with nvcc)");
#endif
  }
  // The CPU kernels compute 16-bit types by converting through float: slower than
  // fp32 and no more accurate, so a 16-bit CPU engine is refused rather than built.
  if (o.precision != "fp32" && o.backend == "cpu")
    return unsupported("precision " + o.precision + " needs --backend cuda");
  return Status::ok_status();
}

std::string ir_dialect(const frontend::ExportedProgram& ep) {
  std::string out;
  for (const std::string& v : ep.verifiers) out += (out.empty() ? "" : ",") + v;
  return out;
}

// Reads and imports; the report is filled whether or not conversion succeeded.
Result<frontend::ImportResult> read_and_import(const std::string& pt2_path, frontend::ExportedProgram* ep_out,
                                               const frontend::InputShapes* shapes = nullptr) {
  INGOT_ASSIGN_OR_RETURN(frontend::ExportedProgram ep, frontend::read_pt2_file(pt2_path, shapes));
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

// The target and library versions of a CUDA engine. The arch is the user's, else
// the present GPU's (the runtime refuses an engine built for another arch), else
// sm_90 when this machine has no GPU.
Status fill_cuda_target(const BuildOptions& options, BuildInfo& info) {
#ifdef INGOT_WITH_CUDA
  if (!options.cuda_arch.empty()) {
    info.target = options.cuda_arch;
  } else if (Result<std::string> arch = cuda::current_arch(); arch.ok()) {
    info.target = arch.value();
    note(options, "targeting this machine's GPU (" + info.target + ")");
  } else {
    info.target = "sm_90";
    note(options, "no usable GPU here (" + arch.status().message() +
                      "); targeting sm_90 (pass --cuda-arch to choose)");
  }
  cuda::LibraryVersions versions = cuda::library_versions();
  info.cuda_version = versions.cuda;
  info.cublas_version = versions.cublas;
  info.cudnn_version = versions.cudnn;
  return Status::ok_status();
#else
  return unsupported("backend cuda needs an ingot built with CUDA");
#endif
}

// Full conversion or nothing: every node the CUDA backend cannot run is listed.
Status check_cuda_support(const Graph& graph) {
#ifdef INGOT_WITH_CUDA
  auto names = [](const std::vector<DType>& dtypes) {
    std::string s;
    for (DType t : dtypes) s += (s.empty() ? "" : ", ") + std::string(dtype_name(t));
    return s;
  };
  std::vector<std::string> refused;
  for (const Node& n : graph.nodes()) {
    std::vector<DType> in_dtypes, out_dtypes;
    for (ValueId v : n.inputs)
      if (v != kNoValue) in_dtypes.push_back(graph.value(v).dtype);
    for (ValueId v : n.outputs) out_dtypes.push_back(graph.value(v).dtype);
    if (!cuda::supports(n.attrs, in_dtypes, out_dtypes))
      refused.push_back(describe_node(n) + ": inputs (" + names(in_dtypes) + ") -> outputs (" + names(out_dtypes) + ")");
  }
  if (refused.empty()) return Status::ok_status();
  std::string message = std::to_string(refused.size()) + " of " + std::to_string(graph.num_nodes()) +
                        " nodes have no CUDA kernel for their dtypes; no engine was built:";
  for (const std::string& line : refused) message += "\n  " + line;
  return unsupported(message);
#else
  return unsupported("backend cuda needs an ingot built with CUDA");
#endif
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
  INGOT_ASSIGN_OR_RETURN(frontend::ImportResult imported, read_and_import(pt2_path, &ep, &options.input_shapes));
  say(options, 2, "converted " + std::to_string(imported.report.num_nodes) + " nodes to " +
                      std::to_string(imported.graph.num_nodes()) + " IR ops");
  if (!imported.report.ok()) return unsupported(imported.report.to_string());

  Graph& graph = imported.graph;
  note_symbolic_inputs(options, graph);
  say(options, 3, "optimizing");
  INGOT_RETURN_IF_ERROR(run_pipeline(graph, options, options.progress));
  INGOT_RETURN_IF_ERROR(verify_graph(graph));
  if (options.backend == "cuda") INGOT_RETURN_IF_ERROR(check_cuda_support(graph));

  BuildInfo info;
  info.ingot_version = INGOT_VERSION;
  info.model_file = ep.file_name.empty() ? path_base_name(pt2_path) : ep.file_name;
  info.model_hash = ep.content_hash;
  info.torch_version = ep.torch_version;
  info.ir_dialect = ir_dialect(ep);
  info.options = options.to_record();
  info.backend = options.backend;
  if (options.backend == "cuda") {
    INGOT_RETURN_IF_ERROR(fill_cuda_target(options, info));
  } else {
    info.target = "x86_64";
  }
  say(options, 4, "planning memory for " + std::to_string(graph.num_nodes()) + " steps");
  INGOT_ASSIGN_OR_RETURN(Plan plan, build_plan(graph, info));
  size_t activations = 0;
  uint64_t unpacked = 0;  // what the activations would take without sharing memory
  for (const PlanTensor& t : plan.tensors)
    if (t.storage == TensorStorage::kArena) {
      ++activations;
      unpacked += t.nbytes;
    }
  note(options, "activation arena " + size_text(plan.arena_bytes) + ": " + std::to_string(activations) +
                    " activations (" + size_text(unpacked) + " unpacked) share it by lifetime");
  if (options.backend == "cuda") {
    say(options, 5, "tuning kernels (optimization level " + std::to_string(options.optimization_level) + ")");
    INGOT_RETURN_IF_ERROR(tuner::tune_plan(plan, options));
  }
  say(options, phases(options),
      "serializing engine (arena " + size_text(plan.arena_bytes) + ", workspace " + size_text(plan.workspace_bytes) +
          ", constants " + size_text(plan.constants.size()) + ")");
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
