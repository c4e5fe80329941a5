// Attention fusion: models with "eager" attention (T5, GPT-2 and older HF code,
// hand-written blocks) arrive as a transpose, two matrix products, a scale, a mask
// add and a softmax, which materialize the [.., L, S] score matrix several times.
// One Attention op computes the same thing (and on cuda can run the flash kernel,
// and fold_attention_views can then read q/k/v in place).
//
// Matched pattern (fp32 IR before precision lowering; canonicalize has already
// removed the identity casts of T5's softmax(scores.float()).type_as(scores)):
//   kt = Permute(k, perm swapping the last two dims), or more generally
//   kt = Permute(x, p) with p[-2] = the last dim of x (the head split's permute that
//        canonicalize folded into the transpose, view(B, S, H, E).permute(0, 2, 3, 1));
//        then k = Permute(x, p with its last two entries swapped), a new node
//   s  = MatMul(q', kt)          q' = q | q * c | c * q | q / c   (c a scalar constant)
//   s1 = s * c | c * s | s / c   (optional)
//   s2 = s1 + m | m + s1         (optional, repeatable: T5 adds position bias then
//                                 mask; m float, same rank, broadcasts to s; several
//                                 masks are summed by new adds before the Attention)
//   p  = Softmax(s2, dim = last, log = false)
//   o  = MatMul(p, v)
// -> o = Attention(q, k, v, m?) with scale = the product of the scale factors
// (1 when none), is_causal = false. Every intermediate must have exactly one use
// and not be a graph output; q, k, v (and m) have s's rank (>= 3), identical leading
// dims (no broadcasting) and one float dtype. The last MatMul is rewritten in place
// (same output value, position and source), so the order stays topological; the
// other pattern nodes are left for DCE.
#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "core/half.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kFloat64;
}


struct Match {
  ValueId q = kNoValue, k = kNoValue, v = kNoValue, mask = kNoValue;
  double scale = 1.0;
  // When k^T was a permute of some x other than the plain last-two swap, k is
  // Permute(x, k_perm), a new node placed before the Attention (k = x then).
  std::vector<int64_t> k_perm;
  std::vector<int64_t> k_shape;
  NodeId kt_node = -1;
  // Every additive mask; several (position bias and mask) are summed by new adds
  // placed before the Attention (small tensors, broadcast only as far as they need).
  std::vector<ValueId> masks;
};

class AttentionFuser {
 public:
  explicit AttentionFuser(Graph& g)
      : g_(g), producer_(g.num_values(), -1), uses_(g.use_counts()), is_output_(g.num_values(), false) {
    for (size_t i = 0; i < g.num_nodes(); ++i)
      for (ValueId out : g.node(static_cast<NodeId>(i)).outputs)
        if (out >= 0) producer_[static_cast<size_t>(out)] = static_cast<NodeId>(i);
    for (ValueId v : g.outputs)
      if (v >= 0) is_output_[static_cast<size_t>(v)] = true;
  }

  bool run() {
    bool changed = false;
    std::vector<std::vector<Node>> insert_before(g_.num_nodes());
    for (size_t i = 0; i < g_.num_nodes(); ++i) {
      Match m;
      if (!match(static_cast<NodeId>(i), m)) continue;
      if (!m.k_perm.empty()) {
        // k = Permute(x, k_perm): a new value, its node just before the Attention.
        const Node& kt = g_.node(m.kt_node);
        const Value& x = g_.value(m.k);
        Value kv;
        kv.name = g_.value(kt.outputs[0]).name + "_untransposed";
        kv.dtype = x.dtype;
        kv.shape = m.k_shape;
        if (x.dim_symbols.size() == x.shape.size())
          for (int64_t d : m.k_perm) kv.dim_symbols.push_back(x.dim_symbols[static_cast<size_t>(d)]);
        Node pn;
        pn.attrs = PermuteAttrs{.perm = m.k_perm};
        pn.inputs = {m.k};
        pn.source = kt.source;
        m.k = g_.add_value(std::move(kv));
        pn.outputs = {m.k};
        insert_before[i].push_back(std::move(pn));
      }
      if (!m.masks.empty()) m.mask = m.masks[0];
      for (size_t j = 1; j < m.masks.size(); ++j) {
        const Value& a = g_.value(m.mask);
        const Value& b = g_.value(m.masks[j]);
        Value sum;
        sum.name = a.name + "_plus_" + b.name;
        sum.dtype = a.dtype;
        for (size_t d = 0; d < a.shape.size(); ++d) sum.shape.push_back(std::max(a.shape[d], b.shape[d]));
        Node add;
        add.attrs = BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)};
        add.inputs = {m.mask, m.masks[j]};
        add.source = g_.node(static_cast<NodeId>(i)).source;
        m.mask = g_.add_value(std::move(sum));
        add.outputs = {m.mask};
        insert_before[i].push_back(std::move(add));
      }
      Node& n = g_.node(static_cast<NodeId>(i));
      n.attrs = AttentionAttrs{.scale = m.scale, .is_causal = false};
      n.inputs = {m.q, m.k, m.v};
      if (m.mask != kNoValue) n.inputs.push_back(m.mask);
      changed = true;
    }
    bool inserted = false;
    for (const auto& v : insert_before) inserted |= !v.empty();
    if (inserted) {
      std::vector<Node> nodes;
      nodes.reserve(g_.num_nodes() + 8);
      for (size_t i = 0; i < g_.num_nodes(); ++i) {
        for (Node& pn : insert_before[i]) nodes.push_back(std::move(pn));
        nodes.push_back(std::move(g_.node(static_cast<NodeId>(i))));
      }
      g_.set_nodes(std::move(nodes));
    }
    return changed;
  }

 private:
  Graph& g_;
  std::vector<NodeId> producer_;
  std::vector<int> uses_;
  std::vector<bool> is_output_;

  // The node producing v when v is an intermediate the fusion may absorb: one use,
  // not a graph output, made by a single-output node of `kind`.
  const Node* sole_use_producer(ValueId v, OpKind kind) const {
    if (v < 0 || is_output_[static_cast<size_t>(v)] || uses_[static_cast<size_t>(v)] != 1) return nullptr;
    const NodeId p = producer_[static_cast<size_t>(v)];
    if (p < 0) return nullptr;
    const Node& n = g_.node(p);
    if (n.kind() != kind || n.outputs.size() != 1) return nullptr;
    return &n;
  }

  // v = x * c | c * x | x / c with c a scalar constant and v an absorbable
  // intermediate: returns x and multiplies *scale by the factor.
  std::optional<ValueId> strip_scale(ValueId v, double* scale) const {
    const Node* n = sole_use_producer(v, OpKind::kBinary);
    if (!n || n->inputs.size() != 2) return std::nullopt;
    const auto fn = static_cast<BinaryFn>(std::get<BinaryAttrs>(n->attrs).fn);
    const ValueId a = n->inputs[0], b = n->inputs[1];
    if (a < 0 || b < 0 || g_.value(a).dtype != g_.value(v).dtype) return std::nullopt;
    // The scalar must not broadcast the other operand to a larger shape.
    if (g_.value(a).shape != g_.value(v).shape && g_.value(b).shape != g_.value(v).shape) return std::nullopt;
    if (fn == BinaryFn::kMul) {
      if (auto c = scalar_constant(g_.value(b)); c && g_.value(a).shape == g_.value(v).shape) {
        *scale *= *c;
        return a;
      }
      if (auto c = scalar_constant(g_.value(a)); c && g_.value(b).shape == g_.value(v).shape) {
        *scale *= *c;
        return b;
      }
    } else if (fn == BinaryFn::kDiv) {
      if (auto c = scalar_constant(g_.value(b)); c && *c != 0.0 && g_.value(a).shape == g_.value(v).shape) {
        *scale /= *c;
        return a;
      }
    }
    return std::nullopt;
  }

  // Does m (same rank) broadcast to shape without being larger anywhere?
  static bool broadcasts_to(const std::vector<int64_t>& m, const std::vector<int64_t>& shape) {
    if (m.size() != shape.size()) return false;
    for (size_t i = 0; i < m.size(); ++i)
      if (m[i] != shape[i] && m[i] != 1) return false;
    return true;
  }

  // s (the scores, possibly scaled) down to MatMul(q', Permute(k)): fills q, k and
  // the scale. s must be an absorbable intermediate.
  bool match_scores(ValueId s, Match& m) const {
    double scale = 1.0;
    ValueId raw = s;
    if (auto x = strip_scale(s, &scale)) raw = *x;
    const Node* mm = sole_use_producer(raw, OpKind::kMatMul);
    if (!mm || mm->inputs.size() != 2) return false;
    ValueId q = mm->inputs[0];
    const ValueId kt = mm->inputs[1];
    const Node* perm = sole_use_producer(kt, OpKind::kPermute);
    if (!perm || perm->inputs.size() != 1 || perm->inputs[0] < 0) return false;
    const ValueId k = perm->inputs[0];
    const auto& p = std::get<PermuteAttrs>(perm->attrs).perm;
    const size_t rank = g_.value(raw).shape.size();
    const auto& x_shape = g_.value(k).shape;
    if (rank < 3 || p.size() != rank || x_shape.size() != rank) return false;
    // k^T's contraction dim must be the permute input's innermost dim, so that k
    // (the permute with its last two outputs swapped) keeps features contiguous:
    // the plain k.transpose(-1, -2), or the head split's permute folded into it
    // (view(B, S, H, E).permute(0, 2, 3, 1), as canonicalize leaves GPT-2/T5 keys).
    if (p[rank - 2] != static_cast<int64_t>(rank - 1)) return false;
    std::vector<int64_t> k_perm(p.begin(), p.end());
    std::swap(k_perm[rank - 2], k_perm[rank - 1]);
    bool identity = true;
    for (size_t i = 0; i < rank; ++i) identity &= k_perm[i] == static_cast<int64_t>(i);
    m.k_shape.clear();
    for (int64_t d : k_perm) {
      if (d < 0 || static_cast<size_t>(d) >= rank) return false;
      m.k_shape.push_back(x_shape[static_cast<size_t>(d)]);
    }
    m.k_perm = identity ? std::vector<int64_t>{} : k_perm;
    m.kt_node = producer_[static_cast<size_t>(kt)];
    if (q < 0) return false;
    if (auto x = strip_scale(q, &scale)) q = *x;
    m.q = q;
    m.k = k;
    m.scale = scale;
    return true;
  }

  // v = scores (+ mask)*: fills found (masks in found.masks, last add first).
  bool match_masked_scores(ValueId v, const std::vector<int64_t>& s_shape, int depth, Match& found) const {
    if (match_scores(v, found)) return true;
    const Node* add = sole_use_producer(v, OpKind::kBinary);
    if (depth >= 4 || !add || add->inputs.size() != 2 ||
        static_cast<BinaryFn>(std::get<BinaryAttrs>(add->attrs).fn) != BinaryFn::kAdd)
      return false;
    for (int side = 0; side < 2; ++side) {
      const ValueId scores = add->inputs[side], mask = add->inputs[1 - side];
      if (scores < 0 || mask < 0 || scores == mask) continue;
      if (g_.value(scores).shape != s_shape || !broadcasts_to(g_.value(mask).shape, s_shape)) continue;
      if (g_.value(mask).dtype != g_.value(v).dtype) continue;
      Match t;
      if (!match_masked_scores(scores, s_shape, depth + 1, t)) continue;
      t.masks.insert(t.masks.begin(), mask);
      found = t;
      return true;
    }
    return false;
  }

  bool match(NodeId id, Match& m) const {
    const Node& out_mm = g_.node(id);
    if (out_mm.kind() != OpKind::kMatMul || out_mm.inputs.size() != 2 || out_mm.outputs.size() != 1) return false;
    const ValueId probs = out_mm.inputs[0], v = out_mm.inputs[1];
    if (probs < 0 || v < 0 || probs == v) return false;
    const Node* sm = sole_use_producer(probs, OpKind::kSoftmax);
    if (!sm || sm->inputs.size() != 1 || sm->inputs[0] < 0) return false;
    const auto& sa = std::get<SoftmaxAttrs>(sm->attrs);
    const ValueId logits = sm->inputs[0];
    const auto& s_shape = g_.value(logits).shape;
    const int64_t rank = static_cast<int64_t>(s_shape.size());
    if (sa.log || rank < 3 || (sa.dim != rank - 1 && sa.dim != -1)) return false;

    // Optional mask adds (T5 adds the position bias, then the mask); either operand may be the scores.
    Match found;
    if (!match_masked_scores(logits, s_shape, 0, found)) return false;

    // Shapes and dtypes: q [.., L, E], k [.., S, E], v [.., S, Ev], same leading dims.
    const size_t r = static_cast<size_t>(rank);
    const Value& q = g_.value(found.q);
    const Value& k_in = g_.value(found.k);
    struct { DType dtype; const std::vector<int64_t>& shape; } k{k_in.dtype, found.k_shape};
    const Value& vv = g_.value(v);
    const Value& o = g_.value(out_mm.outputs[0]);
    const DType dt = g_.value(logits).dtype;
    if (!is_float(dt) || q.dtype != dt || k.dtype != dt || vv.dtype != dt || o.dtype != dt ||
        g_.value(probs).dtype != dt)
      return false;
    if (q.shape.size() != r || k.shape.size() != r || vv.shape.size() != r || o.shape.size() != r) return false;
    for (size_t i = 0; i + 2 < r; ++i)
      if (k.shape[i] != q.shape[i] || vv.shape[i] != q.shape[i] || s_shape[i] != q.shape[i] || o.shape[i] != q.shape[i])
        return false;
    const int64_t L = q.shape[r - 2], E = q.shape[r - 1], S = k.shape[r - 2], Ev = vv.shape[r - 1];
    if (k.shape[r - 1] != E || vv.shape[r - 2] != S || s_shape[r - 2] != L || s_shape[r - 1] != S ||
        o.shape[r - 2] != L || o.shape[r - 1] != Ev)
      return false;
    m = found;
    m.v = v;
    return true;
  }
};

}  // namespace

bool run_fuse_attention(Graph& g) { return AttentionFuser(g).run(); }

}  // namespace ingot
