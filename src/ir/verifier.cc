// The IR verifier: checks the invariants every pass and the planner rely on
// (ids in range, single producers, topological order, per-op arity, optional
// inputs only where the op allows them, dtype rules). A failure is a bug in the
// frontend or a pass, so it is reported as an internal error naming the node.
#include <string>
#include <vector>

#include "ir/graph.h"

namespace ingot {

namespace {

// How many inputs an op takes and which of them may be absent (kNoValue).
struct Arity {
  size_t min_inputs;
  size_t max_inputs;          // SIZE_MAX = variadic
  std::vector<size_t> optional;  // input positions that may be kNoValue
};

Arity arity_of(const OpAttrs& attrs) {
  constexpr size_t kMany = SIZE_MAX;
  switch (op_kind(attrs)) {
    case OpKind::kReshape: case OpKind::kPermute: case OpKind::kExpand: case OpKind::kSlice:
    case OpKind::kPad: case OpKind::kCast: case OpKind::kUnary: case OpKind::kReduce:
    case OpKind::kArgReduce: case OpKind::kCumulative: case OpKind::kSoftmax: case OpKind::kPool:
    case OpKind::kAdaptivePool: case OpKind::kUpsample: case OpKind::kTriangular: case OpKind::kReformat:
      return {1, 1, {}};
    case OpKind::kConcat: return {1, kMany, {}};
    case OpKind::kGather: case OpKind::kIndexSelect: case OpKind::kSliceScatter:
    case OpKind::kBinary: case OpKind::kMatMul: case OpKind::kGridSample:
      return {2, 2, {}};
    case OpKind::kIndex: {
      size_t n = 1 + std::get<IndexAttrs>(attrs).indexed_dims.size();
      return {n, n, {}};
    }
    case OpKind::kWhere: return {3, 3, {}};
    case OpKind::kLayerNorm: return {1, 5, {1, 2, 3, 4}};  // x, weight, bias, residual, input bias
    case OpKind::kRmsNorm: return {1, 2, {1}};
    case OpKind::kGroupNorm: return {1, 3, {1, 2}};
    case OpKind::kBatchNorm: return {5, 5, {1, 2}};
    case OpKind::kGemm: return {2, 4, {2, 3}};
    case OpKind::kConv: return {2, 4, {2, 3}};
    case OpKind::kPointwise: return {1, kMany, {}};
    case OpKind::kAttention: return {3, 4, {3}};
  }
  return {0, kMany, {}};
}

bool is_optional(const Arity& a, size_t pos) {
  for (size_t p : a.optional)
    if (p == pos) return true;
  return false;
}

class Verifier {
 public:
  explicit Verifier(const Graph& g) : g_(g), defined_(g.num_values(), false), produced_(g.num_values(), false) {}

  Status run() {
    INGOT_RETURN_IF_ERROR(check_values());
    for (ValueId in : g_.inputs) {
      INGOT_RETURN_IF_ERROR(check_id(in, "graph input"));
      const Value& v = g_.value(in);
      if (v.is_constant()) return fail("graph input %" + std::to_string(in) + " is also a constant");
      if (defined_[static_cast<size_t>(in)]) return fail("value %" + std::to_string(in) + " is listed twice as a graph input");
      defined_[static_cast<size_t>(in)] = true;
    }
    for (size_t i = 0; i < g_.num_values(); ++i)
      if (g_.values()[i].is_constant()) defined_[i] = true;
    for (size_t i = 0; i < g_.num_nodes(); ++i) INGOT_RETURN_IF_ERROR(check_node(static_cast<NodeId>(i)));
    if (g_.outputs.empty()) return fail("the graph has no outputs");
    if (!g_.output_names.empty() && g_.output_names.size() != g_.outputs.size())
      return fail("the graph has " + std::to_string(g_.outputs.size()) + " outputs but " +
                  std::to_string(g_.output_names.size()) + " output names");
    for (ValueId out : g_.outputs) {
      INGOT_RETURN_IF_ERROR(check_id(out, "graph output"));
      if (!defined_[static_cast<size_t>(out)])
        return fail("graph output %" + std::to_string(out) + " is never defined");
    }
    return Status::ok_status();
  }

 private:
  Status fail(const std::string& msg) const { return internal_error("IR verifier: " + msg); }

  Status check_id(ValueId v, const std::string& what) const {
    if (v < 0 || static_cast<size_t>(v) >= g_.num_values())
      return fail(what + " refers to value %" + std::to_string(v) + ", out of range [0, " +
                  std::to_string(g_.num_values()) + ")");
    return Status::ok_status();
  }

  Status check_values() const {
    for (size_t i = 0; i < g_.num_values(); ++i) {
      const Value& v = g_.values()[i];
      std::string id = "value %" + std::to_string(i) + " '" + v.name + "'";
      for (int64_t d : v.shape)
        if (d < 0) return fail(id + " has a negative dimension");
      if (!v.dim_symbols.empty() && v.dim_symbols.size() != v.shape.size())
        return fail(id + " has " + std::to_string(v.dim_symbols.size()) + " dim symbols for rank " +
                    std::to_string(v.shape.size()));
      if (v.is_constant()) {
        if (v.producer != -1) return fail(id + " is a constant but has a producer");
        if (v.constant->size() != v.nbytes())
          return fail(id + " holds " + std::to_string(v.constant->size()) + " bytes, expected " +
                      std::to_string(v.nbytes()));
      }
    }
    return Status::ok_status();
  }

  Status check_node(NodeId id) {
    const Node& n = g_.node(id);
    std::string where = describe_node(n) + " (IR node " + std::to_string(id) + ")";
    if (n.attrs.index() >= static_cast<size_t>(kNumOpKinds)) return fail(where + ": no op attributes");
    Arity a = arity_of(n.attrs);
    if (n.inputs.size() < a.min_inputs || n.inputs.size() > a.max_inputs)
      return fail(where + ": " + op_name(n.kind()) + " takes " + std::to_string(a.min_inputs) +
                  (a.max_inputs == a.min_inputs ? "" : (a.max_inputs == SIZE_MAX ? " or more" : " to " + std::to_string(a.max_inputs))) +
                  " inputs, got " + std::to_string(n.inputs.size()));
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      ValueId in = n.inputs[i];
      if (in == kNoValue) {
        if (!is_optional(a, i)) return fail(where + ": input " + std::to_string(i) + " is required but absent");
        continue;
      }
      INGOT_RETURN_IF_ERROR(check_id(in, where + " input " + std::to_string(i)));
      if (!defined_[static_cast<size_t>(in)])
        return fail(where + ": input " + std::to_string(i) + " (%" + std::to_string(in) +
                    ") is used before it is defined (graph not in topological order)");
    }
    if (n.outputs.empty()) return fail(where + ": no outputs");
    for (ValueId out : n.outputs) {
      INGOT_RETURN_IF_ERROR(check_id(out, where + " output"));
      const Value& v = g_.value(out);
      if (v.is_constant()) return fail(where + ": output %" + std::to_string(out) + " is a constant");
      if (produced_[static_cast<size_t>(out)] || defined_[static_cast<size_t>(out)])
        return fail(where + ": output %" + std::to_string(out) + " is produced more than once (or is a graph input)");
      if (v.producer != id)
        return fail(where + ": output %" + std::to_string(out) + " records producer " + std::to_string(v.producer));
      produced_[static_cast<size_t>(out)] = true;
    }
    INGOT_RETURN_IF_ERROR(check_dtypes(n, where));
    for (ValueId out : n.outputs) defined_[static_cast<size_t>(out)] = true;
    return Status::ok_status();
  }

  DType dt(ValueId v) const { return g_.value(v).dtype; }

  Status check_dtypes(const Node& n, const std::string& where) const {
    auto name = [](DType t) { return std::string(dtype_name(t)); };
    DType out = dt(n.outputs[0]);
    switch (n.kind()) {
      case OpKind::kWhere:
        if (dt(n.inputs[0]) != DType::kBool) return fail(where + ": where condition is " + name(dt(n.inputs[0])) + ", not bool");
        if (dt(n.inputs[1]) != dt(n.inputs[2]) || dt(n.inputs[1]) != out)
          return fail(where + ": where branches and output must share a dtype");
        break;
      case OpKind::kBinary: {
        const auto& b = std::get<BinaryAttrs>(n.attrs);
        if (!binary_fn_valid(b.fn)) return fail(where + ": invalid binary fn " + std::to_string(b.fn));
        if (dt(n.inputs[0]) != dt(n.inputs[1]))
          return fail(where + ": binary operands differ in dtype (" + name(dt(n.inputs[0])) + " vs " + name(dt(n.inputs[1])) + ")");
        bool cmp = binary_fn_is_comparison(BinaryFn(b.fn));
        if (cmp && out != DType::kBool) return fail(where + ": comparison output must be bool");
        if (!cmp && out != dt(n.inputs[0])) return fail(where + ": output dtype differs from the operands");
        break;
      }
      case OpKind::kUnary: {
        const auto& u = std::get<UnaryAttrs>(n.attrs);
        if (!unary_fn_valid(u.fn)) return fail(where + ": invalid unary fn " + std::to_string(u.fn));
        bool to_bool = u.fn == static_cast<int64_t>(UnaryFn::kLogicalNot) || u.fn == static_cast<int64_t>(UnaryFn::kIsNan);
        if (to_bool && out != DType::kBool) return fail(where + ": output must be bool");
        break;
      }
      case OpKind::kReduce: {
        const auto& r = std::get<ReduceAttrs>(n.attrs);
        if (!reduce_fn_valid(r.fn)) return fail(where + ": invalid reduce fn " + std::to_string(r.fn));
        break;
      }
      case OpKind::kArgReduce:
        if (out != DType::kInt64) return fail(where + ": arg_reduce output must be int64");
        break;
      case OpKind::kGather:
        if (dt(n.inputs[1]) != DType::kInt64) return fail(where + ": gather index must be int64");
        break;
      case OpKind::kIndexSelect:
        if (dt(n.inputs[1]) != DType::kInt64 && dt(n.inputs[1]) != DType::kInt32)
          return fail(where + ": index_select index must be int64 or int32");
        break;
      case OpKind::kReformat: {
        if (!is_floating(dt(n.inputs[0])) || !is_floating(out))
          return fail(where + ": reformat converts between float types");
        const auto& perm = std::get<ReformatAttrs>(n.attrs).perm;
        const Value& in = g_.value(n.inputs[0]);
        const Value& res = g_.value(n.outputs[0]);
        if (perm.size() != in.shape.size() || res.shape.size() != in.shape.size())
          return fail(where + ": reformat perm does not match the rank");
        std::vector<bool> seen(perm.size(), false);
        for (size_t k = 0; k < perm.size(); ++k) {
          if (perm[k] < 0 || perm[k] >= static_cast<int64_t>(perm.size()) || seen[static_cast<size_t>(perm[k])])
            return fail(where + ": reformat perm is not a permutation");
          seen[static_cast<size_t>(perm[k])] = true;
          if (res.shape[k] != in.shape[static_cast<size_t>(perm[k])])
            return fail(where + ": reformat output shape is not the input's permuted");
        }
        break;
      }
      case OpKind::kLayerNorm: {
        // Optional pre-adds: residual (x's shape) and input bias (the normalized shape's elements).
        const Value& x = g_.value(n.inputs[0]);
        if (n.inputs.size() > 3 && n.inputs[3] != kNoValue) {
          const Value& r = g_.value(n.inputs[3]);
          if (r.shape != x.shape || r.dtype != x.dtype)
            return fail(where + ": layer_norm residual must have the input's shape and dtype");
        }
        if (n.inputs.size() > 4 && n.inputs[4] != kNoValue) {
          const int64_t nd = std::get<LayerNormAttrs>(n.attrs).normalized_ndim;
          const int64_t rank = static_cast<int64_t>(x.shape.size());
          if (nd < 0 || nd > rank) return fail(where + ": layer_norm normalized_ndim exceeds the input's rank");
          int64_t inner = 1;
          for (int64_t k = rank - nd; k < rank; ++k) inner *= x.shape[static_cast<size_t>(k)];
          const Value& b = g_.value(n.inputs[4]);
          if (b.numel() != inner || b.dtype != x.dtype)
            return fail(where + ": layer_norm input bias must have the normalized shape's " + std::to_string(inner) +
                        " elements and the input's dtype");
        }
        break;
      }
      case OpKind::kReshape:
      case OpKind::kPermute:
      case OpKind::kExpand:
        if (dt(n.inputs[0]) != out) return fail(where + ": output dtype differs from the input");
        if (n.kind() == OpKind::kReshape && g_.value(n.inputs[0]).numel() != g_.value(n.outputs[0]).numel())
          return fail(where + ": reshape changes the element count");
        break;
      default:
        break;
    }
    return Status::ok_status();
  }

  const Graph& g_;
  std::vector<bool> defined_;
  std::vector<bool> produced_;
};

}  // namespace

Status verify_graph(const Graph& g) { return Verifier(g).run(); }

}  // namespace ingot
