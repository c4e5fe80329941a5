// Bool attention masks become additive ones, computed once per mask: every
// Attention that reads a bool mask m reads where(m, 0, -inf) in the attention's
// dtype instead, and all attentions reading the same m share one Where.
//
// Why: a BERT-style model builds one padding mask and hands it to every layer.
// cuDNN's fused attention (the "cudnn" tactic) takes only additive masks, so
// with a bool mask each of its steps first converted the mask in its workspace:
// twelve identical conversions per BERT inference where one suffices. The other
// attention kernels read additive masks as they read bool ones.
//
// The numbers do not change: a kept position adds 0 to its score, a masked one
// makes it -inf, exactly what a false bool entry does inside the kernels, and a
// row whose every key is masked gives zeros both ways (the CPU kernel and the CUDA
// kernels treat an all -inf row as empty).
//
// Runs on CUDA builds after precision lowering (pipeline.cc), so the additive
// mask is created in the dtype the attention computes in.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/half.h"
#include "passes/passes.h"

namespace ingot {

namespace {

// One element of `t` holding v (0 or -inf here), as little-endian bytes.
ConstantData scalar_bytes(DType t, float v) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(dtype_size(t));
  auto put = [&](auto x) { std::memcpy(bytes->data(), &x, sizeof(x)); };
  if (t == DType::kFloat16) put(Half(v).bits);
  else if (t == DType::kBFloat16) put(BFloat16(v).bits);
  else if (t == DType::kFloat64) put(static_cast<double>(v));
  else put(v);
  return bytes;
}

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kFloat64;
}

}  // namespace

bool run_additive_attention_masks(Graph& g) {
  constexpr size_t kMaskInput = 3;
  // (bool mask, dtype) -> the additive mask made for it.
  std::map<std::pair<ValueId, DType>, ValueId> additive;
  std::vector<Node> nodes;
  nodes.reserve(g.num_nodes());
  bool changed = false;
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    Node n = g.node(static_cast<NodeId>(i));
    if (n.kind() == OpKind::kAttention && n.inputs.size() > kMaskInput && n.inputs[kMaskInput] != kNoValue &&
        g.value(n.inputs[kMaskInput]).dtype == DType::kBool && is_float(g.value(n.outputs[0]).dtype)) {
      const ValueId mask = n.inputs[kMaskInput];
      const DType t = g.value(n.outputs[0]).dtype;
      auto [it, inserted] = additive.try_emplace({mask, t}, kNoValue);
      if (inserted) {
        // Copy what is needed before add_value/add_constant grow the value table.
        const std::string name = g.value(mask).name;
        const std::vector<int64_t> shape = g.value(mask).shape;
        const std::string suffix = std::string("_") + dtype_name(t);
        const ValueId zero = g.add_constant(name + "_keep" + suffix, t, {}, scalar_bytes(t, 0.f));
        const ValueId neg_inf = g.add_constant(name + "_drop" + suffix, t, {}, scalar_bytes(t, -INFINITY));
        Value v;
        v.name = name + "_additive" + suffix;
        v.dtype = t;
        v.shape = shape;
        v.dim_symbols = g.value(mask).dim_symbols;
        it->second = g.add_value(std::move(v));
        Node where;
        where.attrs = WhereAttrs{};
        where.inputs = {mask, zero, neg_inf};
        where.outputs = {it->second};
        where.source = n.source;  // the first attention that reads the mask
        nodes.push_back(std::move(where));
      }
      n.inputs[kMaskInput] = it->second;
      changed = true;
    }
    nodes.push_back(std::move(n));
  }
  if (changed) g.set_nodes(std::move(nodes));
  return changed;
}

}  // namespace ingot
