// The parts of the compiler API that are plain data formatting: the build
// options' canonical record (stored in every engine, so it must be sorted and
// free of machine-specific paths) and the text of a support report, which is
// what a user sees when a model is refused.
#include <algorithm>
#include <sstream>

#include "ingot/compiler.h"

namespace ingot {

std::vector<std::pair<std::string, std::string>> BuildOptions::to_record() const {
  std::vector<std::pair<std::string, std::string>> r = {
      {"allow_tf32", allow_tf32 ? "true" : "false"},
      {"backend", backend},
      {"cuda_arch", cuda_arch},
      {"exact_gelu", exact_gelu ? "true" : "false"},
      {"optimization_level", std::to_string(optimization_level)},
      {"precision", precision},
      // Not the timing cache: which file held the timings changes no byte of the
      // engine's kernels, and recording it would make builds that share a cache
      // under another name (or build without one) differ.
      {"workspace_limit", std::to_string(workspace_limit)},
  };
  if (!input_shapes.empty()) {  // only when asked for: other engines keep their bytes
    std::string shapes;
    for (const auto& [name, dims] : input_shapes) {
      shapes += (shapes.empty() ? "" : ",") + name + "=";
      for (size_t i = 0; i < dims.size(); ++i) shapes += (i ? "x" : "") + std::to_string(dims[i]);
    }
    r.emplace_back("input_shapes", shapes);
  }
  if (!disabled_passes.empty()) {  // likewise only when asked for
    std::vector<std::string> names = disabled_passes;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ",") + n;
    r.emplace_back("disabled_passes", list);
  }
  std::sort(r.begin(), r.end());
  return r;
}

std::string SupportReport::to_string() const {
  std::ostringstream os;
  const std::string file = model_file.empty() ? "model" : model_file;
  int unsupported_nodes = 0;
  for (const UnsupportedOp& op : unsupported) unsupported_nodes += op.count;
  if (ok()) {
    os << file << ": all " << num_nodes << " nodes (" << op_counts.size() << " operator kinds) are supported\n";
    return os.str();
  }
  os << file << ": " << unsupported_nodes << " of " << num_nodes << " nodes use " << unsupported.size()
     << " unsupported operator" << (unsupported.size() == 1 ? "" : "s") << "; no engine can be built\n";
  for (const UnsupportedOp& op : unsupported) {
    os << "  " << op.target << "  (" << op.count << " node" << (op.count == 1 ? "" : "s") << ")\n";
    os << "    first at node '" << op.node_name << "'";
    if (!op.location.empty()) os << ", " << op.location;
    os << '\n';
    if (!op.code.empty()) os << "      " << op.code << '\n';
    if (!op.reason.empty()) os << "    reason: " << op.reason << '\n';
  }
  return os.str();
}

}  // namespace ingot
