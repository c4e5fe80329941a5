// Build-time evaluation of IR nodes through cpu::run_kernel (see evaluate.h).
#include "passes/evaluate.h"

#include <string>

#include "backends/cpu/cpu_kernels.h"

namespace ingot {

namespace {

// Runs n with input data looked up by `data_of` (nullptr for absent inputs).
template <typename DataOf>
Result<std::vector<std::vector<uint8_t>>> run_node(const Graph& g, const Node& n, DataOf&& data_of) {
  std::vector<cpu::TensorRef> in_refs(n.inputs.size());
  std::vector<const cpu::TensorRef*> in_ptrs(n.inputs.size(), nullptr);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (n.inputs[i] == kNoValue) continue;
    const Value& v = g.value(n.inputs[i]);
    const uint8_t* data = data_of(n.inputs[i]);
    if (!data && v.nbytes() > 0)
      return internal_error(describe_node(n) + ": input %" + std::to_string(n.inputs[i]) + " has no data");
    in_refs[i].data = const_cast<uint8_t*>(data);  // kernels only read inputs
    in_refs[i].dtype = v.dtype;
    in_refs[i].shape = v.shape;
    in_ptrs[i] = &in_refs[i];
  }
  std::vector<std::vector<uint8_t>> out_bytes(n.outputs.size());
  std::vector<cpu::TensorRef> out_refs(n.outputs.size());
  std::vector<cpu::TensorRef*> out_ptrs(n.outputs.size());
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    const Value& v = g.value(n.outputs[i]);
    // At least one byte so data is never null for empty tensors.
    out_bytes[i].assign(v.nbytes() ? v.nbytes() : 1, 0);
    out_refs[i].data = out_bytes[i].data();
    out_refs[i].dtype = v.dtype;
    out_refs[i].shape = v.shape;
    out_ptrs[i] = &out_refs[i];
  }
  cpu::KernelArgs args{in_ptrs, out_ptrs};
  Status st = cpu::run_kernel(n.attrs, args);
  if (!st.ok()) return st.with_context(describe_node(n));
  for (size_t i = 0; i < n.outputs.size(); ++i) out_bytes[i].resize(g.value(n.outputs[i]).nbytes());
  return out_bytes;
}

}  // namespace

Result<std::vector<std::vector<uint8_t>>> evaluate_constant_node(const Graph& g, const Node& n) {
  return run_node(g, n, [&](ValueId v) -> const uint8_t* {
    const Value& val = g.value(v);
    return val.is_constant() ? val.constant->data() : nullptr;
  });
}

Result<std::vector<std::vector<uint8_t>>> evaluate_graph(const Graph& g,
                                                         const std::vector<std::vector<uint8_t>>& inputs) {
  if (inputs.size() != g.inputs.size())
    return invalid_argument("evaluate_graph: " + std::to_string(inputs.size()) + " inputs given, graph has " +
                            std::to_string(g.inputs.size()));
  std::vector<std::vector<uint8_t>> data(g.num_values());
  std::vector<bool> has(g.num_values(), false);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value& v = g.value(g.inputs[i]);
    if (inputs[i].size() != v.nbytes())
      return invalid_argument("evaluate_graph: input " + std::to_string(i) + " has " +
                              std::to_string(inputs[i].size()) + " bytes, expected " + std::to_string(v.nbytes()));
    data[static_cast<size_t>(g.inputs[i])] = inputs[i];
    has[static_cast<size_t>(g.inputs[i])] = true;
  }
  auto data_of = [&](ValueId v) -> const uint8_t* {
    const Value& val = g.value(v);
    if (val.is_constant()) return val.constant->data();
    return has[static_cast<size_t>(v)] ? data[static_cast<size_t>(v)].data() : nullptr;
  };
  for (const Node& n : g.nodes()) {
    INGOT_ASSIGN_OR_RETURN(auto outs, run_node(g, n, data_of));
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      data[static_cast<size_t>(n.outputs[i])] = std::move(outs[i]);
      has[static_cast<size_t>(n.outputs[i])] = true;
    }
  }
  std::vector<std::vector<uint8_t>> result;
  for (ValueId out : g.outputs) {
    const uint8_t* p = data_of(out);
    const size_t nb = g.value(out).nbytes();
    if (!p && nb) return internal_error("evaluate_graph: output %" + std::to_string(out) + " was never computed");
    result.emplace_back(p, p + nb);
  }
  return result;
}

}  // namespace ingot
