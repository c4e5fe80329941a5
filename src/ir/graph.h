// The compiler's intermediate representation: values and nodes addressed by
// integer ids, in topological order. Shapes are concrete (symbolic dimensions
// keep their symbol name beside the example size, for provenance and for the
// dynamic-shape work to come). Every node remembers the aten node and the
// user's source line it came from, so errors and the inspector can point there.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"
#include "ir/ops.h"
#include "ir/source_info.h"

namespace ingot {

using ValueId = int32_t;
using NodeId = int32_t;
inline constexpr ValueId kNoValue = -1;

// Raw little-endian bytes of a dense, contiguous tensor.
using ConstantData = std::shared_ptr<const std::vector<uint8_t>>;

struct Value {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<std::string> dim_symbols;  // per dim; empty or "" when static
  NodeId producer = -1;                  // -1 for graph inputs and constants
  ConstantData constant;                 // set for constants (weights, folded values)

  bool is_constant() const { return constant != nullptr; }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
};

struct Node {
  OpAttrs attrs;
  std::vector<ValueId> inputs;  // kNoValue marks an absent optional input
  std::vector<ValueId> outputs;
  SourceInfo source;
  OpKind kind() const { return op_kind(attrs); }
};

struct SymbolRange {
  int64_t min = 0;
  int64_t max = INT64_MAX;
};

class Graph {
 public:
  ValueId add_value(Value v);
  ValueId add_constant(std::string name, DType dtype, std::vector<int64_t> shape, ConstantData data);
  NodeId add_node(Node n);  // sets producer of the outputs

  Value& value(ValueId id) { return values_.at(static_cast<size_t>(id)); }
  const Value& value(ValueId id) const { return values_.at(static_cast<size_t>(id)); }
  Node& node(NodeId id) { return nodes_.at(static_cast<size_t>(id)); }
  const Node& node(NodeId id) const { return nodes_.at(static_cast<size_t>(id)); }
  size_t num_values() const { return values_.size(); }
  size_t num_nodes() const { return nodes_.size(); }
  std::vector<Value>& values() { return values_; }
  const std::vector<Value>& values() const { return values_; }
  std::vector<Node>& nodes() { return nodes_; }
  const std::vector<Node>& nodes() const { return nodes_; }

  // User-facing IO, in the model's order.
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  std::vector<std::string> output_names;  // parallel to outputs ("output.0", or the model's names)
  std::map<std::string, SymbolRange> symbols;

  // Replace nodes with a filtered/reordered list; callers keep topological order.
  void set_nodes(std::vector<Node> nodes);
  // Recompute Value::producer from the node list.
  void rebuild_producers();
  // Redirect every use of `from` (node inputs and graph outputs) to `to`.
  void replace_all_uses(ValueId from, ValueId to);
  // Number of node inputs plus graph outputs that read each value.
  std::vector<int> use_counts() const;

 private:
  std::vector<Value> values_;
  std::vector<Node> nodes_;
};

// Checks ids, topological order, optional inputs and per-op arity.
Status verify_graph(const Graph& g);
// Human-readable listing used by tests and `--dump-ir`.
std::string print_graph(const Graph& g);
// "[conv] node 'convolution_3' (model.py:42)": prefix for messages about a node.
std::string describe_node(const Node& n);

}  // namespace ingot
