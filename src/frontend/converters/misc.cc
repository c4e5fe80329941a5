// Converters for aten ops that compute nothing at inference time (dropout in eval
// mode, clone/detach/alias, export's runtime asserts, symbolic size queries) and
// for whole-tensor writes (copy, copy_, fill_, zero_).
//
// In-place writes need care in the training IR, which is not functionalized:
// swin_t builds its attention mask as `m = new_zeros(..); m[a:b, c:d] = k`, i.e.
// fill_ on a slice VIEW of a creation constant, after which `m` itself is read.
// Ingot values are immutable and a converter cannot rebind another node's name,
// so such a write is applied on the host to the constant the view chain starts
// from (creations are constants here), provided nothing has read that constant
// before. A write through a view of a computed tensor is refused with advice to
// export with run_decompositions(), which turns it into slice_scatter.
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

// clone / lift_fresh_copy of a small constant get a private copy, so that a later
// host-side in-place write (below) can never reach the original weight.
Status convert_copying_identity(ConvertContext& ctx) {
  INGOT_ASSIGN_OR_RETURN(ValueId x, ctx.get_tensor("self"));
  const Value& v = ctx.value(x);
  if (v.is_constant() && v.numel() <= 65536) {
    std::vector<uint8_t> bytes(*v.constant);
    ValueId copy = ctx.add_constant(v.dtype, v.shape, std::move(bytes));
    return bind_as_meta(ctx, 0, copy);
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

// The view nodes from a constant root to `v` (root first); nullopt when v is not a
// view of a constant.
struct ViewChain {
  ValueId root = kNoValue;
  std::vector<NodeId> nodes;
};
std::optional<ViewChain> view_chain_to_constant(ConvertContext& ctx, ValueId v) {
  ViewChain chain;
  while (!ctx.value(v).is_constant()) {
    NodeId p = ctx.value(v).producer;
    if (p < 0) return std::nullopt;
    const Node& n = ctx.graph().node(p);
    if (!is_view_node(n) || n.inputs.empty()) return std::nullopt;
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

// Whether anything other than view nodes has read `root` (directly or through views).
bool root_was_read(ConvertContext& ctx, ValueId root) {
  std::vector<bool> tainted(ctx.graph().num_values(), false);
  tainted[static_cast<size_t>(root)] = true;
  for (const Node& n : ctx.graph().nodes()) {
    bool reads = std::any_of(n.inputs.begin(), n.inputs.end(),
                             [&](ValueId v) { return v >= 0 && tainted[static_cast<size_t>(v)]; });
    if (!reads) continue;
    if (!is_view_node(n)) return true;
    for (ValueId o : n.outputs) tainted[static_cast<size_t>(o)] = true;
  }
  for (ValueId o : ctx.graph().outputs)
    if (tainted[static_cast<size_t>(o)]) return true;
  return false;
}

// Writes `src` (a constant broadcastable to self, or a single Scalar) into self.
// Returns the value to bind as the op's result.
Result<ValueId> write_into(ConvertContext& ctx, ValueId self, std::optional<ValueId> src_tensor, Scalar src_scalar) {
  const DType dt = ctx.value(self).dtype;
  const std::vector<int64_t> shape = ctx.value(self).shape;
  std::optional<ViewChain> chain = view_chain_to_constant(ctx, self);
  bool src_is_constant = !src_tensor || ctx.value(*src_tensor).is_constant();
  if (chain && src_is_constant && !chain->nodes.empty()) {
    if (root_was_read(ctx, chain->root))
      return ctx.unsupported_error("in-place write into a view of a tensor that was already read (export with run_decompositions())");
    std::vector<int64_t> offsets = view_offsets(ctx, *chain);
    Value& root = ctx.graph().value(chain->root);
    auto bytes = std::make_shared<std::vector<uint8_t>>(*root.constant);
    size_t src_numel = src_tensor ? static_cast<size_t>(ctx.value(*src_tensor).numel()) : 1;
    if (src_numel != 1 && src_numel != offsets.size())
      return ctx.unsupported_error("in-place copy from a source that needs broadcasting other than a single value");
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
  if (!chain) {
    // Walk once more: a view of a computed tensor cannot be written functionally here.
    NodeId p = ctx.value(self).producer;
    if (p >= 0 && is_view_node(ctx.graph().node(p)))
      return ctx.unsupported_error(
          "in-place write into a view of a computed tensor (export with run_decompositions() to functionalize it)");
  }
  // Whole-tensor write: the functional result (the importer rebinds in-place results).
  ValueId v = src_tensor ? ctx.cast(*src_tensor, dt) : fill_constant(ctx, dt, {}, src_scalar);
  if (ctx.value(v).shape.size() < shape.size() || ctx.value(v).shape != shape) {
    if (!src_tensor) v = ctx.reshape(v, std::vector<int64_t>(shape.size(), 1));
    INGOT_ASSIGN_OR_RETURN(v, expand_to(ctx, v, shape));
  }
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
  add_all(t, {"aten.clone.default", "aten.lift_fresh_copy.default", "aten.lift_fresh.default"},
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
