// Dead code elimination: keeps the nodes that (transitively) feed a graph
// output and renumbers the value table so unused constants and values of
// removed nodes disappear. Graph inputs stay even when unused: they are part of
// the engine's IO signature. Renumbering keeps relative order, so the result is
// deterministic.
#include <vector>

#include "passes/passes.h"

namespace ingot {

bool run_dce(Graph& g) {
  const size_t num_values = g.num_values();
  std::vector<bool> live(num_values, false);
  for (ValueId out : g.outputs)
    if (out >= 0) live[static_cast<size_t>(out)] = true;
  std::vector<bool> keep_node(g.num_nodes(), false);
  for (size_t i = g.num_nodes(); i-- > 0;) {
    const Node& n = g.nodes()[i];
    bool needed = false;
    for (ValueId out : n.outputs) needed = needed || live[static_cast<size_t>(out)];
    if (!needed) continue;
    keep_node[i] = true;
    for (ValueId in : n.inputs)
      if (in != kNoValue) live[static_cast<size_t>(in)] = true;
  }
  // Values to keep: inputs, everything read or produced by a kept node, outputs.
  std::vector<bool> keep_value(num_values, false);
  for (ValueId in : g.inputs) keep_value[static_cast<size_t>(in)] = true;
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    if (!keep_node[i]) continue;
    for (ValueId v : g.nodes()[i].inputs)
      if (v != kNoValue) keep_value[static_cast<size_t>(v)] = true;
    for (ValueId v : g.nodes()[i].outputs) keep_value[static_cast<size_t>(v)] = true;
  }
  for (ValueId out : g.outputs) keep_value[static_cast<size_t>(out)] = true;

  size_t kept_nodes = 0, kept_values = 0;
  for (bool k : keep_node) kept_nodes += k;
  for (bool k : keep_value) kept_values += k;
  if (kept_nodes == g.num_nodes() && kept_values == num_values) return false;

  std::vector<ValueId> remap(num_values, kNoValue);
  std::vector<Value> values;
  values.reserve(kept_values);
  for (size_t i = 0; i < num_values; ++i) {
    if (!keep_value[i]) continue;
    remap[i] = static_cast<ValueId>(values.size());
    values.push_back(std::move(g.values()[i]));
  }
  auto map_id = [&](ValueId v) { return v == kNoValue ? kNoValue : remap[static_cast<size_t>(v)]; };
  std::vector<Node> nodes;
  nodes.reserve(kept_nodes);
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    if (!keep_node[i]) continue;
    Node n = std::move(g.nodes()[i]);
    for (ValueId& v : n.inputs) v = map_id(v);
    for (ValueId& v : n.outputs) v = map_id(v);
    nodes.push_back(std::move(n));
  }
  for (ValueId& v : g.inputs) v = map_id(v);
  for (ValueId& v : g.outputs) v = map_id(v);
  g.values() = std::move(values);
  g.set_nodes(std::move(nodes));
  return true;
}

}  // namespace ingot
