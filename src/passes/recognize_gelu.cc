// Tanh-GELU recognition: GPT-2, GPT-J, CodeGen, BLOOM-era and many vision
// models write the tanh approximation of GELU by hand (HF NewGELUActivation:
// 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))), so after export it
// arrives as eight elementwise ops. As one gelu_tanh op it fuses into the
// preceding GEMM's epilogue (fuse_gemm) instead of running as a long pointwise
// program over the MLP's widest activation (a written-out GELU over ViT-B/16's
// [6304, 3072] activation took 0.17 ms in the interpreted pointwise kernel, against
// ~0.03 ms for reading and writing it once).
//
// Matched pattern (float, one dtype and shape throughout; c0 = 0.5, c1 = 1,
// c2 = sqrt(2 / pi) to 1e-6 relative, c3 = 0.044715 to 1e-6 relative, constants
// on either side of a product or sum):
//   cube  = pow_scalar(x, 3) | pow(x, c 3) | x * (x * x) | (x * x) * x
//   inner = c2 * (x + c3 * cube)
//   t     = 1 + tanh(inner)
//   out   = the product of x, c0 and t as two multiplies in any grouping
// Every intermediate must have no other use and not be a graph output; the last
// multiply becomes the gelu_tanh node (keeping its output value and source
// location, so the order stays topological) and the others are removed. The
// numbers do not get worse: every backend computes gelu_tanh with this formula in
// fp32 (cuBLASLt's GELU epilogue is the same tanh approximation).
#include <cmath>
#include <optional>
#include <vector>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

class GeluRecognizer {
 public:
  explicit GeluRecognizer(Graph& g) : g_(g), uses_(g) {}

  bool run() {
    std::vector<bool> remove(g_.num_nodes(), false);
    bool changed = false;
    for (size_t i = 0; i < g_.num_nodes(); ++i) {
      if (remove[i]) continue;
      std::vector<NodeId> interior;
      ValueId x = kNoValue;
      if (!match(static_cast<NodeId>(i), x, interior)) continue;
      bool taken = false;  // a node already claimed by an earlier match
      for (NodeId n : interior) taken |= remove[static_cast<size_t>(n)];
      if (taken) continue;
      for (NodeId n : interior) remove[static_cast<size_t>(n)] = true;
      Node& last = g_.node(static_cast<NodeId>(i));
      last.attrs = UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kGeluTanh)};
      last.inputs = {x};
      changed = true;
    }
    if (!changed) return false;
    erase_nodes(g_, remove);
    return true;
  }

 private:
  Graph& g_;
  UseIndex uses_;

  const Node& node(NodeId id) const { return g_.node(id); }
  const Value& value(ValueId id) const { return g_.value(id); }

  // The node producing v when its only reader is `reader` (exactly once) and v
  // is not a graph output; else -1.
  NodeId private_producer(ValueId v, NodeId reader) const {
    if (v == kNoValue || uses_.sole_consumer(v) != reader) return -1;
    return value(v).producer;
  }

  static bool is_binary(const Node& n, BinaryFn fn) { return binary_fn_is(n, fn); }
  static bool is_unary(const Node& n, UnaryFn fn) { return unary_fn_is(n, fn); }
  bool scalar_near(ValueId v, double expected) const {
    const std::optional<double> s = scalar_constant(value(v));
    return s && std::fabs(*s - expected) <= 1e-6 * std::fabs(expected);
  }

  // For a binary node with one scalar operand near c: the other operand.
  ValueId operand_beside(const Node& n, double c) const {
    if (scalar_near(n.inputs[1], c)) return n.inputs[0];
    if (scalar_near(n.inputs[0], c)) return n.inputs[1];
    return kNoValue;
  }

  // Whether value v (read only by `reader`) is x^3 written one of the known ways.
  bool is_cube_of(ValueId v, NodeId reader, ValueId x, std::vector<NodeId>& interior) const {
    const NodeId p = private_producer(v, reader);
    if (p < 0) return false;
    const Node& n = node(p);
    if (is_unary(n, UnaryFn::kPowScalar) && std::get<UnaryAttrs>(n.attrs).alpha == 3.0 && n.inputs[0] == x) {
      interior.push_back(p);
      return true;
    }
    if (is_binary(n, BinaryFn::kPow) && n.inputs[0] == x && scalar_near(n.inputs[1], 3.0)) {
      interior.push_back(p);
      return true;
    }
    if (is_binary(n, BinaryFn::kMul)) {
      for (int side = 0; side < 2; ++side) {
        if (n.inputs[side] != x) continue;
        const NodeId sq = private_producer(n.inputs[1 - side], p);
        if (sq >= 0 && is_binary(node(sq), BinaryFn::kMul) && node(sq).inputs[0] == x && node(sq).inputs[1] == x) {
          interior.push_back(p);
          interior.push_back(sq);
          return true;
        }
      }
    }
    return false;
  }

  // Whether t (read only by `reader`) is 1 + tanh(c2 * (x + c3 * x^3)); sets x.
  bool is_one_plus_tanh(ValueId t, NodeId reader, ValueId& x, std::vector<NodeId>& interior) const {
    const NodeId add1 = private_producer(t, reader);
    if (add1 < 0 || !is_binary(node(add1), BinaryFn::kAdd)) return false;
    const NodeId th = private_producer(operand_beside(node(add1), 1.0), add1);
    if (th < 0 || !is_unary(node(th), UnaryFn::kTanh)) return false;
    const NodeId scaled = private_producer(node(th).inputs[0], th);
    if (scaled < 0 || !is_binary(node(scaled), BinaryFn::kMul)) return false;
    const NodeId sum = private_producer(operand_beside(node(scaled), std::sqrt(2.0 / M_PI)), scaled);
    if (sum < 0 || !is_binary(node(sum), BinaryFn::kAdd)) return false;
    for (int side = 0; side < 2; ++side) {
      const ValueId cand = node(sum).inputs[side];
      const NodeId term = private_producer(node(sum).inputs[1 - side], sum);
      if (term < 0 || !is_binary(node(term), BinaryFn::kMul)) continue;
      std::vector<NodeId> cube_nodes;
      if (!is_cube_of(operand_beside(node(term), 0.044715), term, cand, cube_nodes)) continue;
      x = cand;
      interior.insert(interior.end(), {add1, th, scaled, sum, term});
      interior.insert(interior.end(), cube_nodes.begin(), cube_nodes.end());
      return true;
    }
    return false;
  }

  // Starting at the last multiply: the product of x, 0.5 and 1 + tanh(..) as
  // mul(a, mul(b, c)) in any order of factors.
  bool match(NodeId last_id, ValueId& x, std::vector<NodeId>& interior) const {
    const Node& last = node(last_id);
    if (!is_binary(last, BinaryFn::kMul)) return false;
    const Value& out = value(last.outputs[0]);
    if (!is_float_dtype(out.dtype)) return false;
    for (int side = 0; side < 2; ++side) {
      const NodeId inner = private_producer(last.inputs[side], last_id);
      if (inner < 0 || !is_binary(node(inner), BinaryFn::kMul)) continue;
      // Leaves: the other operand of `last` (read by last), then inner's two (read by inner).
      const ValueId leaves[3] = {last.inputs[1 - side], node(inner).inputs[0], node(inner).inputs[1]};
      const NodeId readers[3] = {last_id, inner, inner};
      for (int t = 0; t < 3; ++t) {  // which leaf is 1 + tanh(..)
        std::vector<NodeId> found = {inner};
        ValueId cand = kNoValue;
        if (!is_one_plus_tanh(leaves[t], readers[t], cand, found)) continue;
        const ValueId a = leaves[(t + 1) % 3], b = leaves[(t + 2) % 3];
        if (!((a == cand && scalar_near(b, 0.5)) || (b == cand && scalar_near(a, 0.5)))) continue;
        const Value& xv = value(cand);
        if (xv.dtype != out.dtype || xv.shape != out.shape) continue;
        // Every value in between must have x's shape and dtype (no hidden broadcast or cast).
        bool same = true;
        for (NodeId n : found) {
          const Value& v = value(node(n).outputs[0]);
          same = same && v.dtype == out.dtype && v.shape == out.shape;
        }
        if (!same) continue;
        x = cand;
        interior = std::move(found);
        return true;
      }
    }
    return false;
  }

  static bool is_float_dtype(DType t) {
    return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kFloat64;
  }
};

}  // namespace

bool run_recognize_gelu(Graph& g) { return GeluRecognizer(g).run(); }

}  // namespace ingot
