// Permute chains that undo each other around reshapes become one reshape. The
// layout and conv-as-gemm rewrites leave chains like NHWC -> permute to NCHW ->
// flatten -> transpose back (ViT's patch embedding), where every element ends up
// where it started: replayed as strided views (view_algebra.h) from the chain's
// source, the result is the source's own row-major layout, so the last node can
// read the source through a zero-copy reshape and the copies in between die
// (DCE). Chains through slices or expands are left alone (they are not
// contiguous by construction).
#include <vector>

#include "passes/passes.h"
#include "passes/view_algebra.h"

namespace ingot {

bool run_collapse_view_chains(Graph& g) {
  bool changed = false;
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    Node& n = g.node(static_cast<NodeId>(i));
    if (n.kind() != OpKind::kPermute || !is_view_node(n)) continue;
    // The producer chain of reshapes and permutes, nearest first (n included).
    std::vector<const Node*> chain = {&n};
    for (ValueId v = n.inputs[0];;) {
      const NodeId p = g.value(v).producer;
      if (p < 0) break;
      const Node& prev = g.node(p);
      if (prev.kind() != OpKind::kPermute && prev.kind() != OpKind::kReshape) break;
      if (!is_view_node(prev)) break;
      chain.push_back(&prev);
      v = prev.inputs[0];
    }
    const std::vector<int64_t>& out_shape = g.value(n.outputs[0]).shape;
    for (size_t start = chain.size(); start > 1; --start) {  // farthest source first; n alone is no chain
      const ValueId source = chain[start - 1]->inputs[0];
      StridedView view = contiguous_view(g.value(source).shape);
      bool ok = true;
      for (size_t k = start; k-- > 0 && ok;) ok = apply_node(g, *chain[k], view);
      if (!ok || !view_is_contiguous(view, out_shape)) continue;
      n.attrs = ReshapeAttrs{.shape = out_shape};
      n.inputs = {source};
      changed = true;
      break;
    }
  }
  return changed;
}

}  // namespace ingot
