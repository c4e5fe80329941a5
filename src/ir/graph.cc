// Graph construction and use-def bookkeeping for the IR (see graph.h). The
// passes rely on these helpers to rewire uses without breaking the IO contract.
#include "ir/graph.h"

#include <utility>

namespace ingot {

int64_t Value::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

ValueId Graph::add_value(Value v) {
  values_.push_back(std::move(v));
  return static_cast<ValueId>(values_.size() - 1);
}

ValueId Graph::add_constant(std::string name, DType dtype, std::vector<int64_t> shape, ConstantData data) {
  Value v;
  v.name = std::move(name);
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.constant = std::move(data);
  return add_value(std::move(v));
}

NodeId Graph::add_node(Node n) {
  auto id = static_cast<NodeId>(nodes_.size());
  for (ValueId out : n.outputs)
    if (out >= 0 && static_cast<size_t>(out) < values_.size()) values_[static_cast<size_t>(out)].producer = id;
  nodes_.push_back(std::move(n));
  return id;
}

void Graph::set_nodes(std::vector<Node> nodes) {
  nodes_ = std::move(nodes);
  rebuild_producers();
}

void Graph::rebuild_producers() {
  for (Value& v : values_) v.producer = -1;
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (ValueId out : nodes_[i].outputs)
      if (out >= 0 && static_cast<size_t>(out) < values_.size())
        values_[static_cast<size_t>(out)].producer = static_cast<NodeId>(i);
}

void Graph::replace_all_uses(ValueId from, ValueId to) {
  for (Node& n : nodes_)
    for (ValueId& in : n.inputs)
      if (in == from) in = to;
  for (ValueId& out : outputs)
    if (out == from) out = to;
}

std::vector<int> Graph::use_counts() const {
  std::vector<int> counts(values_.size(), 0);
  auto count = [&](ValueId v) {
    if (v >= 0 && static_cast<size_t>(v) < counts.size()) ++counts[static_cast<size_t>(v)];
  };
  for (const Node& n : nodes_)
    for (ValueId in : n.inputs) count(in);
  for (ValueId out : outputs) count(out);
  return counts;
}

}  // namespace ingot
