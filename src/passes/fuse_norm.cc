// RMSNorm fusion: LLaMA, Mistral, Qwen, Gemma, Phi-3 and T5 write RMSNorm by hand
// (HF LlamaRMSNorm: x * rsqrt(mean(x^2, -1, keepdim) + eps) * weight), so after
// export it arrives as five or six elementwise and reduction ops that read and
// write the activation several times. One RmsNorm step reads it once per pass.
//
// Matched pattern (float, every op in the same dtype; the casts of the HF code are
// identities in an fp32 model and canonicalize has removed them):
//   p = x * x | pow_scalar(x, 2) | pow(x, c2)
//   m = mean(p, trailing dims, keepdim=true)
//   a = m + eps | eps + m                       (eps a constant scalar)
//   y = x * r | r * x   with r = rsqrt(a) | pow_scalar(a, -0.5) | pow(a, c-0.5)
//                                | 1 / sqrt(a) | reciprocal(sqrt(a))
//     | x / sqrt(a)
//   z = y * w | w * y   (optional; w a constant with the normalized shape, leading
//                        1s allowed; Gemma's (1 + weight) is such a constant after folding)
// Every intermediate must have no other use and not be a graph output (they would
// have to be computed anyway). The RmsNorm node takes the place of the pattern's
// last node, writes its output value and keeps its source location, so the order
// stays topological; the other pattern nodes are removed.
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/half.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kFloat64;
}


class NormFuser {
 public:
  explicit NormFuser(Graph& g) : g_(g), uses_(g) {}

  bool run() {
    std::vector<bool> remove(g_.num_nodes(), false);
    bool changed = false;
    for (size_t i = 0; i < g_.num_nodes(); ++i) {
      Match m;
      if (!match(static_cast<NodeId>(i), m)) continue;
      for (NodeId n : m.interior) remove[static_cast<size_t>(n)] = true;
      rewrite(m);
      changed = true;
    }
    if (!changed) return false;
    erase_nodes(g_, remove);
    return true;
  }

 private:
  struct Match {
    ValueId x = kNoValue;
    ValueId weight = kNoValue;  // constant, reshaped to the normalized shape if needed
    int64_t normalized_ndim = 1;
    double eps = 0;
    NodeId last = -1;              // becomes the RmsNorm
    std::vector<NodeId> interior;  // removed
  };

  Graph& g_;
  UseIndex uses_;

  const Node& node(NodeId id) const { return g_.node(id); }
  const Value& value(ValueId id) const { return g_.value(id); }

  NodeId sole_consumer(ValueId v) const { return uses_.sole_consumer(v); }
  static bool is_binary(const Node& n, BinaryFn fn) { return binary_fn_is(n, fn); }
  static bool is_unary(const Node& n, UnaryFn fn) { return unary_fn_is(n, fn); }

  // The operand of binary node n that is not `v` (n reads v once), or kNoValue.
  static ValueId other_operand(const Node& n, ValueId v) {
    if (n.inputs[0] == v && n.inputs[1] != v) return n.inputs[1];
    if (n.inputs[1] == v && n.inputs[0] != v) return n.inputs[0];
    return kNoValue;
  }

  bool scalar_is(ValueId v, double expected) const {
    std::optional<double> s = scalar_constant(value(v));
    return s && *s == expected;
  }

  // x when node n computes x^2 (x * x, pow_scalar(x, 2), pow(x, 2)).
  ValueId squared_operand(const Node& n) const {
    if (is_binary(n, BinaryFn::kMul) && n.inputs[0] == n.inputs[1]) return n.inputs[0];
    if (is_unary(n, UnaryFn::kPowScalar) && std::get<UnaryAttrs>(n.attrs).alpha == 2.0) return n.inputs[0];
    if (is_binary(n, BinaryFn::kPow) && scalar_is(n.inputs[1], 2.0)) return n.inputs[0];
    return kNoValue;
  }

  // Starting at the Reduce(mean) node `mean_id`, matches the whole pattern.
  bool match(NodeId mean_id, Match& m) const {
    const Node& mean = node(mean_id);
    if (mean.kind() != OpKind::kReduce || mean.inputs.size() != 1 || mean.outputs.size() != 1) return false;
    const auto& ra = std::get<ReduceAttrs>(mean.attrs);
    if (static_cast<ReduceFn>(ra.fn) != ReduceFn::kMean || !ra.keepdim) return false;
    const ValueId p = mean.inputs[0];
    const Value& pv = value(p);
    if (pv.producer < 0 || sole_consumer(p) != mean_id) return false;
    const NodeId square_id = pv.producer;
    const ValueId x = squared_operand(node(square_id));
    if (x == kNoValue) return false;
    const Value& xv = value(x);
    const DType dt = xv.dtype;
    if (!is_float(dt) || xv.shape.empty() || pv.shape != xv.shape || pv.dtype != dt) return false;

    // The mean must cover exactly the trailing dims (any order, negative allowed).
    const int64_t rank = static_cast<int64_t>(xv.shape.size());
    std::vector<bool> reduced(static_cast<size_t>(rank), false);
    for (int64_t d : ra.dims) {
      const int64_t dd = d < 0 ? d + rank : d;
      if (dd < 0 || dd >= rank || reduced[static_cast<size_t>(dd)]) return false;
      reduced[static_cast<size_t>(dd)] = true;
    }
    const int64_t k = static_cast<int64_t>(ra.dims.size());
    if (k < 1) return false;
    for (int64_t d = 0; d < rank; ++d)
      if (reduced[static_cast<size_t>(d)] != (d >= rank - k)) return false;
    const ValueId mv = mean.outputs[0];
    if (value(mv).dtype != dt) return false;

    // a = mean + eps
    const NodeId add_id = sole_consumer(mv);
    if (add_id < 0 || !is_binary(node(add_id), BinaryFn::kAdd)) return false;
    const ValueId eps_v = other_operand(node(add_id), mv);
    if (eps_v == kNoValue) return false;
    std::optional<double> eps = scalar_constant(value(eps_v));
    if (!eps || !(*eps >= 0) || value(eps_v).dtype != dt) return false;
    const ValueId a = node(add_id).outputs[0];
    if (value(a).shape != value(mv).shape || value(a).dtype != dt) return false;

    std::vector<NodeId> interior = {square_id, mean_id, add_id};
    // y = x * rsqrt(a) in one of its spellings, or x / sqrt(a).
    NodeId y_id = -1;
    ValueId r = kNoValue;  // the reciprocal root, when y multiplies by it
    const NodeId c1 = sole_consumer(a);
    if (c1 < 0) return false;
    const Node& n1 = node(c1);
    if (is_unary(n1, UnaryFn::kRsqrt) ||
        (is_unary(n1, UnaryFn::kPowScalar) && std::get<UnaryAttrs>(n1.attrs).alpha == -0.5) ||
        (is_binary(n1, BinaryFn::kPow) && n1.inputs[0] == a && n1.inputs[1] != a && scalar_is(n1.inputs[1], -0.5))) {
      r = n1.outputs[0];
      interior.push_back(c1);
    } else if (is_unary(n1, UnaryFn::kSqrt)) {
      interior.push_back(c1);
      const ValueId s = n1.outputs[0];
      const NodeId c2 = sole_consumer(s);
      if (c2 < 0) return false;
      const Node& n2 = node(c2);
      if (is_binary(n2, BinaryFn::kDiv) && n2.inputs[0] == x && n2.inputs[1] == s) {
        y_id = c2;  // x / sqrt(a)
      } else if ((is_binary(n2, BinaryFn::kDiv) && n2.inputs[1] == s && n2.inputs[0] != s &&
                  scalar_is(n2.inputs[0], 1.0)) ||
                 is_unary(n2, UnaryFn::kReciprocal)) {
        r = n2.outputs[0];
        interior.push_back(c2);
      } else {
        return false;
      }
    } else {
      return false;
    }
    if (r != kNoValue) {
      if (value(r).shape != value(a).shape || value(r).dtype != dt) return false;
      y_id = sole_consumer(r);
      if (y_id < 0 || !is_binary(node(y_id), BinaryFn::kMul) || other_operand(node(y_id), r) != x) return false;
    }
    const ValueId y = node(y_id).outputs[0];
    if (value(y).shape != xv.shape || value(y).dtype != dt) return false;

    // Optional z = y * weight.
    m.last = y_id;
    const NodeId w_id = sole_consumer(y);
    if (w_id >= 0 && is_binary(node(w_id), BinaryFn::kMul)) {
      const ValueId w = other_operand(node(w_id), y);
      const ValueId z = node(w_id).outputs[0];
      if (w != kNoValue && value(z).shape == xv.shape && value(z).dtype == dt &&
          is_weight_shape(value(w), xv.shape, k) && value(w).dtype == dt) {
        interior.push_back(y_id);
        m.last = w_id;
        m.weight = w;
      }
    }
    m.x = x;
    m.normalized_ndim = k;
    m.eps = *eps;
    m.interior = std::move(interior);
    return true;
  }

  // A constant whose shape is the normalized (trailing k) dims of x, possibly
  // with leading 1s: it scales each position of the row, nothing else.
  static bool is_weight_shape(const Value& w, const std::vector<int64_t>& x_shape, int64_t k) {
    if (!w.is_constant() || w.shape.size() < static_cast<size_t>(k) || w.shape.size() > x_shape.size()) return false;
    const size_t lead = w.shape.size() - static_cast<size_t>(k);
    for (size_t d = 0; d < lead; ++d)
      if (w.shape[d] != 1) return false;
    for (size_t d = 0; d < static_cast<size_t>(k); ++d)
      if (w.shape[lead + d] != x_shape[x_shape.size() - static_cast<size_t>(k) + d]) return false;
    return true;
  }

  void rewrite(Match& m) {
    ValueId weight = m.weight;
    if (weight != kNoValue) {
      const Value& w = value(weight);
      const size_t k = static_cast<size_t>(m.normalized_ndim);
      if (w.shape.size() != k) {  // [1, .., D] -> [D]: a view of the same bytes
        std::vector<int64_t> shape(w.shape.end() - static_cast<std::ptrdiff_t>(k), w.shape.end());
        ConstantData data = w.constant;
        weight = g_.add_constant(w.name + ".rms_weight", w.dtype, std::move(shape), data);
        uses_.consumers.emplace_back();
        uses_.is_output.push_back(false);
      }
    }
    Node& last = g_.node(m.last);
    Node fused;
    fused.attrs = RmsNormAttrs{.normalized_ndim = m.normalized_ndim, .eps = m.eps};
    fused.inputs = {m.x};
    if (weight != kNoValue) fused.inputs.push_back(weight);
    fused.outputs = last.outputs;
    fused.source = last.source;
    last = std::move(fused);
  }
};

}  // namespace

bool run_fuse_norm(Graph& g) { return NormFuser(g).run(); }

}  // namespace ingot
