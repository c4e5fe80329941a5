// Attention view folding: the attention kernels read q, k and v, and write their
// output, through strided views (ir/attention_geometry.h), so the copies that
// only rearrange heads around attention can go:
//   - operand side: a q/k/v input produced by a chain of Reshape / Permute /
//     Slice / Expand nodes is replaced by the chain's source tensor plus the
//     view the chain describes (BERT's [B, L, D] -> [B, L, H, E] -> [B, H, L, E]
//     transposes, ViT's packed-QKV split and head transposes, a merged q/k/v
//     projection's slices);
//   - output side: an output whose only use is a Permute keeping the head size
//     last is written straight into that permute's result ([B, L, H, E]).
// The chain is replayed as strided-view arithmetic from its source (the same
// rules as torch's views: a reshape folds only when it needs no copy); the
// farthest source that gives a view with contiguous head rows wins, so every
// copy on the way becomes dead (DCE removes it). Nodes of the chain that other
// consumers still read are left in place.
//
// On cuda a step is only folded where the flash kernel can run it (fp16/bf16,
// E == Ev in {32, 64, 128}, 16-byte aligned rows): the cuBLASLt tactic needs heads
// at one stride, and trading it for the fallback kernel would be slower than the
// copies. The CPU kernel reads any view.
#include <algorithm>
#include <optional>
#include <vector>

#include "ir/attention_geometry.h"
#include "passes/attention_folding.h"
#include "passes/view_algebra.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {
namespace {

struct FoldedOperand {
  ValueId source = kNoValue;
  AttnView view;
};

class AttentionViewFolder {
 public:
  AttentionViewFolder(Graph& g, bool cuda) : g_(g), cuda_(cuda) {}

  bool run() {
    uses_ = g_.use_counts();
    consumers_.assign(g_.num_values(), {});
    for (size_t i = 0; i < g_.num_nodes(); ++i)
      for (ValueId v : g_.node(static_cast<NodeId>(i)).inputs)
        if (v != kNoValue) consumers_[static_cast<size_t>(v)].push_back(static_cast<NodeId>(i));
    dead_.assign(g_.num_nodes(), false);
    bool changed = false;
    for (size_t i = 0; i < g_.num_nodes(); ++i) {
      const NodeId id = static_cast<NodeId>(i);
      if (g_.node(id).kind() == OpKind::kAttention) changed |= fold(id);
    }
    if (!changed) return false;
    erase_nodes(g_, dead_);
    return true;
  }

 private:
  Graph& g_;
  bool cuda_;
  std::vector<int> uses_;
  std::vector<std::vector<NodeId>> consumers_;
  std::vector<bool> dead_;

  // Views whose rows start 16 bytes apart, as the flash kernel's copies need.
  bool rows_aligned(const AttnView& v, DType dt) const {
    if (!cuda_) return true;
    const int64_t per16 = 16 / static_cast<int64_t>(dtype_size(dt));
    return v.offset % per16 == 0 && v.stride_b % per16 == 0 && v.stride_h % per16 == 0 && v.stride_row % per16 == 0;
  }

  // The farthest source of operand `operand` ([B, H, rows, width]) that reads as a view.
  FoldedOperand fold_operand(ValueId operand) const {
    std::vector<const Node*> chain;  // producer chain, nearest first
    for (ValueId v = operand;;) {
      const NodeId p = g_.value(v).producer;
      if (p < 0) break;
      const Node& n = g_.node(p);
      if (!is_view_node(n)) break;
      chain.push_back(&n);
      v = n.inputs[0];
    }
    const Value& op = g_.value(operand);
    for (size_t start = chain.size(); start > 0; --start) {  // farthest source first
      const ValueId source = chain[start - 1]->inputs[0];
      StridedView view = contiguous_view(g_.value(source).shape);
      bool ok = true;
      for (size_t i = start; i-- > 0 && ok;) ok = apply_node(g_, *chain[i], view);
      if (!ok || view.dims.size() != 4) continue;
      int64_t strides[4] = {};
      for (int d = 0; d < 4 && ok; ++d) ok = dim_size(view.dims[d]) == op.shape[d] && single_stride(view.dims[d], strides[d]);
      if (!ok || (op.shape[3] > 1 && strides[3] != 1)) continue;
      const AttnView av{view.offset, strides[0], strides[1], strides[2]};
      if (!rows_aligned(av, op.dtype)) continue;
      return {source, av};
    }
    const int64_t row = op.shape[3], head = op.shape[2] * row;
    return {operand, AttnView{0, op.shape[1] * head, head, row}};
  }
  // The permute the output could be written through, or -1.
  NodeId output_permute(ValueId out) const {
    if (uses_[static_cast<size_t>(out)] != 1 || consumers_[static_cast<size_t>(out)].size() != 1) return -1;
    const NodeId c = consumers_[static_cast<size_t>(out)][0];
    const Node& n = g_.node(c);
    if (n.kind() != OpKind::kPermute || n.inputs[0] != out) return -1;
    const auto& perm = std::get<PermuteAttrs>(n.attrs).perm;
    if (perm.size() != 4 || perm[3] != 3) return -1;
    return c;
  }

  bool fold(NodeId id) {
    Node& n = g_.node(id);
    const auto& attrs = std::get<AttentionAttrs>(n.attrs);
    if (!attention_foldable(g_, n, cuda_)) return false;
    const Value& q = g_.value(n.inputs[0]);
    auto geo = attention_geometry(attrs, q.shape, g_.value(n.inputs[1]).shape, g_.value(n.inputs[2]).shape,
                                  g_.value(n.outputs[0]).shape, "attention");
    if (!geo.ok()) return false;
    const AttnGeometry& ge = geo.value();
    FoldedOperand ops[3];
    bool any = false;
    for (int i = 0; i < 3; ++i) {
      ops[i] = fold_operand(n.inputs[i]);
      any |= ops[i].source != n.inputs[i];
    }
    AttnView out_view{0, ge.hq * ge.L * ge.Ev, ge.L * ge.Ev, ge.Ev};
    const NodeId perm_node = output_permute(n.outputs[0]);
    if (perm_node >= 0) {
      const auto& perm = std::get<PermuteAttrs>(g_.node(perm_node).attrs).perm;
      const std::vector<int64_t>& dst = g_.value(g_.node(perm_node).outputs[0]).shape;
      int64_t stride_of[4] = {}, stride = 1;
      for (size_t j = 4; j-- > 0;) {
        stride_of[perm[j]] = stride;
        stride *= dst[j];
      }
      out_view = AttnView{0, stride_of[0], stride_of[1], stride_of[2]};
      any = true;
    }
    if (!any) return false;
    AttentionAttrs folded = attrs;
    folded.dims = {ge.batch, ge.hq, ge.hkv, ge.L, ge.S, ge.E, ge.Ev};
    folded.views.clear();
    for (const AttnView& view : {ops[0].view, ops[1].view, ops[2].view, out_view})
      folded.views.insert(folded.views.end(), {view.offset, view.stride_b, view.stride_h, view.stride_row});
    n.attrs = folded;
    for (int i = 0; i < 3; ++i) n.inputs[i] = ops[i].source;
    if (perm_node >= 0) {
      // The attention writes the permute's result; the permute goes.
      n.outputs[0] = g_.node(perm_node).outputs[0];
      dead_[static_cast<size_t>(perm_node)] = true;
    }
    return true;
  }
};

// Gemm(permute(x)) with the permute keeping the last dim is permute(Gemm(x)):
// when the Gemm's output only feeds foldable attention, the permute moves below
// it (ViT's batch-first transpose before the packed QKV projection), where the
// fold then absorbs it. Returns true when a permute moved.
bool sink_permutes_below_projections(Graph& g, bool cuda) {
  const ValueUses uses = ValueUses::of(g);
  std::vector<Node> nodes;
  nodes.reserve(g.num_nodes() + 8);
  bool changed = false;
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    Node n = g.node(static_cast<NodeId>(i));
    const bool residual = n.inputs.size() > 3 && n.inputs[3] != kNoValue;
    const NodeId p = n.kind() == OpKind::kGemm && !n.inputs.empty() && n.inputs[0] != kNoValue && !residual
                         ? g.value(n.inputs[0]).producer
                         : -1;
    if (p < 0 || g.node(p).kind() != OpKind::kPermute || n.outputs.size() != 1) {
      nodes.push_back(std::move(n));
      continue;
    }
    const Node& permute = g.node(p);
    const auto& perm = std::get<PermuteAttrs>(permute.attrs).perm;
    const ValueId out = n.outputs[0];
    // The Gemm may read the permute with its leading dims flattened (fuse_gemm
    // bypasses a reshape between them): the permute can only move below it when
    // the Gemm's output keeps the permute's leading dims.
    const auto& permuted = g.value(permute.outputs[0]).shape;
    const auto& out_shape = g.value(out).shape;
    const bool same_leading = permuted.size() == out_shape.size() &&
                              std::equal(permuted.begin(), permuted.end() - 1, out_shape.begin());
    if (perm.empty() || perm.back() != static_cast<int64_t>(perm.size()) - 1 || !same_leading ||
        !feeds_only_foldable_attention(g, uses, out, cuda)) {
      nodes.push_back(std::move(n));
      continue;
    }
    const ValueId x = permute.inputs[0];
    Value unpermuted = g.value(out);
    unpermuted.name += "_unpermuted";
    unpermuted.shape = g.value(x).shape;
    unpermuted.shape.back() = g.value(out).shape.back();
    unpermuted.dim_symbols.clear();
    const ValueId inner = g.add_value(std::move(unpermuted));
    n.inputs[0] = x;
    n.outputs[0] = inner;
    Node moved;
    moved.attrs = permute.attrs;
    moved.inputs = {inner};
    moved.outputs = {out};
    moved.source = permute.source;
    nodes.push_back(std::move(n));
    nodes.push_back(std::move(moved));
    changed = true;
  }
  if (changed) g.set_nodes(std::move(nodes));
  return changed;
}

}  // namespace

ValueUses ValueUses::of(const Graph& g) {
  ValueUses u;
  u.consumers.assign(g.num_values(), {});
  u.is_output.assign(g.num_values(), false);
  for (size_t i = 0; i < g.num_nodes(); ++i)
    for (ValueId v : g.node(static_cast<NodeId>(i)).inputs)
      if (v != kNoValue) u.consumers[static_cast<size_t>(v)].push_back(static_cast<NodeId>(i));
  for (ValueId v : g.outputs) u.is_output[static_cast<size_t>(v)] = true;
  return u;
}


bool attention_foldable(const Graph& g, const Node& n, bool cuda) {
  if (n.kind() != OpKind::kAttention || n.outputs.size() != 1 || n.inputs.size() < 3) return false;
  const auto& attrs = std::get<AttentionAttrs>(n.attrs);
  if (!attrs.views.empty() || !attrs.dims.empty()) return false;
  for (int i = 0; i < 3; ++i)
    if (n.inputs[i] == kNoValue) return false;
  const Value& q = g.value(n.inputs[0]);
  const Value& k = g.value(n.inputs[1]);
  const Value& v = g.value(n.inputs[2]);
  const Value& o = g.value(n.outputs[0]);
  for (const Value* t : {&q, &k, &v, &o})
    if (t->shape.size() != 4 || t->dtype != q.dtype) return false;
  auto geo = attention_geometry(attrs, q.shape, k.shape, v.shape, o.shape, "attention");
  if (!geo.ok()) return false;
  if (!cuda) return true;
  const AttnGeometry& ge = geo.value();
  const bool half = q.dtype == DType::kFloat16 || q.dtype == DType::kBFloat16;
  return half && ge.E == ge.Ev && (ge.E == 32 || ge.E == 64 || ge.E == 128);
}

bool feeds_only_foldable_attention(const Graph& g, const ValueUses& uses, ValueId v, bool cuda) {
  if (uses.is_output[static_cast<size_t>(v)] || uses.consumers[static_cast<size_t>(v)].empty()) return false;
  for (NodeId c : uses.consumers[static_cast<size_t>(v)]) {
    const Node& n = g.node(c);
    if (n.kind() == OpKind::kAttention) {
      for (size_t i = 3; i < n.inputs.size(); ++i)
        if (n.inputs[i] == v) return false;  // the mask is read as a dense tensor
      if (!attention_foldable(g, n, cuda)) return false;
    } else if (!is_view_node(n) || !feeds_only_foldable_attention(g, uses, n.outputs[0], cuda)) {
      return false;
    }
  }
  return true;
}

bool run_fold_attention_views(Graph& g, bool cuda_backend) {
  const bool sunk = sink_permutes_below_projections(g, cuda_backend);
  return AttentionViewFolder(g, cuda_backend).run() || sunk;
}

}  // namespace ingot
