// Canonicalize: remove ops that do nothing and collapse chains that a single op
// can express, so later passes (CSE, fusion) see one spelling of each pattern.
// The frontend already drops dropout/clone/detach/alias; what remains here are
// identities that only show once shapes and dtypes are known: a reshape to the
// same shape, a cast to the same dtype, an identity permute or expand, and
// reshape-of-reshape / permute-of-permute chains. Three more come from the way
// transformers builds attention masks (mask[arange(B)[:, None, None, None],
// arange(S)[None, None, None, :]] & all_true, expanded to [B, H, L, S]):
//   - an index whose indices are constant aranges, each along its own axis in
//     order, only reshapes its input;
//   - and(x, all-true constant) is x broadcast to the result shape (an expand);
//   - an attention reading an expanded mask reads the unexpanded one (the kernels
//     broadcast masks themselves), so a [B, 1, 1, S] padding mask is not
//     materialized as [B, 1, L, S] and what computes it stays L times smaller.
//
// Identity nodes are removed by rewiring their uses. A graph output may end up
// aliasing a graph input, a constant or another output; that keeps IO
// semantics because the planner gives every output its own buffer and inserts
// a copy step where needed. Bypassed nodes stay until DCE removes them.
#include <optional>
#include <utility>
#include <vector>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

bool same_type(const Value& a, const Value& b) { return a.dtype == b.dtype && a.shape == b.shape; }

bool is_identity(const Graph& g, const Node& n) {
  if (n.outputs.size() != 1 || n.inputs.empty() || n.inputs[0] == kNoValue) return false;
  const Value& in = g.value(n.inputs[0]);
  const Value& out = g.value(n.outputs[0]);
  switch (n.kind()) {
    case OpKind::kReshape:
    case OpKind::kCast:
    case OpKind::kExpand:
      return same_type(in, out);
    case OpKind::kPermute: {
      const auto& perm = std::get<PermuteAttrs>(n.attrs).perm;
      for (size_t i = 0; i < perm.size(); ++i)
        if (perm[i] != static_cast<int64_t>(i)) return false;
      return same_type(in, out);
    }
    case OpKind::kSlice: {
      const auto& s = std::get<SliceAttrs>(n.attrs);
      return s.step == 1 && s.start == 0 && same_type(in, out);
    }
    default:
      return false;
  }
}

// True when index(in, idx...) reads `in` in order: the indexed dims are adjacent
// (torch then puts the broadcast index dims in their place) and each index is the
// constant 0..n-1 of its dim along its own axis of the broadcast index shape, the
// axes increasing with the dims and every other axis of size 1.
bool index_is_reshape(const Graph& g, const Node& n) {
  const IntList& dims = std::get<IndexAttrs>(n.attrs).indexed_dims;
  const Value& in = g.value(n.inputs[0]);
  const Value& out = g.value(n.outputs[0]);
  const int64_t k = static_cast<int64_t>(dims.size());
  const int64_t in_rank = static_cast<int64_t>(in.shape.size()), out_rank = static_cast<int64_t>(out.shape.size());
  if (k == 0 || in.dtype != out.dtype || n.inputs.size() != static_cast<size_t>(k) + 1) return false;
  const int64_t d0 = dims[0], rank_b = out_rank - (in_rank - k);
  if (d0 < 0 || d0 + k > in_rank || rank_b < 0) return false;
  for (int64_t j = 0; j < k; ++j)
    if (dims[static_cast<size_t>(j)] != d0 + j) return false;
  for (int64_t d = 0; d < d0; ++d)
    if (in.shape[static_cast<size_t>(d)] != out.shape[static_cast<size_t>(d)]) return false;
  for (int64_t d = d0 + k; d < in_rank; ++d)
    if (in.shape[static_cast<size_t>(d)] != out.shape[static_cast<size_t>(d - k + rank_b)]) return false;
  int64_t last_axis = -1, axes_used = 0;
  for (int64_t j = 0; j < k; ++j) {
    const Value& idx = g.value(n.inputs[static_cast<size_t>(j) + 1]);
    const std::optional<std::vector<int64_t>> values = int_constant(idx);
    const int64_t size = in.shape[static_cast<size_t>(d0 + j)];
    const int64_t idx_rank = static_cast<int64_t>(idx.shape.size());
    if (!values || idx_rank > rank_b) return false;
    if (size == 1) {  // any all-zero index of one element; it adds no axis
      if (values->size() != 1 || ((*values)[0] != 0 && (*values)[0] != -1)) return false;
      continue;
    }
    int64_t axis = -1;
    for (int64_t a = 0; a < idx_rank; ++a) {
      if (idx.shape[static_cast<size_t>(a)] == 1) continue;
      if (axis >= 0) return false;
      axis = a + rank_b - idx_rank;
    }
    if (axis <= last_axis || static_cast<int64_t>(values->size()) != size) return false;
    for (int64_t i = 0; i < size; ++i)
      if ((*values)[static_cast<size_t>(i)] != i) return false;
    last_axis = axis;
    ++axes_used;
  }
  int64_t wide_axes = 0;
  for (int64_t a = 0; a < rank_b; ++a) wide_axes += out.shape[static_cast<size_t>(d0 + a)] != 1;
  return wide_axes == axes_used;
}

// For and(x, c) / and(c, x) with c an all-true constant and x bool: the position
// of x, else -1.
int and_with_all_true(const Graph& g, const Node& n) {
  if (n.kind() != OpKind::kBinary || n.inputs.size() != 2 || g.value(n.outputs[0]).dtype != DType::kBool) return -1;
  const auto fn = static_cast<BinaryFn>(std::get<BinaryAttrs>(n.attrs).fn);
  if (fn != BinaryFn::kBitwiseAnd && fn != BinaryFn::kLogicalAnd) return -1;
  for (int side = 0; side < 2; ++side)
    if (all_true_constant(g.value(n.inputs[static_cast<size_t>(side)])) &&
        g.value(n.inputs[static_cast<size_t>(1 - side)]).dtype == DType::kBool)
      return 1 - side;
  return -1;
}

constexpr size_t kAttentionMask = 3;

}  // namespace

bool run_canonicalize(Graph& g) {
  bool changed = false;
  // Kept up to date while rewiring so dead nodes are skipped: a bypassed node
  // must not count as a change again (the pipeline iterates to a fixed point).
  std::vector<int> uses = g.use_counts();
  auto bypass = [&](ValueId out, ValueId in) {
    g.replace_all_uses(out, in);
    uses[static_cast<size_t>(in)] += uses[static_cast<size_t>(out)];
    uses[static_cast<size_t>(out)] = 0;
  };
  auto rewire_input = [&](Node& n, ValueId new_in, size_t pos = 0) {
    --uses[static_cast<size_t>(n.inputs[pos])];
    ++uses[static_cast<size_t>(new_in)];
    n.inputs[pos] = new_in;
  };
  // Turns n into a one-input view op of its input `keep`, dropping the others.
  auto make_view = [&](Node& n, OpAttrs attrs, size_t keep) {
    for (size_t p = 0; p < n.inputs.size(); ++p)
      if (p != keep && n.inputs[p] != kNoValue) --uses[static_cast<size_t>(n.inputs[p])];
    n.inputs = {n.inputs[keep]};
    n.attrs = std::move(attrs);
  };
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    Node& n = g.node(static_cast<NodeId>(i));
    bool live = false;
    for (ValueId out : n.outputs) live = live || uses[static_cast<size_t>(out)] > 0;
    if (!live) continue;
    if (is_identity(g, n)) {
      bypass(n.outputs[0], n.inputs[0]);
      changed = true;
      continue;
    }
    if (n.outputs.size() != 1 || n.inputs.empty() || n.inputs[0] == kNoValue) continue;
    if (n.kind() == OpKind::kIndex && index_is_reshape(g, n)) {
      make_view(n, ReshapeAttrs{g.value(n.outputs[0]).shape}, 0);
      changed = true;
      continue;
    }
    if (const int x = and_with_all_true(g, n); x >= 0) {
      const ValueId kept = n.inputs[static_cast<size_t>(x)];
      if (g.value(kept).shape == g.value(n.outputs[0]).shape) bypass(n.outputs[0], kept);
      else make_view(n, ExpandAttrs{g.value(n.outputs[0]).shape}, static_cast<size_t>(x));
      changed = true;
      continue;
    }
    if (n.kind() == OpKind::kAttention && n.inputs.size() > kAttentionMask && n.inputs[kAttentionMask] != kNoValue) {
      const Value& mask = g.value(n.inputs[kAttentionMask]);
      if (mask.producer >= 0 && g.node(mask.producer).kind() == OpKind::kExpand) {
        rewire_input(n, g.node(mask.producer).inputs[0], kAttentionMask);
        changed = true;
      }
    }
    const Value& in = g.value(n.inputs[0]);
    if (in.producer < 0) continue;
    const Node& producer = g.node(in.producer);
    // reshape(reshape(x)) -> reshape(x): element order is unchanged by both.
    if (n.kind() == OpKind::kReshape && producer.kind() == OpKind::kReshape) {
      rewire_input(n, producer.inputs[0]);
      changed = true;
      continue;
    }
    // permute(permute(x, p1), p2) -> permute(x, p1[p2[k]]).
    if (n.kind() == OpKind::kPermute && producer.kind() == OpKind::kPermute) {
      const auto& p1 = std::get<PermuteAttrs>(producer.attrs).perm;
      auto& p2 = std::get<PermuteAttrs>(n.attrs).perm;
      if (p1.size() != p2.size()) continue;
      IntList composed(p2.size());
      bool valid = true;
      for (size_t k = 0; k < p2.size(); ++k) {
        if (p2[k] < 0 || static_cast<size_t>(p2[k]) >= p1.size()) { valid = false; break; }
        composed[k] = p1[static_cast<size_t>(p2[k])];
      }
      if (!valid) continue;
      p2 = composed;
      rewire_input(n, producer.inputs[0]);
      changed = true;
      // The composed permute may itself be the identity.
      if (is_identity(g, n)) bypass(n.outputs[0], n.inputs[0]);
      continue;
    }
  }
  return changed;
}

}  // namespace ingot
