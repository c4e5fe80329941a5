// Queries shared by the pattern-matching passes: see pass_util.h.
#include "passes/pass_util.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/half.h"
#include "ingot/dtype.h"

namespace ingot {

std::optional<double> scalar_constant(const Value& v) {
  if (!v.is_constant() || v.numel() != 1 || !v.constant || v.constant->size() < dtype_size(v.dtype))
    return std::nullopt;
  const uint8_t* p = v.constant->data();
  switch (v.dtype) {
    case DType::kFloat32: { float f; std::memcpy(&f, p, 4); return f; }
    case DType::kFloat64: { double d; std::memcpy(&d, p, 8); return d; }
    case DType::kFloat16: { uint16_t b; std::memcpy(&b, p, 2); return static_cast<float>(Half::from_bits(b)); }
    case DType::kBFloat16: { uint16_t b; std::memcpy(&b, p, 2); return static_cast<float>(BFloat16::from_bits(b)); }
    default: return std::nullopt;
  }
}

std::optional<std::vector<int64_t>> int_constant(const Value& v) {
  if (!v.is_constant() || (v.dtype != DType::kInt64 && v.dtype != DType::kInt32)) return std::nullopt;
  const size_t n = static_cast<size_t>(v.numel()), width = dtype_size(v.dtype);
  if (v.constant->size() < n * width) return std::nullopt;
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (width == 8) {
      std::memcpy(&out[i], v.constant->data() + 8 * i, 8);
    } else {
      int32_t x;
      std::memcpy(&x, v.constant->data() + 4 * i, 4);
      out[i] = x;
    }
  }
  return out;
}

bool all_true_constant(const Value& v) {
  if (!v.is_constant() || v.dtype != DType::kBool || v.constant->size() < static_cast<size_t>(v.numel())) return false;
  for (int64_t i = 0; i < v.numel(); ++i)
    if (!(*v.constant)[static_cast<size_t>(i)]) return false;
  return true;
}

UseIndex::UseIndex(const Graph& g) : consumers(g.num_values()), is_output(g.num_values(), false) {
  for (size_t i = 0; i < g.num_nodes(); ++i)
    for (ValueId v : g.node(static_cast<NodeId>(i)).inputs)
      if (v != kNoValue) consumers[static_cast<size_t>(v)].push_back(static_cast<NodeId>(i));
  for (ValueId v : g.outputs)
    if (v >= 0) is_output[static_cast<size_t>(v)] = true;
}

NodeId UseIndex::sole_consumer(ValueId v) const {
  if (v < 0 || is_output[static_cast<size_t>(v)]) return -1;
  const auto& c = consumers[static_cast<size_t>(v)];
  return c.size() == 1 ? c[0] : -1;
}

void erase_nodes(Graph& g, const std::vector<bool>& remove) {
  std::vector<Node> kept;
  kept.reserve(g.num_nodes());
  for (size_t i = 0; i < g.num_nodes(); ++i)
    if (!remove[i]) kept.push_back(std::move(g.node(static_cast<NodeId>(i))));
  g.set_nodes(std::move(kept));
}

bool binary_fn_is(const Node& n, BinaryFn fn) {
  return n.kind() == OpKind::kBinary && n.inputs.size() == 2 && n.outputs.size() == 1 &&
         static_cast<BinaryFn>(std::get<BinaryAttrs>(n.attrs).fn) == fn;
}

bool unary_fn_is(const Node& n, UnaryFn fn) {
  return n.kind() == OpKind::kUnary && n.inputs.size() == 1 && n.outputs.size() == 1 &&
         static_cast<UnaryFn>(std::get<UnaryAttrs>(n.attrs).fn) == fn;
}

}  // namespace ingot
