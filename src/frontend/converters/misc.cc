// Converters for aten ops that compute nothing at inference time (dropout in eval
// mode, clone/detach/alias, export's runtime asserts, symbolic size queries) and
// for whole-tensor writes (copy, copy_, fill_, zero_).
//
// In-place writes need care in the training IR, which is not functionalized:
// swin_t builds its attention mask as `m = new_zeros(..); m[a:b, c:d] = k`, i.e.
// fill_ on a slice VIEW of a creation constant, after which `m` itself is read.
// Ingot values are immutable, so a write into (a view of) a tensor that a creation
// op made is made functional: the tensor's new value is built backwards through the
// view chain (slice_scatter through a slice, the inverse permute through a permute)
// and the tensor's export name is rebound to it, so later readers of that name see
// the write and earlier ones do not. Other views of the written tensor become
// unreadable (a later read is refused: it would see stale values). RWKV writes
// `out = zeros_like(k); out[:, t] = ...` once per step this way; a constant written
// with constants before anything reads it is simply updated on the host (swin_t's
// mask). A write through a view of any other computed tensor (a clone of an input,
// say, which ingot does not copy) is refused with advice to export with
// run_decompositions(), which turns it into slice_scatter.
#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>

#include "frontend/converter.h"
#include "frontend/converters/data_util.h"

namespace ingot::frontend {
namespace {

using namespace data_util;

Status bind_identity(ConvertContext& ctx, const char* name) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor(name));
  return bind_as_meta(ctx, 0, x);
}

Status convert_identity(ConvertContext& ctx) { return bind_identity(ctx, "self"); }

// Ops with no tensor result, or whose result is a symbolic int that the static
// shapes already resolved: nothing to emit.
Status convert_nothing(ConvertContext&) { return Status::ok_status(); }

// dropout(input, p, train): the identity when not training.
Status convert_dropout(ConvertContext& ctx) {
  if (ctx.has_arg("train")) {
    INGOT_ASSIGN_OR_RETURN(bool train, ctx.get_bool("train"));
    if (train) return ctx.unsupported_error("dropout with train=True (export the model in eval() mode)");
  }
  // The functional overloads name the tensor "input", the in-place ones "self".
  return bind_identity(ctx, ctx.arg("input") ? "input" : "self");
}

// native_dropout(input, p, train) -> (output, mask); the mask is all true in inference.
Status convert_native_dropout(ConvertContext& ctx) {
  if (ctx.has_arg("train")) {
    INGOT_ASSIGN_OR_RETURN(bool train, ctx.get_bool("train"));
    if (train) return ctx.unsupported_error("native_dropout with train=True (export the model in eval() mode)");
  }
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("input"));
  if (ctx.output_used(0)) INGOT_RETURN_IF_ERROR(bind_as_meta(ctx, 0, x));
  if (ctx.num_outputs() > 1 && ctx.output_used(1)) {
    INGOT_ASSIGN_OR_RETURN(OutType ot, out_type(ctx, 1));
    INGOT_RETURN_IF_ERROR(ctx.bind_output(1, fill_constant(ctx, ot.dtype, ot.shape, int_scalar(1))));
  }
  return Status::ok_status();
}

bool contiguous_in_torch(ConvertContext& ctx, ValueId v);  // below, with the in-place writes

// clone / lift_fresh_copy of a small constant get a private copy, so that a later
// host-side in-place write (below) can never reach the original weight. A clone of
// a computed tensor is a new value too (an identity cast, which canonicalize
// removes), so that an in-place write into the clone can be made functional
// without touching the original; so is contiguous() of a tensor PyTorch holds
// non-contiguous (it copies then, and returns its input otherwise).
Status convert_copying_identity(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  const Value& v = ctx.value(x);
  if (v.is_constant() && v.numel() <= 65536) {
    std::vector<uint8_t> bytes(*v.constant);
    ValueId copy = ctx.add_constant(v.dtype, v.shape, std::move(bytes));
    return bind_as_meta(ctx, 0, copy);
  }
  const bool copies = ctx.target() == "aten.clone.default" ||
                      (ctx.target() == "aten.contiguous.default" && !contiguous_in_torch(ctx, x));
  if (!v.is_constant() && copies) {
    const DType dtype = v.dtype;
    const std::vector<int64_t> shape = v.shape;
    return bind_as_meta(ctx, 0, ctx.add_node(CastAttrs{}, {x}, dtype, shape));
  }
  return bind_as_meta(ctx, 0, x);
}

// --- host-side element access for constant writes ------------------------------------

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) bits = sign;
    else {  // subnormal: normalize
      int e = -1;
      do { ++e; mant <<= 1; } while (!(mant & 0x400u));
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

template <typename T>
T get(const std::vector<uint8_t>& b, size_t i) {
  T v;
  std::memcpy(&v, b.data() + i * sizeof(T), sizeof(T));
  return v;
}

Scalar load_element(const std::vector<uint8_t>& b, DType dt, size_t i) {
  switch (dt) {
    case DType::kFloat32: return float_scalar(get<float>(b, i));
    case DType::kFloat64: return float_scalar(get<double>(b, i));
    case DType::kFloat16: return float_scalar(half_to_float(get<uint16_t>(b, i)));
    case DType::kBFloat16: return float_scalar(std::bit_cast<float>(static_cast<uint32_t>(get<uint16_t>(b, i)) << 16));
    case DType::kInt64: return int_scalar(get<int64_t>(b, i));
    case DType::kInt32: return int_scalar(get<int32_t>(b, i));
    case DType::kInt16: return int_scalar(get<int16_t>(b, i));
    case DType::kInt8: return int_scalar(get<int8_t>(b, i));
    case DType::kUInt8: return int_scalar(get<uint8_t>(b, i));
    case DType::kBool: { Scalar s; s.is_bool = true; s.i = get<uint8_t>(b, i) ? 1 : 0; return s; }
  }
  return int_scalar(0);
}

bool is_view_node(const Node& n) {
  return n.kind() == OpKind::kSlice || n.kind() == OpKind::kReshape || n.kind() == OpKind::kPermute;
}

// Whether n's output is a tensor of its own in PyTorch too (never a view or an
// alias of its input): arithmetic, matrix products, reductions, concatenation, and
// the identity cast a clone becomes. Expand, gathers and other data movement are
// not listed (expand and diagonal are views in PyTorch).
bool makes_fresh_tensor(const Node& n) {
  switch (n.kind()) {
    case OpKind::kUnary: case OpKind::kBinary: case OpKind::kCast: case OpKind::kPointwise:
    case OpKind::kGemm: case OpKind::kMatMul: case OpKind::kConv: case OpKind::kReduce:
    case OpKind::kSoftmax: case OpKind::kLayerNorm: case OpKind::kRmsNorm: case OpKind::kGroupNorm:
    case OpKind::kBatchNorm: case OpKind::kConcat: case OpKind::kWhere: case OpKind::kAttention:
    case OpKind::kCumulative:
      return true;
    default:
      return false;
  }
}

// Whether two shapes differ only by dims of size 1 (squeeze / unsqueeze: a view of
// any tensor in PyTorch).
bool unit_dims_only(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> x, y;
  for (int64_t d : a) if (d != 1) x.push_back(d);
  for (int64_t d : b) if (d != 1) y.push_back(d);
  return x == y;
}

// Whether PyTorch's tensor for v is contiguous, judged from the view nodes that made
// it (anything else makes contiguous tensors). A reshape that does more than add
// or drop unit dims gives a contiguous tensor either way: a view of a contiguous
// input, else a copy.
bool contiguous_in_torch(ConvertContext& ctx, ValueId v) {
  const NodeId p = ctx.value(v).producer;
  if (p < 0) return true;
  const Node& n = ctx.graph().node(p);
  if (!is_view_node(n) || n.inputs.empty()) return true;
  const ValueId u = n.inputs[0];
  const std::vector<int64_t>& in = ctx.value(u).shape;
  if (n.kind() == OpKind::kReshape) return !unit_dims_only(in, ctx.value(v).shape) || contiguous_in_torch(ctx, u);
  if (!contiguous_in_torch(ctx, u)) return false;
  if (const auto* pm = std::get_if<PermuteAttrs>(&n.attrs)) {
    int64_t last = -1;  // the non-unit dims must keep their order
    for (int64_t d : pm->perm) {
      if (in[static_cast<size_t>(d)] == 1) continue;
      if (d < last) return false;
      last = d;
    }
    return true;
  }
  const auto& s = std::get<SliceAttrs>(n.attrs);
  const int64_t dim = s.dim < 0 ? s.dim + static_cast<int64_t>(in.size()) : s.dim;
  if (ctx.value(v).shape == in) return true;  // the whole dim
  if (s.step != 1) return false;
  for (int64_t d = 0; d < dim; ++d)
    if (in[static_cast<size_t>(d)] != 1) return false;
  return true;
}

// The view nodes from a root to `v` (root first): the root is a constant (what a
// creation op gives), a tensor an earlier in-place write produced, one that a
// fresh-tensor op computed, or the copy PyTorch's reshape makes of a
// non-contiguous tensor. nullopt when v is a view of anything else (an input).
struct ViewChain {
  ValueId root = kNoValue;
  std::vector<NodeId> nodes;
};
std::optional<ViewChain> view_chain_to_root(ConvertContext& ctx, ValueId v) {
  ViewChain chain;
  while (!ctx.value(v).is_constant() && !ctx.written_tensors().count(v)) {
    NodeId p = ctx.value(v).producer;
    if (p < 0) return std::nullopt;
    const Node& n = ctx.graph().node(p);
    if (makes_fresh_tensor(n)) break;
    if (!is_view_node(n) || n.inputs.empty()) return std::nullopt;
    if (n.kind() == OpKind::kReshape && !unit_dims_only(ctx.value(n.inputs[0]).shape, ctx.value(v).shape) &&
        !contiguous_in_torch(ctx, n.inputs[0]))
      break;  // PyTorch copied here: v is a tensor of its own
    chain.nodes.push_back(p);
    v = n.inputs[0];
  }
  chain.root = v;
  std::reverse(chain.nodes.begin(), chain.nodes.end());
  return chain;
}

// Element offsets into the root of every element of the view, in the view's order:
// the chain evaluated on the host over an iota of the root.
std::vector<int64_t> view_offsets(ConvertContext& ctx, const ViewChain& chain) {
  std::vector<int64_t> shape = ctx.value(chain.root).shape;
  std::vector<int64_t> data(static_cast<size_t>(numel_of(shape)));
  std::iota(data.begin(), data.end(), 0);
  for (NodeId id : chain.nodes) {
    const Node& n = ctx.graph().node(id);
    std::vector<int64_t> out_shape = ctx.value(n.outputs[0]).shape;
    if (const auto* s = std::get_if<SliceAttrs>(&n.attrs)) {
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < s->dim; ++d) outer *= shape[static_cast<size_t>(d)];
      for (size_t d = static_cast<size_t>(s->dim) + 1; d < shape.size(); ++d) inner *= shape[d];
      int64_t n_in = shape[static_cast<size_t>(s->dim)];
      int64_t n_out = out_shape[static_cast<size_t>(s->dim)];
      std::vector<int64_t> next;
      next.reserve(static_cast<size_t>(outer * n_out * inner));
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < n_out; ++k)
          for (int64_t i = 0; i < inner; ++i)
            next.push_back(data[static_cast<size_t>((o * n_in + s->start + k * s->step) * inner + i)]);
      data = std::move(next);
    } else if (const auto* p = std::get_if<PermuteAttrs>(&n.attrs)) {
      std::vector<int64_t> in_strides = contiguous_strides(shape);
      std::vector<int64_t> next(data.size());
      std::vector<int64_t> counter(out_shape.size(), 0);
      for (size_t e = 0; e < next.size(); ++e) {
        int64_t src = 0;
        for (size_t k = 0; k < out_shape.size(); ++k) src += counter[k] * in_strides[static_cast<size_t>(p->perm[k])];
        next[e] = data[static_cast<size_t>(src)];
        for (int64_t k = static_cast<int64_t>(out_shape.size()) - 1; k >= 0; --k) {
          if (++counter[static_cast<size_t>(k)] < out_shape[static_cast<size_t>(k)]) break;
          counter[static_cast<size_t>(k)] = 0;
        }
      }
      data = std::move(next);
    }  // Reshape keeps the element order.
    shape = out_shape;
  }
  return data;
}

// Values that are `root` or views of it (through view nodes), in graph order.
std::vector<bool> views_of(ConvertContext& ctx, ValueId root) {
  std::vector<bool> tainted(ctx.graph().num_values(), false);
  tainted[static_cast<size_t>(root)] = true;
  for (const Node& n : ctx.graph().nodes()) {
    if (!is_view_node(n) || n.inputs.empty() || n.inputs[0] < 0 || !tainted[static_cast<size_t>(n.inputs[0])]) continue;
    for (ValueId o : n.outputs) tainted[static_cast<size_t>(o)] = true;
  }
  return tainted;
}

// Whether anything other than view nodes has read `root` (directly or through views).
bool root_was_read(ConvertContext& ctx, ValueId root) {
  const std::vector<bool> tainted = views_of(ctx, root);
  for (const Node& n : ctx.graph().nodes()) {
    if (is_view_node(n)) continue;
    if (std::any_of(n.inputs.begin(), n.inputs.end(),
                    [&](ValueId v) { return v >= 0 && tainted[static_cast<size_t>(v)]; }))
      return true;
  }
  for (ValueId o : ctx.graph().outputs)
    if (tainted[static_cast<size_t>(o)]) return true;
  return false;
}

// The root's value after `updated` was written into the view at the chain's end:
// the chain walked backwards, each view's base getting the write.
ValueId scatter_through_views(ConvertContext& ctx, const ViewChain& chain, ValueId updated) {
  for (auto it = chain.nodes.rbegin(); it != chain.nodes.rend(); ++it) {
    const Node n = ctx.graph().node(*it);  // a copy: add_node may move the node list
    const ValueId base = n.inputs[0];
    const DType dtype = ctx.value(base).dtype;
    const std::vector<int64_t> shape = ctx.value(base).shape;
    if (const auto* sl = std::get_if<SliceAttrs>(&n.attrs)) {
      updated = ctx.add_node(SliceScatterAttrs{.dim = sl->dim, .start = sl->start, .end = sl->end, .step = sl->step},
                             {base, updated}, dtype, shape);
    } else if (const auto* pm = std::get_if<PermuteAttrs>(&n.attrs)) {
      std::vector<int64_t> inverse(pm->perm.size());
      for (size_t k = 0; k < pm->perm.size(); ++k) inverse[static_cast<size_t>(pm->perm[k])] = static_cast<int64_t>(k);
      updated = ctx.add_node(PermuteAttrs{.perm = inverse}, {updated}, dtype, shape);
    } else {
      updated = ctx.reshape(updated, shape);
    }
  }
  return updated;
}

// Writes `src` (a tensor broadcastable to self, or a single Scalar) into self.
// Returns the value to bind as the op's result.
Result<ValueId> write_into(ConvertContext& ctx, ValueId self, std::optional<ValueId> src_tensor, Scalar src_scalar) {
  const DType dt = ctx.value(self).dtype;
  const std::vector<int64_t> shape = ctx.value(self).shape;
  std::optional<ViewChain> chain = view_chain_to_root(ctx, self);
  const bool src_is_constant = !src_tensor || ctx.value(*src_tensor).is_constant();
  if (chain && src_is_constant && !chain->nodes.empty() && ctx.value(chain->root).is_constant() &&
      !ctx.written_tensors().count(chain->root) && !root_was_read(ctx, chain->root) &&
      ctx.names_of(chain->root).size() <= 1) {
    // A constant written with constants before anything read it: update its bytes.
    std::vector<int64_t> offsets = view_offsets(ctx, *chain);
    Value& root = ctx.graph().value(chain->root);
    auto bytes = std::make_shared<std::vector<uint8_t>>(*root.constant);
    size_t src_numel = src_tensor ? static_cast<size_t>(ctx.value(*src_tensor).numel()) : 1;
    if (src_numel == 1 || src_numel == offsets.size()) {
      for (size_t e = 0; e < offsets.size(); ++e) {
        Scalar v = src_scalar;
        if (src_tensor) {
          const Value& s = ctx.value(*src_tensor);
          v = load_element(*s.constant, s.dtype, src_numel == 1 ? 0 : e);
        }
        store_element(*bytes, root.dtype, static_cast<size_t>(offsets[e]), v);
      }
      root.constant = std::move(bytes);
      return self;  // the view node now reads the updated constant
    }
  }
  // The written contents of self: src cast to self's dtype and broadcast to its shape.
  ValueId v = src_tensor ? ctx.cast(*src_tensor, dt) : fill_constant(ctx, dt, {}, src_scalar);
  if (ctx.value(v).shape.size() < shape.size() || ctx.value(v).shape != shape) {
    if (!src_tensor) v = ctx.reshape(v, std::vector<int64_t>(shape.size(), 1));
    INGOT_ASSIGN_OR_RETURN(v, expand_to(ctx, v, shape));
  }
  if (chain) {
    // Functional write (see the file comment): the root's name now denotes its new
    // value. A creation constant must have exactly one name (a big constant that
    // clone() did not copy shares its id with the original); a tensor an earlier
    // write produced is owned by the name that write rebound.
    std::vector<std::string> owners;
    if (auto w = ctx.written_tensors().find(chain->root); w != ctx.written_tensors().end()) {
      owners = w->second;
    } else {
      const std::vector<std::string> names = ctx.names_of(chain->root);
      if (names.size() != 1)
        return ctx.unsupported_error(
            "in-place write into a tensor that " +
            std::string(names.empty() ? "has no name of its own" : "shares its data with '" + names[1] + "'") +
            " (export with run_decompositions() to functionalize it)");
      owners = names;
    }
    // Every other name of the old tensor or of a view of it would now read stale values.
    const std::vector<bool> stale = views_of(ctx, chain->root);
    for (ValueId old = 0; old < static_cast<ValueId>(stale.size()); ++old) {
      if (!stale[static_cast<size_t>(old)]) continue;
      for (const std::string& name : ctx.names_of(old))
        if (std::find(owners.begin(), owners.end(), name) == owners.end())
          ctx.forbid_name(name, "a view or alias of '" + owners[0] +
                                    "', which was written in place afterwards (export with run_decompositions())");
    }
    const ValueId root = scatter_through_views(ctx, *chain, v);
    for (const std::string& name : owners) ctx.rebind_name(name, root);
    // A whole-tensor write returns the tensor itself: its result is one more alias.
    if (chain->nodes.empty())
      for (const Argument& out : ctx.node().outputs)
        if (out.kind == Argument::Kind::kTensor && !out.name.empty()) owners.push_back(out.name);
    ctx.written_tensors()[root] = owners;
    return v;
  }
  NodeId p = ctx.value(self).producer;
  if (p >= 0 && is_view_node(ctx.graph().node(p)))
    return ctx.unsupported_error(
        "in-place write into a view of a tensor that may share its data with others (an input, or a view "
        "ingot cannot follow); export with run_decompositions() to functionalize it");
  // Whole-tensor write of a tensor whose aliases are not known: the functional result.
  return v;
}

Status convert_fill_scalar_(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(Scalar value, get_scalar(ctx, "value"));
  INGOT_ASSIGN_OR_RETURN(ValueId out, write_into(ctx, self, std::nullopt, value));
  return bind_as_meta(ctx, 0, out);
}

Status convert_fill_tensor_(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId value, ctx.get_tensor("value"));
  if (ctx.value(value).numel() != 1) return ctx.error("fill_ value must be a 0-d tensor");
  INGOT_ASSIGN_OR_RETURN(ValueId out, write_into(ctx, self, value, int_scalar(0)));
  return bind_as_meta(ctx, 0, out);
}

Status convert_zero_(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId out, write_into(ctx, self, std::nullopt, int_scalar(0)));
  return bind_as_meta(ctx, 0, out);
}

Status convert_copy_(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId src, ctx.get_tensor("src"));
  INGOT_ASSIGN_OR_RETURN(ValueId out, write_into(ctx, self, src, int_scalar(0)));
  return bind_as_meta(ctx, 0, out);
}

// copy(self, src): functional; src cast to self's dtype and broadcast to self's shape.
Status convert_copy(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId self, ctx.get_tensor("self"));
  INGOT_ASSIGN_OR_RETURN(ValueId src, ctx.get_tensor("src"));
  ValueId v = ctx.cast(src, ctx.value(self).dtype);
  INGOT_ASSIGN_OR_RETURN(v, expand_to(ctx, v, ctx.value(self).shape));
  return bind_as_meta(ctx, 0, v);
}

void add_all(ConverterTable& t, std::initializer_list<const char*> names, const ConverterFn& fn) {
  for (const char* n : names) t.add(n, fn);
}

}  // namespace

void register_misc_converters(ConverterTable& t) {
  add_all(t, {"aten.dropout.default", "aten.dropout_.default", "aten.feature_dropout.default",
              "aten.feature_dropout_.default", "aten.alpha_dropout.default", "aten.alpha_dropout_.default",
              "aten.feature_alpha_dropout.default", "aten.feature_alpha_dropout_.default"},
          convert_dropout);
  add_all(t, {"aten.native_dropout.default"}, convert_native_dropout);
  add_all(t, {"aten.detach.default", "aten.detach_.default", "aten.detach_copy.default", "aten.alias.default",
              "aten.alias_copy.default", "aten.lift.default"},
          convert_identity);
  add_all(t, {"aten.clone.default", "aten.contiguous.default", "aten.lift_fresh_copy.default",
              "aten.lift_fresh.default"},
          convert_copying_identity);
  add_all(t, {"aten._assert_tensor_metadata.default", "aten._assert_scalar.default",
              "aten.sym_constrain_range_for_size.default", "aten.sym_constrain_range.default",
              "aten._assert_async.default", "aten._assert_async.msg", "aten.sym_size.int", "aten.sym_numel.default",
              "aten.sym_stride.int", "aten.sym_storage_offset.default"},
          convert_nothing);
  add_all(t, {"aten.copy.default"}, convert_copy);
  add_all(t, {"aten.copy_.default"}, convert_copy_);
  add_all(t, {"aten.fill_.Scalar"}, convert_fill_scalar_);
  add_all(t, {"aten.fill_.Tensor"}, convert_fill_tensor_);
  add_all(t, {"aten.zero_.default"}, convert_zero_);
}

}  // namespace ingot::frontend
