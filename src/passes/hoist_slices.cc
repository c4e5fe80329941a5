// Slice hoisting: compute only the rows a model keeps. A classifier that reads one
// token of the last hidden state (ViT's class token x[:, 0], a [CLS] pooler, an
// LM's last position) slices it at the very end, so every op before the slice
// computed all rows. Ops whose output row i depends only on their inputs' row i
// commute with the slice, so the slice moves above them and they run on the kept
// rows alone: in ViT-B/16 the last encoder block's out-projection, MLP and layer
// norms then run on 1 of 197 rows per image, and its attention on one query.
//
// One step moves a Slice S of a value X above X's producer P when nothing else
// reads X (every reader is a slice with S's attributes; X is no graph output):
// each input of P that carries the sliced dim gets a new Slice just before P, P
// computes the narrower X in place, and S's readers read X. Steps repeat until no
// slice moves; a slice stops at a value that other ops read in full (ViT's
// residual stream entering the last block), where it costs one small copy.
//   layer_norm, rms_norm   the dim is not a normalized (trailing) dim
//   gemm                   the dim is not the last; a (same leading dims) is sliced, and the
//                          bias and residual as elementwise operands (below)
//   unary, binary, cast, pointwise, where
//                          inputs slice the dim they broadcast along (right-aligned);
//                          a size-1 or absent dim stays as it is
//   reshape                the kept rows are one block of one input dim (map_reshape_slice)
//   permute                the input dim perm[dim]
//   attention              its query rows, unless causal (rows would shift against keys):
//                          a view moves q's offset and row stride; dense q is sliced;
//                          a mask with a row dim is sliced along it
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/shape_util.h"
#include "ir/attention_geometry.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

struct RowSlice {
  int64_t dim = 0, start = 0, step = 1, count = 0;  // count: rows kept
  SliceAttrs attrs() const { return SliceAttrs{.dim = dim, .start = start, .end = start + (count - 1) * step + 1, .step = step}; }
};

int64_t product(const std::vector<int64_t>& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

// The same rows of a reshape's input, when they form one block: either the
// dims up to the sliced one are unchanged, or (step 1) the dims before it hold
// as many elements on both sides and the kept rows cover whole rows of one
// input dim ([394, 768] -> [197, 2, 768], rows 0..1 of dim 0 are input rows 0..3).
std::optional<RowSlice> map_reshape_slice(const std::vector<int64_t>& in, const std::vector<int64_t>& out,
                                          const RowSlice& s) {
  const size_t d = static_cast<size_t>(s.dim);
  if (in.size() > d && std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(d) + 1, in.begin()))
    return s;
  if (s.step != 1) return std::nullopt;
  const int64_t outer = product(out, 0, d), inner_out = product(out, d + 1, out.size());
  for (size_t j = 0; j < in.size(); ++j) {
    if (product(in, 0, j) != outer) continue;
    const int64_t inner_in = product(in, j + 1, in.size());
    if (in[j] * inner_in != out[d] * inner_out) continue;
    const int64_t first = s.start * inner_out, count = s.count * inner_out;
    if (first % inner_in || count % inner_in) continue;
    return RowSlice{static_cast<int64_t>(j), first / inner_in, 1, count / inner_in};
  }
  return std::nullopt;
}

class Hoister {
 public:
  explicit Hoister(Graph& g) : g_(g) {}

  // Narrows P (producer of its output 0) to the rows s of that output. Fills
  // before_ with the Slice nodes P's inputs need; false (graph untouched) when P
  // does not commute with the slice.
  bool narrow(Node& p, const RowSlice& s) {
    const std::vector<int64_t> out = g_.value(p.outputs[0]).shape;
    const int64_t rank = static_cast<int64_t>(out.size());
    switch (p.kind()) {
      case OpKind::kLayerNorm:
      case OpKind::kRmsNorm: {
        const int64_t n = p.kind() == OpKind::kLayerNorm ? std::get<LayerNormAttrs>(p.attrs).normalized_ndim
                                                         : std::get<RmsNormAttrs>(p.attrs).normalized_ndim;
        if (s.dim >= rank - n || shape(p.inputs[0]) != out) return false;
        plan_slice(0, s);
        // Layer norm's pre-adds (fold_gemm_bias_into_norm): residual rows, the input bias whole.
        for (size_t i = 3; i < p.inputs.size(); ++i)
          if (!plan_broadcast_slice(p, i, s, out)) return abandon();
        break;
      }
      case OpKind::kGemm: {
        if (s.dim >= rank - 1) return false;
        const auto& a = shape(p.inputs[0]);
        if (a.size() != out.size() || !std::equal(out.begin(), out.end() - 1, a.begin())) return false;
        plan_slice(0, s);
        // The bias (any shape broadcasting to the output, a full [M, N] one included) and the residual.
        for (size_t i = 2; i < p.inputs.size(); ++i)
          if (!plan_broadcast_slice(p, i, s, out)) return abandon();
        break;
      }
      case OpKind::kUnary:
      case OpKind::kBinary:
      case OpKind::kCast:
      case OpKind::kPointwise:
      case OpKind::kWhere:
        for (size_t i = 0; i < p.inputs.size(); ++i)
          if (!plan_broadcast_slice(p, i, s, out)) return abandon();
        break;
      case OpKind::kReshape: {
        auto m = map_reshape_slice(shape(p.inputs[0]), out, s);
        if (!m) return false;
        plan_slice(0, *m);
        break;
      }
      case OpKind::kPermute: {
        const auto& perm = std::get<PermuteAttrs>(p.attrs).perm;
        if (perm.size() != out.size()) return false;
        plan_slice(0, RowSlice{perm[static_cast<size_t>(s.dim)], s.start, s.step, s.count});
        break;
      }
      case OpKind::kAttention:
        if (!narrow_attention(p, s)) return abandon();
        break;
      default:
        return false;
    }
    // Commit: the planned input slices, then the narrower output (and a reshape's target shape).
    for (const auto& [input, rows] : planned_) before_.push_back(make_slice(p, input, rows));
    planned_.clear();
    Value& x = g_.value(p.outputs[0]);
    x.shape[static_cast<size_t>(s.dim)] = s.count;
    if (!x.dim_symbols.empty()) x.dim_symbols[static_cast<size_t>(s.dim)].clear();
    if (p.kind() == OpKind::kReshape) std::get<ReshapeAttrs>(p.attrs).shape = x.shape;
    return true;
  }

  std::vector<Node> take_before() { return std::move(before_); }

 private:
  const std::vector<int64_t>& shape(ValueId v) const { return g_.value(v).shape; }

  bool abandon() {
    planned_.clear();
    return false;
  }

  // Input i of p broadcasts to the output (right-aligned): it is sliced along its
  // matching dim unless that dim is absent or 1. False when it has another size there.
  bool plan_broadcast_slice(const Node& p, size_t i, const RowSlice& s, const std::vector<int64_t>& out) {
    if (p.inputs[i] == kNoValue) return true;
    const auto& in = shape(p.inputs[i]);
    const int64_t k = s.dim - (static_cast<int64_t>(out.size()) - static_cast<int64_t>(in.size()));
    const int64_t extent = out[static_cast<size_t>(s.dim)];
    if (k < 0 || (in[static_cast<size_t>(k)] == 1 && extent != 1)) return true;
    if (in[static_cast<size_t>(k)] != extent) return false;
    plan_slice(i, RowSlice{k, s.start, s.step, s.count});
    return true;
  }

  // Input i of p will read rows s of itself (the Slice is made when the whole op narrows).
  void plan_slice(size_t i, const RowSlice& s) { planned_.emplace_back(i, s); }

  // The Slice node giving input i of p rows s; p reads its output from now on.
  Node make_slice(Node& p, size_t i, const RowSlice& s) {
    const Value& in = g_.value(p.inputs[i]);
    Value v;
    v.name = in.name + "_rows";
    v.dtype = in.dtype;
    v.shape = in.shape;
    v.shape[static_cast<size_t>(s.dim)] = s.count;
    v.dim_symbols = in.dim_symbols;
    if (!v.dim_symbols.empty()) v.dim_symbols[static_cast<size_t>(s.dim)].clear();
    Node n;
    n.attrs = s.attrs();
    n.inputs = {p.inputs[i]};
    n.outputs = {g_.add_value(std::move(v))};
    n.source = p.source;
    p.inputs[i] = n.outputs[0];
    return n;
  }

  // Attention output rows are its query rows. Dense: out [B.., H, L, Ev], the
  // sliced dim is L, q is sliced the same way. Strided (views): the sliced out dim
  // must be the row dim, the out tensor [B, L, H, Ev] up to order and size-1 dims;
  // q's view starts at the first kept row and steps over the skipped ones, the
  // narrower out tensor gets its own natural strides.
  bool narrow_attention(Node& p, const RowSlice& s) {
    auto& a = std::get<AttentionAttrs>(p.attrs);
    if (a.is_causal) return false;
    const std::vector<int64_t> out = shape(p.outputs[0]);
    const size_t rank = out.size(), d = static_cast<size_t>(s.dim);
    auto geo = attention_geometry(a, shape(p.inputs[0]), shape(p.inputs[1]), shape(p.inputs[2]), out, "attention");
    if (!geo.ok()) return false;
    const AttnGeometry& geom = geo.value();
    if (out[d] != geom.L) return false;
    if (!a.views.empty()) {
      const std::vector<int64_t> old_st = backend::contiguous_strides(out);
      if (geom.out.offset != 0 || old_st[d] != geom.out.stride_row || out.back() != geom.Ev || d + 1 == rank)
        return false;
      std::vector<int64_t> narrowed = out;
      narrowed[d] = s.count;
      const std::vector<int64_t> new_st = backend::contiguous_strides(narrowed);
      // stride_b / stride_h: the one other dim of that extent and stride (extent 1: any).
      auto restride = [&](int64_t extent, int64_t stride) -> std::optional<int64_t> {
        if (extent == 1) return 0;
        for (size_t j = 0; j + 1 < rank; ++j)
          if (j != d && out[j] == extent && old_st[j] == stride) return new_st[j];
        return std::nullopt;
      };
      auto sb = restride(geom.batch, geom.out.stride_b), sh = restride(geom.hq, geom.out.stride_h);
      if (!sb || !sh || product(out, 0, rank) != geom.batch * geom.hq * geom.L * geom.Ev) return false;
      AttentionAttrs na = a;
      na.dims[3] = s.count;
      na.views[0] += s.start * geom.q.stride_row;
      na.views[3] *= s.step;
      na.views[12] = 0;
      na.views[13] = *sb;
      na.views[14] = *sh;
      na.views[15] = new_st[d];
      if (!attention_geometry(na, shape(p.inputs[0]), shape(p.inputs[1]), shape(p.inputs[2]), narrowed, "attention")
               .ok())
        return false;
      if (!narrow_mask(p, s, 4)) return false;
      a = na;
      return true;
    }
    if (d + 2 != rank) return false;
    plan_slice(0, s);
    return narrow_mask(p, s, rank);
  }

  // The mask broadcasts to [B.., H, L, S]: its second-to-last dim (right-aligned
  // against a space of `space_rank` dims) is the row dim, sliced unless it is 1.
  bool narrow_mask(const Node& p, const RowSlice& s, size_t space_rank) {
    if (p.inputs.size() < 4 || p.inputs[3] == kNoValue) return true;
    const auto& m = shape(p.inputs[3]);
    if (m.size() > space_rank) return false;  // not a mask this pass understands
    if (m.size() < 2) return true;
    const int64_t k = static_cast<int64_t>(m.size()) - 2;
    if (m[static_cast<size_t>(k)] == 1) return true;
    plan_slice(3, RowSlice{k, s.start, s.step, s.count});
    return true;
  }

  Graph& g_;
  std::vector<std::pair<size_t, RowSlice>> planned_;
  std::vector<Node> before_;
};

// Whether n slices the same rows as a (keeping `count` of them): the frontend keeps a
// slice's end as written (clamped), the slices this pass makes end after their last
// row, so the ends may differ for the same rows.
bool same_rows(const Graph& g, const Node& n, const SliceAttrs& a, int64_t count) {
  if (n.kind() != OpKind::kSlice) return false;
  const auto& b = std::get<SliceAttrs>(n.attrs);
  return b.dim == a.dim && b.start == a.start && b.step == a.step &&
         g.value(n.outputs[0]).shape.at(static_cast<size_t>(a.dim)) == count;
}

// Moves one slice above its producer; false when none can move.
bool hoist_one(Graph& g) {
  const UseIndex uses(g);
  for (NodeId sid = 0; sid < static_cast<NodeId>(g.num_nodes()); ++sid) {
    const Node& s = g.node(sid);
    if (s.kind() != OpKind::kSlice || s.inputs.empty() || s.inputs[0] == kNoValue) continue;
    const ValueId x = s.inputs[0];
    const NodeId pid = g.value(x).producer;
    if (pid < 0 || uses.is_output[static_cast<size_t>(x)] || g.node(pid).outputs.size() != 1) continue;
    const SliceAttrs attrs = std::get<SliceAttrs>(s.attrs);
    const auto& xs = g.value(x).shape;
    const auto& ys = g.value(s.outputs[0]).shape;
    const size_t d = static_cast<size_t>(attrs.dim);
    if (attrs.dim < 0 || d >= xs.size() || ys.size() != xs.size() || attrs.start < 0 || attrs.step < 1) continue;
    const int64_t count = ys[d];
    if (count < 1 || count >= xs[d]) continue;  // nothing to narrow
    bool all_same = true;
    for (NodeId c : uses.consumers[static_cast<size_t>(x)])
      all_same = all_same && same_rows(g, g.node(c), attrs, count);
    if (!all_same) continue;

    Hoister h(g);
    if (!h.narrow(g.node(pid), RowSlice{attrs.dim, attrs.start, attrs.step, count})) continue;
    std::vector<bool> dead(g.num_nodes(), false);
    for (NodeId c : uses.consumers[static_cast<size_t>(x)]) {
      g.replace_all_uses(g.node(c).outputs[0], x);
      dead[static_cast<size_t>(c)] = true;
    }
    std::vector<Node> inserted = h.take_before();
    std::vector<Node> nodes;
    nodes.reserve(g.num_nodes() + inserted.size());
    for (size_t i = 0; i < g.num_nodes(); ++i) {
      if (static_cast<NodeId>(i) == pid)
        for (Node& n : inserted) nodes.push_back(std::move(n));
      if (!dead[i]) nodes.push_back(std::move(g.nodes()[i]));
    }
    g.set_nodes(std::move(nodes));
    return true;
  }
  return false;
}

}  // namespace

int run_hoist_slices(Graph& g) {
  int moves = 0;
  // Each move narrows one op, so the node count bounds the moves.
  const int64_t limit = 4 * static_cast<int64_t>(g.num_nodes()) + 16;
  while (moves < limit && hoist_one(g)) ++moves;
  return moves;
}

}  // namespace ingot
