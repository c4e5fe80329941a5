// Sibling GEMM merging: attention's q, k and v projections are three Gemms that
// read the same activation with their own constant weights. One Gemm over the
// weights concatenated along N reads the activation once and gives the GEMM
// kernel a wider, better-occupied problem; each old output becomes a Slice of the
// merged output along its last dim (fold_attention_views.cc then lets attention
// read those slices in place, so they cost no copy).
//
// A group is 2+ Gemms with the same input `a` (not itself a constant), identical
// attributes with no fused activation, no residual input, all with or all without
// a bias, constant 2-d weights with the same K and dtype, constant [N] biases of
// one dtype, and outputs of one dtype and one leading shape. The merged Gemm is
// placed where the group's first Gemm was (its inputs all exist there, and every
// slice comes later); each old Gemm node is rewritten in place into its Slice,
// keeping its output value id, so consumers are untouched. The pass runs after
// precision lowering, so constants are concatenated byte-wise by element size
// whatever their dtype. Constants left unused are dropped by DCE.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "passes/attention_folding.h"
#include "passes/passes.h"

namespace ingot {

namespace {

bool has_input(const Node& n, size_t i) { return n.inputs.size() > i && n.inputs[i] != kNoValue; }

// A constant whose bytes cover exactly its shape (anything else is left alone).
bool dense_constant(const Value& v) { return v.is_constant() && v.constant->size() == v.nbytes(); }

struct Candidate {
  NodeId node;
  int64_t n = 0;  // output columns this Gemm contributes
};

struct Group {
  ValueId a = kNoValue;
  GemmAttrs attrs;
  bool has_bias = false;
  int64_t k = 0;
  DType weight_dtype = DType::kFloat32;
  DType bias_dtype = DType::kFloat32;
  DType out_dtype = DType::kFloat32;
  std::vector<int64_t> leading_shape;  // output shape without its last dim
  std::vector<Candidate> members;
};

std::vector<int64_t> leading(const std::vector<int64_t>& shape) {
  return std::vector<int64_t>(shape.begin(), shape.end() - 1);
}

// Fills `group`'s key fields from Gemm `id` when it can be merged at all.
bool describe_candidate(const Graph& g, NodeId id, const std::vector<int>& uses, Group& key, int64_t& n_out) {
  const Node& node = g.node(id);
  if (node.kind() != OpKind::kGemm || node.outputs.size() != 1) return false;
  if (!has_input(node, 0) || !has_input(node, 1) || has_input(node, 3)) return false;
  const auto& attrs = std::get<GemmAttrs>(node.attrs);
  if (attrs.activation != -1) return false;
  const Value& a = g.value(node.inputs[0]);
  const Value& b = g.value(node.inputs[1]);
  const Value& out = g.value(node.outputs[0]);
  if (a.is_constant() || a.shape.empty()) return false;
  if (uses[static_cast<size_t>(node.outputs[0])] == 0) return false;  // dead: not worth computing
  if (!dense_constant(b) || b.shape.size() != 2) return false;
  const int64_t n = attrs.trans_b ? b.shape[0] : b.shape[1];
  const int64_t k = attrs.trans_b ? b.shape[1] : b.shape[0];
  if (n <= 0 || k != a.shape.back() || out.shape.empty() || out.shape.back() != n) return false;
  const bool has_bias = has_input(node, 2);
  if (has_bias) {
    const Value& bias = g.value(node.inputs[2]);
    // Only a bias of one row ([N], [1, N], ...) concatenates along N.
    if (!dense_constant(bias) || bias.shape.empty() || bias.shape.back() != n || bias.numel() != n) return false;
    key.bias_dtype = bias.dtype;
  }
  key.a = node.inputs[0];
  key.attrs = attrs;
  key.has_bias = has_bias;
  key.k = k;
  key.weight_dtype = b.dtype;
  key.out_dtype = out.dtype;
  key.leading_shape = leading(out.shape);
  n_out = n;
  return true;
}

bool same_group(const Group& x, const Group& y) {
  return x.a == y.a && x.attrs == y.attrs && x.has_bias == y.has_bias && x.k == y.k &&
         x.weight_dtype == y.weight_dtype && (!x.has_bias || x.bias_dtype == y.bias_dtype) &&
         x.out_dtype == y.out_dtype && x.leading_shape == y.leading_shape;
}

// Weights concatenated along N: rows for [N, K] (trans_b), columns for [K, N].
ValueId concat_weights(Graph& g, const Group& group, int64_t total_n) {
  const size_t esize = dtype_size(group.weight_dtype);
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  bytes->reserve(static_cast<size_t>(total_n * group.k) * esize);
  if (group.attrs.trans_b) {
    for (const Candidate& c : group.members) {
      const auto& src = *g.value(g.node(c.node).inputs[1]).constant;
      bytes->insert(bytes->end(), src.begin(), src.end());
    }
  } else {
    for (int64_t row = 0; row < group.k; ++row) {
      for (const Candidate& c : group.members) {
        const auto& src = *g.value(g.node(c.node).inputs[1]).constant;
        const size_t row_bytes = static_cast<size_t>(c.n) * esize;
        const auto begin = src.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(row) * row_bytes);
        bytes->insert(bytes->end(), begin, begin + static_cast<std::ptrdiff_t>(row_bytes));
      }
    }
  }
  const Node& first = g.node(group.members.front().node);
  std::string name = g.value(first.inputs[1]).name + "_merged";
  std::vector<int64_t> shape = group.attrs.trans_b ? std::vector<int64_t>{total_n, group.k}
                                                   : std::vector<int64_t>{group.k, total_n};
  return g.add_constant(std::move(name), group.weight_dtype, std::move(shape), std::move(bytes));
}

ValueId concat_biases(Graph& g, const Group& group, int64_t total_n) {
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  bytes->reserve(static_cast<size_t>(total_n) * dtype_size(group.bias_dtype));
  for (const Candidate& c : group.members) {
    const auto& src = *g.value(g.node(c.node).inputs[2]).constant;
    bytes->insert(bytes->end(), src.begin(), src.end());
  }
  std::string name = g.value(g.node(group.members.front().node).inputs[2]).name + "_merged";
  return g.add_constant(std::move(name), group.bias_dtype, {total_n}, std::move(bytes));
}

}  // namespace

bool run_merge_sibling_gemms(Graph& g, bool attention_operands_only, bool cuda_backend) {
  const std::vector<int> uses = g.use_counts();
  const ValueUses value_uses = ValueUses::of(g);
  std::vector<Group> groups;
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    const NodeId id = static_cast<NodeId>(i);
    Group key;
    int64_t n = 0;
    if (!describe_candidate(g, id, uses, key, n)) continue;
    if (attention_operands_only &&
        !feeds_only_foldable_attention(g, value_uses, g.node(id).outputs[0], cuda_backend))
      continue;
    Group* target = nullptr;
    for (Group& existing : groups)
      if (same_group(existing, key)) { target = &existing; break; }
    if (!target) {
      groups.push_back(std::move(key));
      target = &groups.back();
    }
    target->members.push_back({id, n});
  }

  // Per node: the merged Gemm to insert just before it (its group's first member).
  std::vector<Node> merged_before(g.num_nodes());
  std::vector<bool> has_merged_before(g.num_nodes(), false);
  bool changed = false;
  for (const Group& group : groups) {
    if (group.members.size() < 2) continue;
    int64_t total_n = 0;
    for (const Candidate& c : group.members) total_n += c.n;
    const ValueId weight = concat_weights(g, group, total_n);
    const ValueId bias = group.has_bias ? concat_biases(g, group, total_n) : kNoValue;

    const NodeId first_id = group.members.front().node;
    const Value& first_out = g.value(g.node(first_id).outputs[0]);
    Value merged;
    merged.name = first_out.name + "_merged";
    merged.dtype = group.out_dtype;
    merged.shape = first_out.shape;
    merged.shape.back() = total_n;
    merged.dim_symbols = first_out.dim_symbols;
    if (!merged.dim_symbols.empty()) merged.dim_symbols.back().clear();  // N is static
    const ValueId merged_out = g.add_value(std::move(merged));

    Node gemm;
    gemm.attrs = group.attrs;
    gemm.inputs = {group.a, weight};
    if (bias != kNoValue) gemm.inputs.push_back(bias);
    gemm.outputs = {merged_out};
    gemm.source = g.node(first_id).source;
    merged_before[static_cast<size_t>(first_id)] = std::move(gemm);
    has_merged_before[static_cast<size_t>(first_id)] = true;

    // Each Gemm becomes the slice of its columns, writing the same value.
    const int64_t last_dim = static_cast<int64_t>(g.value(merged_out).shape.size()) - 1;
    int64_t offset = 0;
    for (const Candidate& c : group.members) {
      Node& node = g.node(c.node);
      node.attrs = SliceAttrs{.dim = last_dim, .start = offset, .end = offset + c.n, .step = 1};
      node.inputs = {merged_out};
      offset += c.n;
    }
    changed = true;
  }
  if (!changed) return false;

  std::vector<Node> nodes;
  nodes.reserve(g.num_nodes() + groups.size());
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    if (has_merged_before[i]) nodes.push_back(std::move(merged_before[i]));
    nodes.push_back(std::move(g.nodes()[i]));
  }
  g.set_nodes(std::move(nodes));
  return true;
}

}  // namespace ingot
