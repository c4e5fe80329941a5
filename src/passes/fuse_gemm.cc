// GEMM fusion: turns matrix products with a constant right operand into Gemm and
// folds what follows a Gemm into its epilogue, so that a transformer linear layer
// (product, bias, residual add, activation) is one cuBLASLt call instead of three
// or four kernels and as many round trips through memory.
//
// Rewrites, in one forward sweep (repeated until nothing changes):
//   (a) MatMul(a, constant b) with b [K, N] or [1, .., 1, K, N] -> Gemm(a, b') where
//       b' is a [K, N] view of the same constant bytes (no copy); likewise a b whose
//       batch repeats one matrix (an expanded weight, as the aten dialect writes
//       linear layers on 3-d inputs), with b' a copy of that matrix;
//   (e) a Gemm whose input is a reshape (or a permute that only moves size-1 dims)
//       keeping the last dim reads the reshape's input directly: Gemm flattens
//       leading dims itself, so [B, L, K] in gives [B, L, N] out without copies;
//   (d) a Gemm whose only use is such a reshape/permute keeping the last dim
//       produces that shape directly;
//   bias: Gemm without bias + add of a constant [N] (or [1, .., N]) -> bias input;
//   (b) Gemm + add of a tensor with exactly the output's shape -> residual input 3;
//   (c) Gemm + activation Unary (relu, gelu, gelu_tanh, silu, ...) -> activation attrs;
//   (f) Gemm + permute of the output's leading dims -> the permute moves to the
//       input where it meets the attention output's head transpose (see below).
// The absorbed consumer node is rewritten in place into the fused Gemm (the Gemm
// "moves down" to its consumer's position), which keeps topological order even
// when the residual is computed between the product and the add. The original
// Gemm node is removed at the end of the sweep; values left unused go to DCE.
// Fusion only happens when the Gemm's output has no other use (it would have to
// be materialized anyway) and is not a graph output.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kFloat64;
}


// A permute that keeps the relative order of the non-unit dims moves only size-1
// dims: it does not reorder elements, so it is a reshape.
bool is_unit_permute(const Graph& g, const Node& n) {
  if (n.kind() != OpKind::kPermute || n.inputs.empty() || n.inputs[0] == kNoValue) return false;
  const auto& perm = std::get<PermuteAttrs>(n.attrs).perm;
  const auto& in = g.value(n.inputs[0]).shape;
  if (perm.size() != in.size()) return false;
  int64_t last = -1;
  for (int64_t p : perm) {
    if (p < 0 || static_cast<size_t>(p) >= in.size()) return false;
    if (in[static_cast<size_t>(p)] == 1) continue;
    if (p < last) return false;
    last = p;
  }
  return true;
}

// Reshape, or a permute that is one: same elements in the same order.
bool is_reshape_like(const Graph& g, const Node& n) {
  if (n.outputs.size() != 1 || n.inputs.empty() || n.inputs[0] == kNoValue) return false;
  return n.kind() == OpKind::kReshape || is_unit_permute(g, n);
}

bool has_input(const Node& n, size_t i) { return n.inputs.size() > i && n.inputs[i] != kNoValue; }

class GemmFuser {
 public:
  explicit GemmFuser(Graph& g) : g_(g) {}

  bool run() {
    bool changed = false;
    for (int sweep = 0; sweep < 8; ++sweep) {
      bool sweep_changed = false;
      rebuild_uses();
      for (size_t i = 0; i < g_.num_nodes(); ++i) {
        const NodeId id = static_cast<NodeId>(i);
        if (!live(id)) continue;
        if (g_.node(id).kind() == OpKind::kMatMul) sweep_changed |= matmul_to_gemm(id);
        if (g_.node(id).kind() != OpKind::kGemm) continue;
        sweep_changed |= bypass_input_reshapes(id);
        // Each absorb rewrites a later node into the Gemm; follow it down the chain.
        NodeId cur = id;
        for (;;) {
          NodeId next = absorb_consumer(cur);
          if (next < 0) break;
          sweep_changed = true;
          cur = next;
        }
      }
      drop_dead_nodes();
      changed |= sweep_changed;
      if (!sweep_changed) break;
    }
    return changed;
  }

 private:
  Graph& g_;
  std::vector<std::vector<NodeId>> consumers_;  // per value: nodes reading it (with repeats)
  std::vector<bool> is_graph_output_;
  std::vector<bool> dead_;

  void rebuild_uses() {
    consumers_.assign(g_.num_values(), {});
    is_graph_output_.assign(g_.num_values(), false);
    dead_.assign(g_.num_nodes(), false);
    for (size_t i = 0; i < g_.num_nodes(); ++i)
      for (ValueId v : g_.node(static_cast<NodeId>(i)).inputs)
        if (v != kNoValue) consumers_[static_cast<size_t>(v)].push_back(static_cast<NodeId>(i));
    for (ValueId v : g_.outputs) is_graph_output_[static_cast<size_t>(v)] = true;
  }

  bool live(NodeId id) const { return !dead_[static_cast<size_t>(id)]; }

  // Removes the Gemms that moved into their consumers: they may still read values
  // whose producer slot was reused (transpose move), so they must not outlive the sweep.
  void drop_dead_nodes() {
    if (std::find(dead_.begin(), dead_.end(), true) == dead_.end()) return;
    erase_nodes(g_, dead_);
  }

  // The one node reading v (once), or -1 when v has other uses or is a graph output.
  NodeId sole_consumer(ValueId v) const {
    if (is_graph_output_[static_cast<size_t>(v)]) return -1;
    const auto& c = consumers_[static_cast<size_t>(v)];
    NodeId found = -1;
    for (NodeId n : c) {
      if (dead_[static_cast<size_t>(n)]) continue;
      if (found >= 0) return -1;  // a second use (or the same node reading it twice)
      found = n;
    }
    return found;
  }

  void add_use(ValueId v, NodeId n) {
    if (v != kNoValue) consumers_[static_cast<size_t>(v)].push_back(n);
  }

  // Whether every [K, N] matrix of constant b's batch is the same bytes: an expanded
  // weight that constant folding materialized (the aten dialect writes a linear layer
  // on a 3-d input as bmm(x, expand(W^T, [B, K, N]))).
  static bool identical_batch_slices(const Value& b) {
    if (!b.constant) return false;
    const size_t slice = static_cast<size_t>(b.shape[b.shape.size() - 2] * b.shape.back()) * dtype_size(b.dtype);
    const std::vector<uint8_t>& bytes = *b.constant;
    if (slice == 0 || bytes.size() != b.nbytes() || bytes.size() % slice != 0) return false;
    for (size_t off = slice; off < bytes.size(); off += slice)
      if (std::memcmp(bytes.data(), bytes.data() + off, slice) != 0) return false;
    return true;
  }

  // (a) MatMul(a, constant b [1.., K, N]) -> Gemm(a, [K, N] view of b); also when b's
  // batch holds one matrix repeated (then a [K, N] copy of it), if the output has a's
  // batch (b does not broadcast a).
  bool matmul_to_gemm(NodeId id) {
    Node& n = g_.node(id);
    if (n.inputs.size() != 2 || n.outputs.size() != 1) return false;
    const Value& a = g_.value(n.inputs[0]);
    const Value& b = g_.value(n.inputs[1]);
    const Value& out = g_.value(n.outputs[0]);
    if (!b.is_constant() || b.shape.size() < 2 || a.shape.size() < 2 || a.dtype != b.dtype || !is_float(a.dtype))
      return false;
    bool batch_of_ones = true;
    for (size_t d = 0; d + 2 < b.shape.size(); ++d) batch_of_ones &= b.shape[d] == 1;
    if (!batch_of_ones && !identical_batch_slices(b)) return false;
    const int64_t k = b.shape[b.shape.size() - 2], nn = b.shape.back();
    if (a.shape.back() != k || out.shape.empty() || out.shape.back() != nn) return false;
    // The output keeps its (possibly broadcast-extended) shape; Gemm only needs the
    // element count to agree, which it does since b contributes no batch.
    if (out.numel() != (k ? a.numel() / k : 0) * nn) return false;
    ValueId weight = n.inputs[1];
    if (b.shape.size() != 2) {
      ConstantData data = b.constant;  // shared bytes, not a copy
      if (!batch_of_ones)  // the first matrix of the batch
        data = std::make_shared<const std::vector<uint8_t>>(
            b.constant->begin(), b.constant->begin() + static_cast<std::ptrdiff_t>(k * nn) *
                                                           static_cast<std::ptrdiff_t>(dtype_size(b.dtype)));
      weight = new_constant(b.name + ".as_2d", b.dtype, {k, nn}, data);
    }
    Node& node = g_.node(id);  // add_constant may not move nodes, but re-take the reference anyway
    GemmAttrs attrs;
    attrs.trans_b = false;
    node.attrs = attrs;
    node.inputs = {node.inputs[0], weight};
    add_use(weight, id);
    return true;
  }

  // (e) Gemm(reshape(x)) -> Gemm(x) when x keeps the last (K) dim.
  bool bypass_input_reshapes(NodeId id) {
    bool changed = false;
    for (;;) {
      Node& n = g_.node(id);
      const Value& a = g_.value(n.inputs[0]);
      if (a.producer < 0) break;
      const Node& p = g_.node(a.producer);
      if (!is_reshape_like(g_, p)) break;
      const Value& x = g_.value(p.inputs[0]);
      if (x.shape.empty() || a.shape.empty() || x.shape.back() != a.shape.back() || x.dtype != a.dtype) break;
      n.inputs[0] = p.inputs[0];
      add_use(p.inputs[0], id);
      changed = true;
    }
    return changed;
  }

  // Moves Gemm `id` into its sole consumer when that consumer can be absorbed;
  // returns the consumer (now the Gemm) or -1.
  NodeId absorb_consumer(NodeId id) {
    if (NodeId moved = move_transpose_to_input(id); moved >= 0) return moved;
    const Node& gemm = g_.node(id);
    const ValueId y = gemm.outputs[0];
    const NodeId cid = sole_consumer(y);
    if (cid < 0) return -1;
    const Node& c = g_.node(cid);
    if (c.outputs.size() != 1) return -1;
    const Value& yv = g_.value(y);
    const Value& z = g_.value(c.outputs[0]);
    if (z.dtype != yv.dtype || !is_float(yv.dtype)) return -1;
    const auto& ga = std::get<GemmAttrs>(gemm.attrs);
    const bool has_bias = has_input(gemm, 2), has_residual = has_input(gemm, 3);
    const bool has_act = ga.activation >= 0;
    // A bias that is a row vector broadcasts the same way whatever the output's
    // leading dims are, and leaves cuBLASLt's C operand free for a residual.
    const bool row_bias =
        !has_bias || (ga.beta == 1.0 && is_bias_shape(g_.value(gemm.inputs[2]).shape, yv.shape.back()));

    Node fused = gemm;  // attrs, inputs and source of the Gemm; output becomes z
    fused.outputs = c.outputs;
    auto& fa = std::get<GemmAttrs>(fused.attrs);
    fused.inputs.resize(4, kNoValue);

    switch (c.kind()) {
      case OpKind::kReshape:
      case OpKind::kPermute: {
        // (d) The Gemm writes the reshaped shape directly (row-major, same order).
        if (!is_reshape_like(g_, c) || z.shape.empty() || yv.shape.empty() || z.shape.back() != yv.shape.back())
          return -1;
        // A residual has the output's shape, so it follows the reshape too; there
        // is no reshape node for it, so only absorb when the shapes already agree.
        if (has_residual && g_.value(gemm.inputs[3]).shape != z.shape) return -1;
        if (!row_bias) return -1;
        break;
      }
      case OpKind::kBinary: {
        if (static_cast<BinaryFn>(std::get<BinaryAttrs>(c.attrs).fn) != BinaryFn::kAdd) return -1;
        if (c.inputs.size() != 2 || has_act) return -1;
        if (c.inputs[0] == c.inputs[1]) return -1;  // y + y
        const ValueId other = c.inputs[0] == y ? c.inputs[1] : c.inputs[0];
        const Value& ov = g_.value(other);
        if (ov.dtype != yv.dtype || z.shape != yv.shape) return -1;
        if (!has_bias && ov.is_constant() && is_bias_shape(ov.shape, yv.shape.back())) {
          // Kept as [N] (a view of the same bytes): a [1, 1, N] bias would outrank
          // the output once (d) gives the Gemm a reshaped, lower-rank output.
          fused.inputs[2] = ov.shape.size() == 1 ? other : row_vector_view(other);
          fa.beta = 1.0;
        } else if (!has_residual && row_bias && ov.shape == yv.shape) {
          fused.inputs[3] = other;  // (b)
        } else {
          return -1;
        }
        break;
      }
      case OpKind::kUnary: {
        const auto& ua = std::get<UnaryAttrs>(c.attrs);
        if (has_act || !gemm_epilogue_activation(ua.fn) || z.shape != yv.shape) return -1;
        fa.activation = ua.fn;  // (c)
        fa.activation_alpha = ua.alpha;
        fa.activation_beta = ua.beta;
        break;
      }
      default:
        return -1;
    }
    // Drop trailing absent optionals so the arity stays minimal (2 or 3 when possible).
    while (fused.inputs.size() > 2 && fused.inputs.back() == kNoValue) fused.inputs.pop_back();
    g_.node(cid) = std::move(fused);
    dead_[static_cast<size_t>(id)] = true;
    for (ValueId v : g_.node(cid).inputs) add_use(v, cid);
    g_.value(g_.node(cid).outputs[0]).producer = cid;
    return cid;
  }

  // (f) A Gemm works row by row, so a permute of its output's leading dims can
  // be done on its input instead. Worth it where the input is a reshape that
  // only merged trailing dims of X (the attention output after its head
  // transpose): the permute then lands on X, next to X's own permute, and
  // canonicalize merges the two. torchvision's ViT at batch > 1:
  //   X [L,B,H,D] -> reshape [L*B, H*D] -> gemm -> [L,B,N] -> permute [1,0,2] -> + residual
  // becomes  permute(X) [B,L,H,D] -> reshape [B,L,H*D] -> gemm [B,L,N] (+ residual)
  // which saves a transpose copy and lets the residual fuse. The reshape's and
  // the old Gemm's node slots hold the new permute and reshape, so no node moves.
  NodeId move_transpose_to_input(NodeId id) {
    const Node& gemm = g_.node(id);
    const ValueId y = gemm.outputs[0];
    const NodeId cid = sole_consumer(y);
    if (cid < 0 || g_.node(cid).kind() != OpKind::kPermute || is_unit_permute(g_, g_.node(cid))) return -1;
    if (has_input(gemm, 3)) return -1;  // a residual would need the permute too
    const auto& perm = std::get<PermuteAttrs>(g_.node(cid).attrs).perm;
    const std::vector<int64_t> y_shape = g_.value(y).shape;
    const size_t lead = y_shape.size() - 1;
    if (y_shape.empty() || perm.size() != y_shape.size() || perm.back() != static_cast<int64_t>(lead)) return -1;
    if (has_input(gemm, 2) && !is_bias_shape(g_.value(gemm.inputs[2]).shape, y_shape.back())) return -1;
    const ValueId a = gemm.inputs[0];
    const NodeId rid = g_.value(a).producer;
    if (rid < 0 || g_.node(rid).kind() != OpKind::kReshape || sole_consumer(a) != id) return -1;
    const ValueId x = g_.node(rid).inputs[0];
    const std::vector<int64_t> x_shape = g_.value(x).shape;
    const int64_t k = g_.value(a).shape.back();
    // X must start with the output's leading dims; the rest of X makes one row of K.
    if (x_shape.size() <= lead || !std::equal(y_shape.begin(), y_shape.end() - 1, x_shape.begin())) return -1;
    int64_t row = 1;
    for (size_t d = lead; d < x_shape.size(); ++d) row *= x_shape[d];
    if (row != k) return -1;

    IntList x_perm(perm.begin(), perm.end() - 1);
    for (size_t d = lead; d < x_shape.size(); ++d) x_perm.push_back(static_cast<int64_t>(d));
    std::vector<int64_t> xp_shape, a2_shape;
    for (int64_t p : x_perm) xp_shape.push_back(x_shape[static_cast<size_t>(p)]);
    for (size_t d = 0; d < lead; ++d) a2_shape.push_back(xp_shape[d]);
    a2_shape.push_back(k);
    const ValueId xp = new_value(a, xp_shape, "transposed");
    const ValueId a2 = new_value(a, a2_shape, "rows");

    Node permute = g_.node(rid);  // keeps the reshape's source location
    permute.attrs = PermuteAttrs{.perm = x_perm};
    permute.inputs = {x};
    permute.outputs = {xp};
    Node reshape = g_.node(rid);
    reshape.attrs = ReshapeAttrs{.shape = a2_shape};
    reshape.inputs = {xp};
    reshape.outputs = {a2};
    Node fused = g_.node(id);
    fused.inputs[0] = a2;
    fused.outputs = g_.node(cid).outputs;

    g_.node(rid) = std::move(permute);
    g_.node(id) = std::move(reshape);
    g_.node(cid) = std::move(fused);
    g_.value(xp).producer = rid;
    g_.value(a2).producer = id;
    g_.value(g_.node(cid).outputs[0]).producer = cid;
    g_.value(a).producer = -1;  // no longer produced: nothing reads it (sole use was the Gemm)
    g_.value(y).producer = -1;  // nor the old output (sole use was the permute)
    add_use(x, rid);
    add_use(xp, id);
    for (ValueId v : g_.node(cid).inputs) add_use(v, cid);
    return cid;
  }

  ValueId new_value(ValueId like, std::vector<int64_t> shape, const std::string& suffix) {
    Value v;
    v.name = g_.value(like).name + "." + suffix;
    v.dtype = g_.value(like).dtype;
    v.shape = std::move(shape);
    const ValueId id = g_.add_value(std::move(v));
    consumers_.emplace_back();
    is_graph_output_.push_back(false);
    return id;
  }

  // A constant the sweep's use tables know about.
  ValueId new_constant(const std::string& name, DType dtype, std::vector<int64_t> shape, ConstantData data) {
    const ValueId id = g_.add_constant(name, dtype, std::move(shape), std::move(data));
    consumers_.emplace_back();
    is_graph_output_.push_back(false);
    return id;
  }

  // A [N] constant holding the bytes of the [1, .., 1, N] constant v.
  ValueId row_vector_view(ValueId v) {
    const Value src = g_.value(v);  // a copy: add_constant may move the value table
    return new_constant(src.name + ".as_1d", src.dtype, {src.shape.back()}, src.constant);
  }

  // [N], or [1, .., 1, N]: broadcasts along the rows of a Gemm output.
  static bool is_bias_shape(const std::vector<int64_t>& s, int64_t n) {
    if (s.empty() || s.back() != n) return false;
    for (size_t d = 0; d + 1 < s.size(); ++d)
      if (s[d] != 1) return false;
    return true;
  }
};

}  // namespace

bool run_fuse_gemm(Graph& g) { return GemmFuser(g).run(); }

}  // namespace ingot
