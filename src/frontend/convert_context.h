// The concrete ConvertContext used by the importer: one per export node, over
// the IR graph being built and the scope that maps export value names to IR
// values. Also PyTorch's type promotion rules (result_type) in one place.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frontend/converter.h"

namespace ingot::frontend {

// A Python number that became a 0-d constant (a "wrapped number").
struct WrappedNumber {
  double value = 0;
  DType logical = DType::kInt64;  // int64, float32 (the default float dtype) or bool
};

// State shared by every node of one import.
struct ImportState {
  Graph graph;
  std::map<ValueId, WrappedNumber> wrapped;
  int64_t value_counter = 0;  // for unique intermediate value names
  std::map<ValueId, std::vector<std::string>> written_tensors;  // see ConvertContext::written_tensors
};

// One export graph (the top level or a higher-order op's subgraph).
struct ImportScope {
  const GraphDef* graph_def = nullptr;
  std::map<std::string, ValueId> values;  // export value name -> IR value
  std::set<std::string> used;             // names read by a node input or a graph output
  // Names that may no longer be read (views of a tensor written in place), with the
  // reason, and where that happened ("[aten.copy_.default] node 'copy_' (model.py:9)").
  std::map<std::string, std::string> forbidden;
  // The value a name denotes, or the reason it may not be read ("" and kNoValue when unknown).
  ValueId find(const std::string& name, std::string* forbidden_why) const;
};

class NodeConvertContext final : public ConvertContext {
 public:
  NodeConvertContext(ImportState& state, ImportScope& scope, const NodeDef& node);

  const NodeDef& node() const override { return node_; }
  const std::string& target() const override { return target_; }
  const Argument* arg(std::string_view name) const override;
  Result<int64_t> get_int(std::string_view name) const override;
  Result<double> get_float(std::string_view name) const override;
  Result<bool> get_bool(std::string_view name) const override;
  Result<std::vector<int64_t>> get_ints(std::string_view name) const override;
  Result<std::vector<double>> get_floats(std::string_view name) const override;
  Result<std::string> get_string(std::string_view name) const override;
  Result<DType> get_dtype(std::string_view name) const override;
  Result<ValueId> get_tensor(std::string_view name) override;
  Result<std::vector<ValueId>> get_tensors(std::string_view name) override;
  Result<std::vector<ValueId>> get_optional_tensors(std::string_view name) override;
  bool is_wrapped_number(ValueId v) const override;

  size_t num_outputs() const override { return outputs_.size(); }
  Result<TensorMetaDef> output_meta(size_t i) const override;
  bool output_used(size_t i) const override;
  Status bind_output(size_t i, ValueId v) override;

  Graph& graph() override { return state_.graph; }
  ValueId add_node(OpAttrs attrs, std::vector<ValueId> inputs, DType out_dtype,
                   std::vector<int64_t> out_shape) override;
  std::vector<ValueId> add_node_multi(OpAttrs attrs, std::vector<ValueId> inputs,
                                      std::vector<std::pair<DType, std::vector<int64_t>>> outs) override;
  ValueId add_constant(DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) override;
  ValueId scalar_constant(double v, DType dtype) override;

  ValueId cast(ValueId v, DType to) override;
  ValueId reshape(ValueId v, std::vector<int64_t> shape) override;
  ValueId unary(UnaryFn fn, ValueId x, double alpha = 0, double beta = 0) override;
  ValueId binary(BinaryFn fn, ValueId a, ValueId b) override;
  DType result_type(const std::vector<ValueId>& operands) const override;
  std::vector<ValueId> promote(const std::vector<ValueId>& operands) override;

  Status error(std::string message) const override;
  Status unsupported_error(std::string message) const override;

  std::vector<std::string> names_of(ValueId v) const override;
  void rebind_name(const std::string& name, ValueId v) override;
  void forbid_name(const std::string& name, std::string why) override;
  std::map<ValueId, std::vector<std::string>>& written_tensors() override { return state_.written_tensors; }

  // --- for the importer -------------------------------------------------------
  // The flattened outputs of the node (an as_tensors output counts one per name).
  struct OutputSlot {
    std::string name;  // "" for None
    bool is_tensor = false;
  };
  const std::vector<OutputSlot>& output_slots() const { return outputs_; }
  bool output_bound(size_t i) const { return i < bound_.size() && bound_[i]; }
  // A problem found by a building block that returns a ValueId (a reshape that
  // cannot be, shapes that do not broadcast): reported after the converter returns.
  const Status& deferred_status() const { return deferred_; }
  const SourceInfo& source() const { return source_; }
  // "[aten.add.Tensor] node 'add_3' (model.py:42)"
  std::string describe() const;

 private:
  Result<const Argument*> required(std::string_view name) const;
  Result<ValueId> lookup(const std::string& name) const;
  Status kind_error(std::string_view name, const Argument& a, const char* wanted) const;
  ValueId wrapped_constant(double value, DType logical);
  std::string fresh_name();
  void defer(Status s);

  ImportState& state_;
  ImportScope& scope_;
  const NodeDef& node_;
  std::string target_;
  SourceInfo source_;
  std::vector<OutputSlot> outputs_;
  std::vector<bool> bound_;
  std::set<ValueId> created_;  // values produced by this node's IR
  Status deferred_;
};

// PyTorch's promote_types for two dtypes.
DType promote_types(DType a, DType b);
// "torch.ops.aten.add.Tensor" -> "aten.add.Tensor"
std::string strip_torch_ops(const std::string& target);
// Bytes of one element of `dtype` holding `v` (converted like a C cast; fp16/bf16 round to nearest even).
std::vector<uint8_t> encode_scalar(double v, DType dtype);
const char* argument_kind_name(Argument::Kind kind);

}  // namespace ingot::frontend
