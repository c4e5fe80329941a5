// Common subexpression elimination: two nodes with the same op, attributes,
// inputs and output dtypes/shapes compute the same thing, so the later one's
// uses move to the earlier one's outputs (DCE then removes it). Output types are
// part of the key because some ops take them from the output (cast, adaptive
// pooling, upsample by size). Constants are merged too: values sharing the same
// bytes (tied weights) whatever their size, and small equal tensors by content.
#include <map>
#include <string>
#include <vector>

#include "passes/passes.h"

namespace ingot {

namespace {

constexpr size_t kDedupByContentBytes = 64 * 1024;

std::string type_key(const Value& v) {
  std::string k = std::to_string(static_cast<int>(v.dtype)) + ":";
  for (int64_t d : v.shape) k += std::to_string(d) + ",";
  return k;
}

bool merge_constants(Graph& g) {
  bool changed = false;
  std::vector<int> uses = g.use_counts();
  std::map<std::string, ValueId> seen;  // ordered: deterministic choice of the survivor
  for (size_t i = 0; i < g.num_values(); ++i) {
    const Value& v = g.values()[i];
    if (!v.is_constant() || uses[i] == 0) continue;
    std::string key = type_key(v);
    if (v.constant->size() <= kDedupByContentBytes)
      key += "#" + std::string(v.constant->begin(), v.constant->end());
    else
      key += "@" + std::to_string(reinterpret_cast<uintptr_t>(v.constant.get()));
    auto [it, inserted] = seen.emplace(std::move(key), static_cast<ValueId>(i));
    if (!inserted) {
      g.replace_all_uses(static_cast<ValueId>(i), it->second);
      changed = true;
    }
  }
  return changed;
}

}  // namespace

bool run_cse(Graph& g) {
  bool changed = merge_constants(g);
  // The printed attributes narrow the search; equality is decided by operator==
  // (attrs_to_string rounds floats).
  std::map<std::string, std::vector<NodeId>> buckets;
  std::vector<int> uses = g.use_counts();
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    Node& n = g.node(static_cast<NodeId>(i));
    bool live = false;
    for (ValueId out : n.outputs) live = live || uses[static_cast<size_t>(out)] > 0;
    if (!live) continue;
    std::string key = attrs_to_string(n.attrs) + "|";
    for (ValueId in : n.inputs) key += std::to_string(in) + ",";
    key += "|";
    for (ValueId out : n.outputs) key += type_key(g.value(out)) + ";";
    auto& bucket = buckets[key];
    bool merged = false;
    for (NodeId other_id : bucket) {
      const Node& other = g.node(other_id);
      if (other.attrs != n.attrs || other.inputs != n.inputs || other.outputs.size() != n.outputs.size()) continue;
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        uses[static_cast<size_t>(other.outputs[k])] += uses[static_cast<size_t>(n.outputs[k])];
        uses[static_cast<size_t>(n.outputs[k])] = 0;
        g.replace_all_uses(n.outputs[k], other.outputs[k]);
      }
      merged = true;
      break;
    }
    if (merged)
      changed = true;
    else
      bucket.push_back(static_cast<NodeId>(i));
  }
  return changed;
}

}  // namespace ingot
