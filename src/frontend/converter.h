// Converters: one function per aten overload turns an export node into ingot IR.
// They are listed explicitly in tables, one register function per op family
// (converters/<family>.cc), collected by converters/registry.cc. A converter reads
// its arguments by schema name (omitted arguments get their schema default from
// schema_defaults), appends IR nodes through ConvertContext and binds every
// output of the export node to an IR value.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/export_program.h"
#include "ir/graph.h"

namespace ingot::frontend {

class ConvertContext;
using ConverterFn = std::function<Status(ConvertContext&)>;

// target is the overload name without the "torch.ops." prefix: "aten.convolution.default".
class ConverterTable {
 public:
  void add(const std::string& target, ConverterFn fn) { fns_[target] = std::move(fn); }
  const ConverterFn* find(std::string_view target) const;
  std::vector<std::string> targets() const;  // sorted
 private:
  std::map<std::string, ConverterFn, std::less<>> fns_;
};

// Every converter family; registry.cc calls each one.
void register_activation_converters(ConverterTable&);   // relu, gelu, silu, hardswish, ... (+ in-place forms)
void register_elementwise_converters(ConverterTable&);  // add, mul, div, pow, comparisons, logical, where, clamp, casts
void register_linear_converters(ConverterTable&);       // linear, addmm, mm, bmm, matmul, baddbmm
void register_conv_converters(ConverterTable&);         // conv1d/2d, convolution, conv_transpose
void register_norm_converters(ConverterTable&);         // batch_norm, layer_norm, group_norm, rms_norm and decomposed forms
void register_pool_converters(ConverterTable&);         // max/avg/adaptive pooling, upsample/interpolate
void register_attention_converters(ConverterTable&);    // scaled_dot_product_attention (+ _scaled_dot_product_* variants)
void register_reduction_converters(ConverterTable&);    // sum, mean, amax, any, argmax, softmax, cumsum, var, ...
void register_shape_converters(ConverterTable&);        // view, reshape, permute, transpose, expand, squeeze, cat, split, slice, select, pad, ...
void register_indexing_converters(ConverterTable&);     // embedding, gather, index, index_select, slice_scatter, masked_fill, ...
void register_creation_converters(ConverterTable&);     // arange, full, zeros, ones, *_like, scalar_tensor, tril/triu, ...
void register_misc_converters(ConverterTable&);         // dropout, clone, detach, alias, _to_copy, asserts, HOPs, sym_size
const ConverterTable& default_converter_table();

// A converter's view of one export node and of the graph being built.
class ConvertContext {
 public:
  virtual ~ConvertContext() = default;

  // --- the node -------------------------------------------------------------
  virtual const NodeDef& node() const = 0;
  virtual const std::string& target() const = 0;  // "aten.add.Tensor"
  // The argument by schema name; its schema default if omitted; nullptr if neither.
  virtual const Argument* arg(std::string_view name) const = 0;
  bool has_arg(std::string_view name) const {
    const Argument* a = arg(name);
    return a && a->kind != Argument::Kind::kNone;
  }
  // Typed access; a wrong kind or a missing required argument is an error naming both.
  virtual Result<int64_t> get_int(std::string_view name) const = 0;
  virtual Result<double> get_float(std::string_view name) const = 0;  // int args convert
  virtual Result<bool> get_bool(std::string_view name) const = 0;
  virtual Result<std::vector<int64_t>> get_ints(std::string_view name) const = 0;  // a single int broadcasts to a 1-list
  virtual Result<std::vector<double>> get_floats(std::string_view name) const = 0;
  virtual Result<std::string> get_string(std::string_view name) const = 0;
  virtual Result<DType> get_dtype(std::string_view name) const = 0;  // as_scalar_type
  // A tensor argument. Python numbers passed where a Tensor is expected become
  // 0-d constants ("wrapped numbers": flag set for type promotion).
  virtual Result<ValueId> get_tensor(std::string_view name) = 0;
  virtual Result<std::vector<ValueId>> get_tensors(std::string_view name) = 0;  // kTensors
  // kOptionalTensors / kTensors: kNoValue for None entries.
  virtual Result<std::vector<ValueId>> get_optional_tensors(std::string_view name) = 0;
  // Whether a value is a wrapped Python number (affects type promotion).
  virtual bool is_wrapped_number(ValueId v) const = 0;

  // --- outputs ----------------------------------------------------------------
  virtual size_t num_outputs() const = 0;
  // The export's recorded dtype/shape for output i (every output has one).
  virtual Result<TensorMetaDef> output_meta(size_t i) const = 0;
  virtual bool output_used(size_t i) const = 0;  // false for "<node>_unused_<i>" / None
  // Bind export output i to an IR value. The value's dtype/shape must match the
  // recorded meta (checked; a mismatch is an internal error naming the node).
  virtual Status bind_output(size_t i, ValueId v) = 0;

  // --- building IR --------------------------------------------------------------
  virtual Graph& graph() = 0;
  const Value& value(ValueId v) { return graph().value(v); }
  // Appends a node with this node's SourceInfo; returns its (single) output value.
  virtual ValueId add_node(OpAttrs attrs, std::vector<ValueId> inputs, DType out_dtype,
                           std::vector<int64_t> out_shape) = 0;
  // Multi-output form.
  virtual std::vector<ValueId> add_node_multi(OpAttrs attrs, std::vector<ValueId> inputs,
                                              std::vector<std::pair<DType, std::vector<int64_t>>> outs) = 0;
  // New constant tensors (host bytes, contiguous).
  virtual ValueId add_constant(DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) = 0;
  virtual ValueId scalar_constant(double v, DType dtype) = 0;  // 0-d

  // --- common building blocks (shape inference included) ---------------------------
  virtual ValueId cast(ValueId v, DType to) = 0;                       // no-op if same dtype
  virtual ValueId reshape(ValueId v, std::vector<int64_t> shape) = 0;  // accepts one -1
  virtual ValueId unary(UnaryFn fn, ValueId x, double alpha = 0, double beta = 0) = 0;
  // Broadcasts; a, b must already share a dtype (use promote()).
  virtual ValueId binary(BinaryFn fn, ValueId a, ValueId b) = 0;
  // PyTorch's result_type for these operands (wrapped numbers, categories), then casts both.
  virtual DType result_type(const std::vector<ValueId>& operands) const = 0;
  virtual std::vector<ValueId> promote(const std::vector<ValueId>& operands) = 0;

  // --- errors -------------------------------------------------------------------------
  // kInvalidArgument / kUnsupported status prefixed with the node description
  // "[aten.conv2d.default] node 'conv2d_3' (model.py:42): ...".
  virtual Status error(std::string message) const = 0;
  virtual Status unsupported_error(std::string message) const = 0;

  // --- in-place writes through views (misc.cc) -------------------------------------
  // The export names that denote v in this graph scope.
  virtual std::vector<std::string> names_of(ValueId v) const = 0;
  // Later nodes that read `name` get v instead (what the write made of the tensor).
  virtual void rebind_name(const std::string& name, ValueId v) = 0;
  // A later read of `name` fails as an unsupported operation with `why` (a view
  // whose base was written in place: its old value would be stale).
  virtual void forbid_name(const std::string& name, std::string why) = 0;
  // Values that stand for a tensor written in place (results of rebind_name), each
  // with the export names that denote that tensor (the name it was created under
  // and the results of whole-tensor in-place ops on it, which PyTorch returns as
  // aliases): a further write rebinds all of them.
  virtual std::map<ValueId, std::vector<std::string>>& written_tensors() = 0;
};

// Normalizes a possibly negative dim against a rank (error if out of range).
Result<int64_t> normalize_dim(int64_t dim, int64_t rank);
// numpy broadcast of two shapes (nullopt if incompatible).
std::optional<std::vector<int64_t>> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

}  // namespace ingot::frontend
