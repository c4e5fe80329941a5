// Pointwise fusion: connected chains of float Unary and arithmetic Binary nodes
// become one Pointwise node (ops.def) that reads each input once, keeps every
// intermediate in fp32 registers and writes one output. GPT-2's gelu written
// out as 0.5*x*(1+tanh(...)), SiLU as x*sigmoid(x) and scaling chains each turn
// from several memory-bound kernels into one.
//
// Groups grow backwards from a root (the group's only output) over producers
// whose outputs nothing outside the group reads, so no outside node can depend
// on an intermediate: the fused node takes the root's place and the graph stays
// topologically ordered. Every group input must broadcast (numpy rules) to the
// root's shape; then evaluating each instruction at the output index gives the
// unfused values, since broadcasting composes. Scalar float constants become
// immediates. Limits match the kernels' fixed-size programs
// (backends/pointwise_program.h).
//
// Values that precision lowering keeps in float32 (sums that overflow fp16,
// integers cast to float, and whatever is computed from them) are left unfused:
// lowering casts a Pointwise node's inputs to the 16-bit type, which would give
// up exactly the range or exactness those values keep.
#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "backends/pointwise_program.h"
#include "core/half.h"
#include "passes/passes.h"

namespace ingot {
namespace {

using backend::kPointwiseMaxImmediates;
using backend::kPointwiseMaxInputs;
using backend::kPointwiseMaxInstructions;

bool is_fusable_float(DType t) { return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16; }

bool fusable_binary_fn(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd: case BinaryFn::kSub: case BinaryFn::kMul: case BinaryFn::kDiv: case BinaryFn::kPow:
    case BinaryFn::kMaximum: case BinaryFn::kMinimum: case BinaryFn::kAtan2: case BinaryFn::kFmod:
    case BinaryFn::kRemainder:
      return true;
    default: return false;
  }
}

// Whether lower_precision would compute this value in float32 (for an fp16
// target, the strictest case): see role_of() there.
std::vector<bool> values_kept_wide(const Graph& g) {
  std::vector<bool> wide(g.num_values(), false);
  auto any_wide_input = [&](const Node& n) {
    for (ValueId in : n.inputs)
      if (in != kNoValue && wide[static_cast<size_t>(in)]) return true;
    return false;
  };
  for (const Node& n : g.nodes()) {
    bool w = false;
    switch (n.kind()) {
      case OpKind::kCast:
        w = !n.inputs.empty() && (is_integral(g.value(n.inputs[0]).dtype) || g.value(n.inputs[0]).dtype == DType::kBool ||
                                  wide[static_cast<size_t>(n.inputs[0])]);
        break;
      case OpKind::kReduce: {
        const auto fn = static_cast<ReduceFn>(std::get<ReduceAttrs>(n.attrs).fn);
        w = fn == ReduceFn::kSum || fn == ReduceFn::kProd || fn == ReduceFn::kVar || any_wide_input(n);
        break;
      }
      case OpKind::kCumulative:
        w = true;
        break;
      case OpKind::kReshape: case OpKind::kPermute: case OpKind::kExpand: case OpKind::kSlice:
      case OpKind::kConcat: case OpKind::kPad: case OpKind::kGather: case OpKind::kIndexSelect:
      case OpKind::kIndex: case OpKind::kSliceScatter: case OpKind::kWhere: case OpKind::kUnary:
      case OpKind::kBinary: case OpKind::kArgReduce: case OpKind::kTriangular:
        w = any_wide_input(n);
        break;
      default:
        break;
    }
    if (w)
      for (ValueId out : n.outputs) wide[static_cast<size_t>(out)] = true;
  }
  return wide;
}

// Numpy broadcasting of `from` to exactly `to`.
bool broadcasts_to(const std::vector<int64_t>& from, const std::vector<int64_t>& to) {
  if (from.size() > to.size()) return false;
  const size_t lead = to.size() - from.size();
  for (size_t d = 0; d < from.size(); ++d)
    if (from[d] != 1 && from[d] != to[lead + d]) return false;
  return true;
}

double scalar_value(const Value& v) {
  const uint8_t* p = v.constant->data();
  switch (v.dtype) {
    case DType::kFloat32: { float f; std::memcpy(&f, p, 4); return f; }
    case DType::kFloat64: { double d; std::memcpy(&d, p, 8); return d; }
    case DType::kFloat16: { uint16_t b; std::memcpy(&b, p, 2); return Half::from_bits(b); }
    case DType::kBFloat16: { uint16_t b; std::memcpy(&b, p, 2); return BFloat16::from_bits(b); }
    default: return 0.0;
  }
}

class PointwiseFuser {
 public:
  explicit PointwiseFuser(Graph& g)
      : g_(g), uses_(g.use_counts()), wide_(values_kept_wide(g)), is_output_(g.num_values(), false),
        group_of_(g.num_nodes(), -1) {
    for (ValueId v : g.outputs)
      if (v >= 0) is_output_[static_cast<size_t>(v)] = true;
  }

  bool run() {
    std::vector<std::vector<NodeId>> groups;
    for (size_t i = g_.num_nodes(); i-- > 0;) {
      const NodeId root = static_cast<NodeId>(i);
      if (group_of_[i] >= 0 || !candidate(root)) continue;
      std::vector<NodeId> group = grow(root);
      if (group.size() < 2) continue;
      for (NodeId m : group) group_of_[static_cast<size_t>(m)] = static_cast<int>(groups.size());
      groups.push_back(std::move(group));
    }
    if (groups.empty()) return false;
    std::vector<Node> nodes;
    nodes.reserve(g_.num_nodes());
    for (size_t i = 0; i < g_.num_nodes(); ++i) {
      const int gi = group_of_[i];
      if (gi < 0) {
        nodes.push_back(std::move(g_.nodes()[i]));
        continue;
      }
      // The root is the group's last node in graph order: the fused node goes there.
      if (groups[static_cast<size_t>(gi)].back() == static_cast<NodeId>(i)) nodes.push_back(fuse(groups[static_cast<size_t>(gi)]));
    }
    g_.set_nodes(std::move(nodes));
    return true;
  }

 private:
  struct Stats {
    size_t inputs = 0, instructions = 0, immediates = 0;
  };

  bool scalar_constant(ValueId v) const {
    const Value& val = g_.value(v);
    return val.is_constant() && val.numel() == 1 && is_floating(val.dtype);
  }

  bool candidate(NodeId id) const {
    const Node& n = g_.node(id);
    if (n.outputs.size() != 1) return false;
    const Value& out = g_.value(n.outputs[0]);
    if (!is_fusable_float(out.dtype)) return false;
    if (n.kind() == OpKind::kUnary) {
      const auto& a = std::get<UnaryAttrs>(n.attrs);
      if (!unary_fn_valid(a.fn) || !backend::pointwise_unary_fn_ok(static_cast<UnaryFn>(a.fn))) return false;
      if (n.inputs.size() != 1) return false;
    } else if (n.kind() == OpKind::kBinary) {
      const auto& a = std::get<BinaryAttrs>(n.attrs);
      if (!binary_fn_valid(a.fn) || !fusable_binary_fn(static_cast<BinaryFn>(a.fn))) return false;
      if (n.inputs.size() != 2) return false;
    } else {
      return false;
    }
    for (ValueId in : n.inputs) {
      if (in == kNoValue || g_.value(in).dtype != out.dtype || wide_[static_cast<size_t>(in)]) return false;
      if (!broadcasts_to(g_.value(in).shape, out.shape)) return false;
    }
    return true;
  }

  // The group's nodes in graph order (root last), or just the root.
  std::vector<NodeId> grow(NodeId root) const {
    std::vector<NodeId> group = {root};
    const DType dtype = g_.value(g_.node(root).outputs[0]).dtype;
    const std::vector<int64_t>& shape = g_.value(g_.node(root).outputs[0]).shape;
    bool changed = true;
    while (changed) {
      changed = false;
      for (size_t gi = 0; gi < group.size() && group.size() < static_cast<size_t>(kPointwiseMaxInstructions); ++gi) {
        const std::vector<ValueId> inputs = g_.node(group[gi]).inputs;
        for (ValueId v : inputs) {
          const NodeId p = g_.value(v).producer;
          if (p < 0 || group_of_[static_cast<size_t>(p)] >= 0) continue;
          if (std::find(group.begin(), group.end(), p) != group.end()) continue;
          if (!candidate(p) || is_output_[static_cast<size_t>(v)] || g_.value(v).dtype != dtype) continue;
          if (!broadcasts_to(g_.value(v).shape, shape)) continue;
          if (uses_in(group, v) != uses_[static_cast<size_t>(v)]) continue;  // read outside the group
          std::vector<NodeId> bigger = group;
          bigger.insert(std::upper_bound(bigger.begin(), bigger.end(), p), p);
          if (!within_limits(bigger, shape)) continue;
          group = std::move(bigger);
          changed = true;
        }
      }
    }
    return group;
  }

  int uses_in(const std::vector<NodeId>& group, ValueId v) const {
    int count = 0;
    for (NodeId m : group)
      for (ValueId in : g_.node(m).inputs) count += in == v;
    return count;
  }

  bool produced_in(const std::vector<NodeId>& group, ValueId v) const {
    const NodeId p = g_.value(v).producer;
    return p >= 0 && std::binary_search(group.begin(), group.end(), p);
  }

  bool within_limits(const std::vector<NodeId>& group, const std::vector<int64_t>& shape) const {
    std::set<ValueId> inputs, scalars;
    size_t immediates = 0;
    for (NodeId m : group) {
      const Node& n = g_.node(m);
      if (n.kind() == OpKind::kUnary) immediates += 2;
      for (ValueId in : n.inputs) {
        if (produced_in(group, in)) continue;
        if (scalar_constant(in)) scalars.insert(in);
        else if (broadcasts_to(g_.value(in).shape, shape)) inputs.insert(in);
        else return false;
      }
    }
    return !inputs.empty() && inputs.size() <= static_cast<size_t>(kPointwiseMaxInputs) &&
           group.size() + scalars.size() <= static_cast<size_t>(kPointwiseMaxInstructions) &&
           immediates + scalars.size() <= static_cast<size_t>(kPointwiseMaxImmediates);
  }

  Node fuse(const std::vector<NodeId>& group) const {
    PointwiseAttrs attrs;
    std::vector<ValueId> inputs;
    std::vector<std::pair<ValueId, int64_t>> regs;  // value -> register
    auto reg_of = [&](ValueId v) -> int64_t {
      for (const auto& [val, r] : regs)
        if (val == v) return r;
      return -1;
    };
    // Registers 0..n-1: the non-constant inputs, in order of first use.
    for (NodeId m : group)
      for (ValueId in : g_.node(m).inputs)
        if (!produced_in(group, in) && !scalar_constant(in) && reg_of(in) < 0) {
          regs.emplace_back(in, static_cast<int64_t>(inputs.size()));
          inputs.push_back(in);
        }
    int64_t next = static_cast<int64_t>(inputs.size());
    auto emit = [&](int64_t kind, int64_t fn, int64_t a, int64_t b, int64_t imm) {
      attrs.program.insert(attrs.program.end(), {kind, fn, a, b, imm});
      return next++;
    };
    std::string names;
    constexpr int kNamesKept = 4;
    int named = 0;
    for (NodeId m : group) {
      const Node& n = g_.node(m);
      for (ValueId in : n.inputs)
        if (scalar_constant(in) && reg_of(in) < 0) {
          attrs.immediates.push_back(scalar_value(g_.value(in)));
          regs.emplace_back(in, emit(2, 0, 0, 0, static_cast<int64_t>(attrs.immediates.size()) - 1));
        }
      int64_t r;
      if (n.kind() == OpKind::kUnary) {
        const auto& a = std::get<UnaryAttrs>(n.attrs);
        attrs.immediates.push_back(a.alpha);
        attrs.immediates.push_back(a.beta);
        r = emit(0, a.fn, reg_of(n.inputs[0]), 0, static_cast<int64_t>(attrs.immediates.size()) - 2);
      } else {
        const auto& a = std::get<BinaryAttrs>(n.attrs);
        r = emit(1, a.fn, reg_of(n.inputs[0]), reg_of(n.inputs[1]), 0);
      }
      regs.emplace_back(n.outputs[0], r);
      if (n.source.node_name.empty()) continue;
      // Keeps the merged name short: the first few nodes, then a count.
      if (++named <= kNamesKept) names += (names.empty() ? "" : "+") + n.source.node_name;
    }
    if (named > kNamesKept) {
      names += '+';
      names += std::to_string(named - kNamesKept);
      names += " more";
    }
    const Node& root = g_.node(group.back());
    Node fused;
    fused.attrs = std::move(attrs);
    fused.inputs = std::move(inputs);
    fused.outputs = root.outputs;
    fused.source = root.source;
    fused.source.node_name = names.empty() ? root.source.node_name : names;
    return fused;
  }

  Graph& g_;
  std::vector<int> uses_;
  std::vector<bool> wide_;
  std::vector<bool> is_output_;
  std::vector<int> group_of_;
};

}  // namespace

bool run_fuse_pointwise(Graph& g) { return PointwiseFuser(g).run(); }

}  // namespace ingot
