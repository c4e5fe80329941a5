// Canonicalize: remove ops that do nothing and collapse chains that a single op
// can express, so later passes (CSE, fusion) see one spelling of each pattern.
// The frontend already drops dropout/clone/detach/alias; what remains here are
// identities that only show once shapes and dtypes are known: a reshape to the
// same shape, a cast to the same dtype, an identity permute or expand, and
// reshape-of-reshape / permute-of-permute chains.
//
// Identity nodes are removed by rewiring their uses. A graph output may end up
// aliasing a graph input, a constant or another output; that keeps IO
// semantics because the planner gives every output its own buffer and inserts
// a copy step where needed. Bypassed nodes stay until DCE removes them.
#include <vector>

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
  auto rewire_input = [&](Node& n, ValueId new_in) {
    --uses[static_cast<size_t>(n.inputs[0])];
    ++uses[static_cast<size_t>(new_in)];
    n.inputs[0] = new_in;
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
