// Text form of the IR for tests, error messages and `--dump-ir`: one line per
// node with the output's dtype and shape, the op's attributes, its inputs and the
// aten node / user line it came from.
#include <sstream>

#include "ir/graph.h"

namespace ingot {

namespace {

std::string shape_string(const Value& v) {
  std::ostringstream os;
  os << dtype_name(v.dtype) << '[';
  for (size_t i = 0; i < v.shape.size(); ++i) {
    if (i) os << ',';
    if (i < v.dim_symbols.size() && !v.dim_symbols[i].empty())
      os << v.dim_symbols[i] << '=' << v.shape[i];
    else
      os << v.shape[i];
  }
  os << ']';
  return os.str();
}

// Constants print as %w<id> so weights stand out from activations.
std::string ref(const Graph& g, ValueId id) {
  if (id == kNoValue) return "_";
  if (id < 0 || static_cast<size_t>(id) >= g.num_values()) return "%<bad " + std::to_string(id) + ">";
  return (g.value(id).is_constant() ? "%w" : "%") + std::to_string(id);
}

}  // namespace

std::string describe_node(const Node& n) {
  std::ostringstream os;
  os << '[' << (n.source.aten_target.empty() ? std::string(op_name(n.kind())) : n.source.aten_target) << ']';
  if (!n.source.node_name.empty()) os << " node '" << n.source.node_name << '\'';
  if (!n.source.location.empty()) os << " (" << n.source.location << ')';
  return os.str();
}

std::string print_graph(const Graph& g) {
  std::ostringstream os;
  os << "graph(";
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    if (i) os << ", ";
    ValueId id = g.inputs[i];
    os << ref(g, id);
    if (id >= 0 && static_cast<size_t>(id) < g.num_values())
      os << ':' << shape_string(g.value(id)) << " \"" << g.value(id).name << '"';
  }
  os << ")\n";
  for (size_t i = 0; i < g.num_values(); ++i) {
    const Value& v = g.values()[i];
    if (!v.is_constant()) continue;
    os << "  const %w" << i << ':' << shape_string(v) << " \"" << v.name << "\"\n";
  }
  for (const Node& n : g.nodes()) {
    os << "  ";
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      if (i) os << ", ";
      os << ref(g, n.outputs[i]);
      if (n.outputs[i] >= 0 && static_cast<size_t>(n.outputs[i]) < g.num_values())
        os << ':' << shape_string(g.value(n.outputs[i]));
    }
    os << " = " << attrs_to_string(n.attrs) << '(';
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (i) os << ", ";
      os << ref(g, n.inputs[i]);
    }
    os << ')';
    if (!n.source.node_name.empty() || !n.source.location.empty()) {
      os << "  #";
      if (!n.source.node_name.empty()) os << ' ' << n.source.node_name;
      if (!n.source.location.empty()) os << ' ' << n.source.location;
    }
    os << '\n';
  }
  os << "  return ";
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    if (i) os << ", ";
    os << ref(g, g.outputs[i]);
    if (i < g.output_names.size()) os << " \"" << g.output_names[i] << '"';
  }
  os << '\n';
  return os.str();
}

}  // namespace ingot
