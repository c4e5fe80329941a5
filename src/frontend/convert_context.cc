// The concrete ConvertContext (see convert_context.h): typed argument access
// with schema defaults, wrapped Python numbers, output binding checked against
// the export's recorded metadata, and the IR building blocks with their shape
// and dtype inference. Type promotion follows c10's result_type exactly for the
// dtypes ingot has (categories bool < integral < floating; 0-d tensors and
// wrapped numbers only raise the category, never the width within it).
#include "frontend/convert_context.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "frontend/pt2_internal.h"
#include "frontend/schema_defaults.h"

namespace ingot::frontend {

// ------------------------------------------------------------------ free helpers

std::string strip_torch_ops(const std::string& target) {
  static const std::string kPrefix = "torch.ops.";
  return target.rfind(kPrefix, 0) == 0 ? target.substr(kPrefix.size()) : target;
}

const char* argument_kind_name(Argument::Kind kind) {
  using K = Argument::Kind;
  switch (kind) {
    case K::kNone: return "None";
    case K::kTensor: return "a tensor";
    case K::kTensors: return "a tensor list";
    case K::kOptionalTensors: return "an optional-tensor list";
    case K::kInt: return "an int";
    case K::kInts: return "an int list";
    case K::kFloat: return "a float";
    case K::kFloats: return "a float list";
    case K::kBool: return "a bool";
    case K::kBools: return "a bool list";
    case K::kString: return "a string";
    case K::kStrings: return "a string list";
    case K::kScalarType: return "a dtype";
    case K::kMemoryFormat: return "a memory format";
    case K::kLayout: return "a layout";
    case K::kDevice: return "a device";
    case K::kSymInt: return "a SymInt";
    case K::kSymInts: return "a SymInt list";
    case K::kSymFloat: return "a SymFloat";
    case K::kSymBool: return "a SymBool";
    case K::kGraph: return "a subgraph";
    case K::kOther: return "an unsupported argument type";
  }
  return "?";
}

Result<int64_t> normalize_dim(int64_t dim, int64_t rank) {
  int64_t r = rank == 0 ? 1 : rank;  // torch treats a 0-d tensor's dim like a 1-d one
  if (dim < -r || dim >= r)
    return invalid_argument("dim " + std::to_string(dim) + " is out of range for a tensor of rank " +
                            std::to_string(rank));
  return dim < 0 ? dim + r : dim;
}

std::optional<std::vector<int64_t>> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else return std::nullopt;
  }
  return out;
}

namespace {

int category(DType t) { return t == DType::kBool ? 0 : is_floating(t) ? 2 : 1; }

int int_rank(DType t) {
  switch (t) {
    case DType::kInt8: return 1;
    case DType::kInt16: return 2;
    case DType::kInt32: return 3;
    case DType::kInt64: return 4;
    default: return 0;
  }
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  return out + "]";
}

template <typename T>
T saturating_cast(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  out.resize(sizeof(T));
  std::memcpy(out.data(), &v, sizeof(T));
}

}  // namespace

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::kBool) return b;
  if (b == DType::kBool) return a;
  bool fa = is_floating(a), fb = is_floating(b);
  if (fa != fb) return fa ? a : b;
  if (fa) {
    if (a == DType::kFloat64 || b == DType::kFloat64) return DType::kFloat64;
    return DType::kFloat32;  // f32 with anything, and f16 with bf16
  }
  // Integers: uint8 with a signed type needs the next signed width that holds both.
  if (a == DType::kUInt8 || b == DType::kUInt8) {
    DType other = a == DType::kUInt8 ? b : a;
    return other == DType::kInt8 ? DType::kInt16 : other;
  }
  return int_rank(a) >= int_rank(b) ? a : b;
}

std::vector<uint8_t> encode_scalar(double v, DType dtype) {
  std::vector<uint8_t> out;
  switch (dtype) {
    case DType::kFloat32: put(out, static_cast<float>(v)); break;
    case DType::kFloat64: put(out, v); break;
    case DType::kFloat16: put(out, float_to_half_bits(static_cast<float>(v))); break;
    case DType::kBFloat16: put(out, float_to_bf16_bits(static_cast<float>(v))); break;
    case DType::kInt64: put(out, saturating_cast<int64_t>(v)); break;
    case DType::kInt32: put(out, static_cast<int32_t>(saturating_cast<int64_t>(v))); break;
    case DType::kInt16: put(out, static_cast<int16_t>(saturating_cast<int64_t>(v))); break;
    case DType::kInt8: put(out, static_cast<int8_t>(saturating_cast<int64_t>(v))); break;
    case DType::kUInt8: put(out, static_cast<uint8_t>(saturating_cast<int64_t>(v))); break;
    case DType::kBool: put(out, static_cast<uint8_t>(v != 0 ? 1 : 0)); break;
  }
  return out;
}

// ---------------------------------------------------------------- ConverterTable

const ConverterFn* ConverterTable::find(std::string_view target) const {
  auto it = fns_.find(target);
  return it == fns_.end() ? nullptr : &it->second;
}

std::vector<std::string> ConverterTable::targets() const {
  std::vector<std::string> out;
  for (const auto& [name, fn] : fns_) out.push_back(name);
  return out;
}

// ------------------------------------------------------------ NodeConvertContext

NodeConvertContext::NodeConvertContext(ImportState& state, ImportScope& scope, const NodeDef& node)
    : state_(state), scope_(scope), node_(node), target_(strip_torch_ops(node.target)) {
  auto [location, code] = user_source_location(node);
  source_ = SourceInfo{node.name, target_, location, code};
  for (const Argument& o : node.outputs) {
    using K = Argument::Kind;
    switch (o.kind) {
      case K::kTensor: outputs_.push_back({o.name, true}); break;
      case K::kTensors:
        for (const std::string& n : o.names) outputs_.push_back({n, true});
        break;
      case K::kOptionalTensors:
        for (const std::string& n : o.names) outputs_.push_back({n, !n.empty()});
        break;
      case K::kSymInt: case K::kSymFloat: case K::kSymBool: outputs_.push_back({o.name, false}); break;
      default: outputs_.push_back({"", false}); break;
    }
  }
  bound_.assign(outputs_.size(), false);
}

std::string NodeConvertContext::describe() const {
  std::string d = "[" + target_ + "] node '" + node_.name + "'";
  if (!source_.location.empty()) d += " (" + source_.location + ")";
  return d;
}

Status NodeConvertContext::error(std::string message) const {
  return invalid_argument(describe() + ": " + message);
}
Status NodeConvertContext::unsupported_error(std::string message) const {
  return unsupported(describe() + ": " + message);
}
void NodeConvertContext::defer(Status s) {
  if (deferred_.ok()) deferred_ = std::move(s);
}

const Argument* NodeConvertContext::arg(std::string_view name) const {
  for (const NamedArg& a : node_.inputs)
    if (a.name == name) return &a.arg;
  return schema_default(target_, name);
}

Result<const Argument*> NodeConvertContext::required(std::string_view name) const {
  const Argument* a = arg(name);
  if (!a) return error("missing required argument '" + std::string(name) + "'");
  if (a->kind == Argument::Kind::kNone) return error("argument '" + std::string(name) + "' is None");
  return a;
}

Status NodeConvertContext::kind_error(std::string_view name, const Argument& a, const char* wanted) const {
  return error("argument '" + std::string(name) + "' should be " + wanted + ", got " + argument_kind_name(a.kind));
}

Result<int64_t> NodeConvertContext::get_int(std::string_view name) const {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  using K = Argument::Kind;
  if (a->kind == K::kInt) return a->i;
  if (a->kind == K::kBool) return int64_t{a->b};
  if (a->kind == K::kSymInt) {
    if (!a->name.empty() && a->i < 0)
      return unsupported_error("argument '" + std::string(name) + "' is the symbolic value '" + a->name +
                               "' without an example value");
    return a->i;
  }
  return kind_error(name, *a, "an int");
}

Result<double> NodeConvertContext::get_float(std::string_view name) const {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  using K = Argument::Kind;
  switch (a->kind) {
    case K::kFloat: return a->f;
    case K::kInt: return static_cast<double>(a->i);
    case K::kBool: return a->b ? 1.0 : 0.0;
    case K::kSymFloat:
      if (a->name.empty()) return a->f;
      return unsupported_error("argument '" + std::string(name) + "' is the symbolic float '" + a->name + "'");
    case K::kSymInt: {
      INGOT_ASSIGN_OR_RETURN(int64_t v, get_int(name));
      return static_cast<double>(v);
    }
    default: return kind_error(name, *a, "a number");
  }
}

Result<bool> NodeConvertContext::get_bool(std::string_view name) const {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  using K = Argument::Kind;
  if (a->kind == K::kBool) return a->b;
  if (a->kind == K::kInt) return a->i != 0;
  if (a->kind == K::kSymBool && a->name.empty()) return a->b;
  return kind_error(name, *a, "a bool");
}

Result<std::vector<int64_t>> NodeConvertContext::get_ints(std::string_view name) const {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  using K = Argument::Kind;
  switch (a->kind) {
    case K::kInts: return a->ints;
    case K::kInt: return std::vector<int64_t>{a->i};
    case K::kSymInt: {
      INGOT_ASSIGN_OR_RETURN(int64_t v, get_int(name));
      return std::vector<int64_t>{v};
    }
    case K::kSymInts:
      for (size_t i = 0; i < a->ints.size(); ++i)
        if (a->ints[i] < 0 && i < a->names.size() && !a->names[i].empty())
          return unsupported_error("argument '" + std::string(name) + "' holds the symbolic value '" + a->names[i] +
                                   "' without an example value");
      return a->ints;
    default: return kind_error(name, *a, "an int list");
  }
}

Result<std::vector<double>> NodeConvertContext::get_floats(std::string_view name) const {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  using K = Argument::Kind;
  switch (a->kind) {
    case K::kFloats: return a->floats;
    case K::kFloat: return std::vector<double>{a->f};
    case K::kInt: return std::vector<double>{static_cast<double>(a->i)};
    case K::kInts: case K::kSymInts: {
      INGOT_ASSIGN_OR_RETURN(std::vector<int64_t> ints, get_ints(name));
      return std::vector<double>(ints.begin(), ints.end());
    }
    default: return kind_error(name, *a, "a float list");
  }
}

Result<std::string> NodeConvertContext::get_string(std::string_view name) const {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  if (a->kind == Argument::Kind::kString) return a->s;
  return kind_error(name, *a, "a string");
}

Result<DType> NodeConvertContext::get_dtype(std::string_view name) const {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  if (a->kind != Argument::Kind::kScalarType) return kind_error(name, *a, "a dtype");
  std::optional<DType> t = pt2::dtype_from_scalar_type(a->i);
  if (!t) return unsupported_error(std::string("dtype ") + pt2::scalar_type_name(a->i) + " is not supported");
  return *t;
}

// ------------------------------------------------------------------ tensors

ValueId NodeConvertContext::wrapped_constant(double value, DType logical) {
  ValueId v = scalar_constant(value, logical);
  state_.wrapped[v] = WrappedNumber{value, logical};
  return v;
}

ValueId ImportScope::find(const std::string& name, std::string* forbidden_why) const {
  if (auto f = forbidden.find(name); f != forbidden.end()) {
    *forbidden_why = f->second;
    return kNoValue;
  }
  auto it = values.find(name);
  return it == values.end() ? kNoValue : it->second;
}

Result<ValueId> NodeConvertContext::lookup(const std::string& name) const {
  std::string why;
  const ValueId v = scope_.find(name, &why);
  if (!why.empty()) return unsupported_error("reads '" + name + "', " + why);
  if (v == kNoValue) return internal_error(describe() + ": input '" + name + "' is not defined before its use");
  return v;
}

std::vector<std::string> NodeConvertContext::names_of(ValueId v) const {
  std::vector<std::string> names;
  for (const auto& [name, value] : scope_.values)
    if (value == v && !scope_.forbidden.count(name)) names.push_back(name);
  return names;
}

void NodeConvertContext::rebind_name(const std::string& name, ValueId v) {
  scope_.values[name] = v;
  scope_.forbidden.erase(name);
}

void NodeConvertContext::forbid_name(const std::string& name, std::string why) {
  scope_.forbidden[name] = std::move(why) + " (written in place by " + describe() + ")";
}

Result<ValueId> NodeConvertContext::get_tensor(std::string_view name) {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  using K = Argument::Kind;
  switch (a->kind) {
    case K::kTensor: return lookup(a->name);
    // Python numbers where a Tensor is expected: 0-d "wrapped numbers".
    case K::kInt: return wrapped_constant(static_cast<double>(a->i), DType::kInt64);
    case K::kFloat: return wrapped_constant(a->f, DType::kFloat32);
    case K::kBool: return wrapped_constant(a->b ? 1.0 : 0.0, DType::kBool);
    case K::kSymInt: {
      INGOT_ASSIGN_OR_RETURN(int64_t v, get_int(name));
      return wrapped_constant(static_cast<double>(v), DType::kInt64);
    }
    default: return kind_error(name, *a, "a tensor");
  }
}

Result<std::vector<ValueId>> NodeConvertContext::get_optional_tensors(std::string_view name) {
  INGOT_ASSIGN_OR_RETURN(const Argument* a, required(name));
  using K = Argument::Kind;
  if (a->kind != K::kTensors && a->kind != K::kOptionalTensors) return kind_error(name, *a, "a tensor list");
  std::vector<ValueId> out;
  for (const std::string& n : a->names) {
    if (n.empty()) {
      out.push_back(kNoValue);
      continue;
    }
    INGOT_ASSIGN_OR_RETURN(ValueId v, lookup(n));
    out.push_back(v);
  }
  return out;
}

Result<std::vector<ValueId>> NodeConvertContext::get_tensors(std::string_view name) {
  INGOT_ASSIGN_OR_RETURN(std::vector<ValueId> out, get_optional_tensors(name));
  for (ValueId v : out)
    if (v == kNoValue) return error("argument '" + std::string(name) + "' holds a None where a tensor is required");
  return out;
}

bool NodeConvertContext::is_wrapped_number(ValueId v) const { return state_.wrapped.count(v) != 0; }

// ------------------------------------------------------------------ outputs

Result<TensorMetaDef> NodeConvertContext::output_meta(size_t i) const {
  if (i >= outputs_.size())
    return internal_error(describe() + ": output " + std::to_string(i) + " does not exist (the node has " +
                          std::to_string(outputs_.size()) + ")");
  const OutputSlot& slot = outputs_[i];
  if (!slot.is_tensor) return internal_error(describe() + ": output " + std::to_string(i) + " is not a tensor");
  auto it = scope_.graph_def->tensor_values.find(slot.name);
  if (it == scope_.graph_def->tensor_values.end())
    return internal_error(describe() + ": output '" + slot.name + "' has no recorded tensor metadata");
  if (!it->second.dtype)
    return unsupported_error("output '" + slot.name + "' has dtype " + pt2::scalar_type_name(it->second.scalar_type) +
                             ", which ingot does not support");
  return it->second;
}

bool NodeConvertContext::output_used(size_t i) const {
  return i < outputs_.size() && !outputs_[i].name.empty() && scope_.used.count(outputs_[i].name) != 0;
}

Status NodeConvertContext::bind_output(size_t i, ValueId v) {
  if (i >= outputs_.size())
    return internal_error(describe() + ": bind_output(" + std::to_string(i) + ") but the node has " +
                          std::to_string(outputs_.size()) + " outputs");
  if (v < 0 || static_cast<size_t>(v) >= state_.graph.num_values())
    return internal_error(describe() + ": bind_output(" + std::to_string(i) + ") with an invalid value id");
  const OutputSlot& slot = outputs_[i];
  if (slot.name.empty()) return Status::ok_status();  // a None output: nothing to bind
  Value& value = state_.graph.value(v);
  if (slot.is_tensor) {
    INGOT_ASSIGN_OR_RETURN(TensorMetaDef meta, output_meta(i));
    bool same = value.shape.size() == meta.sizes.size() && *meta.dtype == value.dtype;
    for (size_t d = 0; same && d < meta.sizes.size(); ++d)
      if (meta.sizes[d] >= 0 && meta.sizes[d] != value.shape[d]) same = false;
    if (!same)
      return internal_error(describe() + ": output " + std::to_string(i) + " ('" + slot.name + "') should be " +
                            dtype_name(*meta.dtype) + shape_str(meta.sizes) + " as the export recorded, but the "
                            "converter produced " + dtype_name(value.dtype) + shape_str(value.shape));
    bool symbolic = false;
    for (const std::string& s : meta.size_symbols) symbolic |= !s.empty();
    if (symbolic && value.dim_symbols.empty()) value.dim_symbols = meta.size_symbols;
  }
  if (created_.count(v)) value.name = slot.name;
  scope_.values[slot.name] = v;
  scope_.forbidden.erase(slot.name);
  bound_[i] = true;
  return Status::ok_status();
}

// ------------------------------------------------------------------ building IR

std::string NodeConvertContext::fresh_name() {
  return node_.name + "#" + std::to_string(state_.value_counter++);
}

ValueId NodeConvertContext::add_node(OpAttrs attrs, std::vector<ValueId> inputs, DType out_dtype,
                                     std::vector<int64_t> out_shape) {
  return add_node_multi(std::move(attrs), std::move(inputs), {{out_dtype, std::move(out_shape)}}).front();
}

std::vector<ValueId> NodeConvertContext::add_node_multi(OpAttrs attrs, std::vector<ValueId> inputs,
                                                        std::vector<std::pair<DType, std::vector<int64_t>>> outs) {
  Node n;
  n.attrs = std::move(attrs);
  n.inputs = std::move(inputs);
  n.source = source_;
  for (auto& [dtype, shape] : outs) {
    Value v;
    v.name = fresh_name();
    v.dtype = dtype;
    v.shape = std::move(shape);
    ValueId id = state_.graph.add_value(std::move(v));
    created_.insert(id);
    n.outputs.push_back(id);
  }
  std::vector<ValueId> result = n.outputs;
  state_.graph.add_node(std::move(n));
  return result;
}

ValueId NodeConvertContext::add_constant(DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel < 0 || bytes.size() != static_cast<size_t>(numel) * dtype_size(dtype))
    defer(internal_error(describe() + ": a constant of " + dtype_name(dtype) + shape_str(shape) + " was given " +
                         std::to_string(bytes.size()) + " bytes"));
  ValueId id = state_.graph.add_constant(fresh_name(), dtype, std::move(shape),
                                         std::make_shared<const std::vector<uint8_t>>(std::move(bytes)));
  created_.insert(id);
  return id;
}

ValueId NodeConvertContext::scalar_constant(double v, DType dtype) {
  return add_constant(dtype, {}, encode_scalar(v, dtype));
}

ValueId NodeConvertContext::cast(ValueId v, DType to) {
  if (v == kNoValue) return v;
  const Value& value = state_.graph.value(v);
  if (value.dtype == to) return v;
  if (auto it = state_.wrapped.find(v); it != state_.wrapped.end()) {
    // Re-make the number in the new dtype rather than adding a cast node.
    WrappedNumber w = it->second;
    ValueId c = scalar_constant(w.value, to);
    state_.wrapped[c] = w;
    return c;
  }
  std::vector<int64_t> shape = value.shape;
  return add_node(CastAttrs{}, {v}, to, std::move(shape));
}

ValueId NodeConvertContext::reshape(ValueId v, std::vector<int64_t> shape) {
  const Value& value = state_.graph.value(v);
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && infer_at < 0) infer_at = static_cast<int64_t>(i);
    else known *= shape[i];
  }
  int64_t numel = value.numel();
  if (infer_at >= 0) {
    if (known > 0 && numel % known == 0) shape[static_cast<size_t>(infer_at)] = numel / known;
    else if (known == 0 && numel == 0) shape[static_cast<size_t>(infer_at)] = 0;
    else defer(error("cannot reshape " + shape_str(value.shape) + " to " + shape_str(shape)));
  } else if (known != numel) {
    defer(error("cannot reshape " + shape_str(value.shape) + " (" + std::to_string(numel) + " elements) to " +
                shape_str(shape)));
  }
  if (shape == value.shape) return v;
  ReshapeAttrs attrs;
  attrs.shape = shape;
  DType dtype = value.dtype;
  return add_node(attrs, {v}, dtype, std::move(shape));
}

ValueId NodeConvertContext::unary(UnaryFn fn, ValueId x, double alpha, double beta) {
  const Value& value = state_.graph.value(x);
  DType out = (fn == UnaryFn::kLogicalNot || fn == UnaryFn::kIsNan) ? DType::kBool : value.dtype;
  UnaryAttrs attrs;
  attrs.fn = static_cast<int64_t>(fn);
  attrs.alpha = alpha;
  attrs.beta = beta;
  std::vector<int64_t> shape = value.shape;
  return add_node(attrs, {x}, out, std::move(shape));
}

ValueId NodeConvertContext::binary(BinaryFn fn, ValueId a, ValueId b) {
  const Value& va = state_.graph.value(a);
  const Value& vb = state_.graph.value(b);
  if (va.dtype != vb.dtype)
    defer(internal_error(describe() + ": binary " + binary_fn_name(fn) + " operands have dtypes " +
                         dtype_name(va.dtype) + " and " + dtype_name(vb.dtype) + " (promote them first)"));
  auto shape = broadcast_shapes(va.shape, vb.shape);
  if (!shape) defer(error("shapes " + shape_str(va.shape) + " and " + shape_str(vb.shape) + " do not broadcast"));
  DType out = binary_fn_is_comparison(fn) ? DType::kBool : va.dtype;
  BinaryAttrs attrs;
  attrs.fn = static_cast<int64_t>(fn);
  std::vector<int64_t> out_shape = shape ? *shape : va.shape;
  return add_node(attrs, {a, b}, out, std::move(out_shape));
}

DType NodeConvertContext::result_type(const std::vector<ValueId>& operands) const {
  // c10's ResultTypeState: dim tensors, 0-d tensors and wrapped numbers are
  // promoted separately, then combined so that the lower-priority groups can
  // raise the category (bool < int < float) but not the width.
  std::optional<DType> dim, zero, wrapped;
  auto update = [](std::optional<DType>& slot, DType t) { slot = slot ? promote_types(*slot, t) : t; };
  for (ValueId v : operands) {
    if (v == kNoValue) continue;
    const Value& value = state_.graph.value(v);
    if (auto it = state_.wrapped.find(v); it != state_.wrapped.end()) {
      DType logical = it->second.logical;
      update(wrapped, is_floating(logical) ? DType::kFloat32 : logical);
    } else if (value.shape.empty()) {
      update(zero, value.dtype);
    } else {
      update(dim, value.dtype);
    }
  }
  auto combine = [](std::optional<DType> higher, std::optional<DType> lower) -> std::optional<DType> {
    if (!higher) return lower;
    if (!lower) return higher;
    if (is_floating(*higher)) return higher;
    if (*higher == DType::kBool || category(*lower) > category(*higher)) return promote_types(*higher, *lower);
    return higher;
  };
  std::optional<DType> r = combine(dim, combine(zero, wrapped));
  return r ? *r : DType::kFloat32;
}

std::vector<ValueId> NodeConvertContext::promote(const std::vector<ValueId>& operands) {
  DType t = result_type(operands);
  std::vector<ValueId> out;
  for (ValueId v : operands) out.push_back(cast(v, t));
  return out;
}

}  // namespace ingot::frontend
