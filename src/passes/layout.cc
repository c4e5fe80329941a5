// Channels-last layout: every 2-d, non-transposed convolution computes in NHWC
// (channels_last=true), which is the layout tensor-core convolutions want (cuDNN
// transposes NCHW operands internally otherwise, once per conv), and the pools
// and elementwise ops between them follow, so a ResNet stays NHWC from its first
// conv to its global pool with one permute at the input.
//
// One forward walk in topological order. `nhwc_` maps an NCHW value to a value
// holding the same tensor in NHWC. A converted conv reads the NHWC version of its
// input and residual (a Permute is inserted only where none exists yet), uses a
// weight permuted at build time ([Cout, Cin/g, kh, kw] -> [Cout, kh, kw, Cin/g]),
// and its original NCHW output value is re-created by a Permute back, so readers
// that did not follow are untouched. Layout-agnostic readers of NHWC values
// (Unary, Binary, Where, Cast, Pointwise, Pool, AdaptivePool, Reduce, Concat,
// Slice) are rewritten to NHWC too when that needs no new data permute (other
// operands already NHWC, constants permuted at build time, broadcast operands
// reshaped). Permutes back that nothing reads any more are left for DCE. A
// permute that only moves size-1 dims is emitted as a Reshape (no data motion).
//
// Constant folding does not run after fusion, so weights and other constants are
// permuted here. The pass changes nothing once no NCHW 2-d conv is left, which
// makes it idempotent.
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "passes/passes.h"

namespace ingot {

namespace {

const IntList kToNhwc = {0, 2, 3, 1};
const IntList kToNchw = {0, 3, 1, 2};
// Where NCHW dim d sits in NHWC.
constexpr int64_t kNhwcPosition[4] = {0, 3, 1, 2};

template <typename T>
std::vector<T> permuted(const std::vector<T>& v, const IntList& perm) {
  std::vector<T> out(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) out[k] = v[static_cast<size_t>(perm[k])];
  return out;
}

// True when the permute keeps the order of every dim larger than 1 (so it is a reshape).
bool moves_only_unit_dims(const std::vector<int64_t>& shape, const IntList& perm) {
  int64_t last = -1;
  for (int64_t p : perm) {
    if (shape[static_cast<size_t>(p)] == 1) continue;
    if (p < last) return false;
    last = p;
  }
  return true;
}

bool is_convertible_conv(const Graph& g, const Node& n) {
  if (n.kind() != OpKind::kConv) return false;
  const auto& c = std::get<ConvAttrs>(n.attrs);
  return !c.transposed && !c.channels_last && g.value(n.inputs[0]).shape.size() == 4 &&
         g.value(n.inputs[1]).shape.size() == 4 && n.outputs.size() == 1;
}

// Dense row-major permute of raw element bytes.
std::vector<uint8_t> permute_bytes(const std::vector<uint8_t>& src, const std::vector<int64_t>& shape,
                                   const IntList& perm, size_t elem) {
  const size_t rank = shape.size();
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t i = rank; i-- > 1;) in_strides[i - 1] = in_strides[i] * shape[i];
  const std::vector<int64_t> out_shape = permuted(shape, perm);
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  std::vector<uint8_t> dst(src.size());
  std::vector<int64_t> idx(rank, 0);
  for (int64_t o = 0; o < total; ++o) {
    int64_t in_off = 0;
    for (size_t k = 0; k < rank; ++k) in_off += idx[k] * in_strides[static_cast<size_t>(perm[k])];
    std::memcpy(dst.data() + static_cast<size_t>(o) * elem, src.data() + static_cast<size_t>(in_off) * elem, elem);
    for (size_t k = rank; k-- > 0;) {
      if (++idx[k] < out_shape[k]) break;
      idx[k] = 0;
    }
  }
  return dst;
}

class LayoutRewriter {
 public:
  explicit LayoutRewriter(Graph& g) : g_(g) {}

  bool run() {
    bool any = false;
    for (const Node& n : g_.nodes()) any = any || is_convertible_conv(g_, n);
    if (!any) return false;
    std::vector<Node> old = std::move(g_.nodes());
    g_.set_nodes({});
    for (Node& n : old) process(std::move(n));
    g_.set_nodes(std::move(out_));
    return true;
  }

 private:
  ValueId add_value_like(ValueId like, std::vector<int64_t> shape, std::vector<std::string> symbols,
                         const std::string& suffix) {
    const Value& src = g_.value(like);
    Value v;
    v.name = src.name + suffix;
    v.dtype = src.dtype;
    v.shape = std::move(shape);
    v.dim_symbols = std::move(symbols);
    return g_.add_value(std::move(v));
  }

  void emit(OpAttrs attrs, std::vector<ValueId> inputs, std::vector<ValueId> outputs, const SourceInfo& source) {
    Node n;
    n.attrs = std::move(attrs);
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    n.source = source;
    out_.push_back(std::move(n));
  }

  // `in` reshaped to `shape` (same element order): a constant sharing the bytes, or a Reshape node.
  ValueId reshaped(ValueId in, std::vector<int64_t> shape, const SourceInfo& source) {
    const Value& v = g_.value(in);
    if (v.shape == shape) return in;
    if (v.is_constant()) {
      ConstantData data = v.constant;
      const std::string name = v.name + ".nhwc";
      const DType dtype = v.dtype;
      return g_.add_constant(name, dtype, std::move(shape), data);
    }
    ValueId out = add_value_like(in, shape, {}, ".nhwc");
    emit(ReshapeAttrs{.shape = shape}, {in}, {out}, source);
    return out;
  }

  // `in` permuted by perm: folded for constants, a Reshape when only unit dims move.
  ValueId permuted_value(ValueId in, const IntList& perm, const SourceInfo& source) {
    const Value& v = g_.value(in);
    std::vector<int64_t> shape = permuted(v.shape, perm);
    if (moves_only_unit_dims(v.shape, perm)) return reshaped(in, std::move(shape), source);
    if (v.is_constant()) {
      auto bytes = std::make_shared<std::vector<uint8_t>>(permute_bytes(*v.constant, v.shape, perm, dtype_size(v.dtype)));
      const std::string name = v.name + ".nhwc";
      const DType dtype = v.dtype;
      return g_.add_constant(name, dtype, std::move(shape), bytes);
    }
    std::vector<std::string> symbols = v.dim_symbols.size() == perm.size() ? permuted(v.dim_symbols, perm)
                                                                            : std::vector<std::string>{};
    ValueId out = add_value_like(in, std::move(shape), std::move(symbols), ".nhwc");
    emit(PermuteAttrs{.perm = perm}, {in}, {out}, source);
    return out;
  }

  // The NHWC version of a rank-4 NCHW value, inserting a permute the first time.
  ValueId nhwc(ValueId v, const SourceInfo& source) {
    auto it = nhwc_.find(v);
    if (it != nhwc_.end()) return it->second;
    ValueId out = permuted_value(v, kToNhwc, source);
    nhwc_[v] = out;
    return out;
  }

  bool has_nhwc(ValueId v) const { return v != kNoValue && nhwc_.count(v) > 0; }

  // An operand of an elementwise op whose output is rank 4, adapted to the NHWC
  // output without a run-time data permute; nullopt when that is impossible.
  std::optional<ValueId> broadcast_operand(ValueId v, const SourceInfo& source) {
    if (has_nhwc(v)) return nhwc_[v];
    const Value& val = g_.value(v);
    if (val.shape.size() > 4) return std::nullopt;
    std::vector<int64_t> s4(4 - val.shape.size(), 1);
    s4.insert(s4.end(), val.shape.begin(), val.shape.end());
    bool all_ones = true;
    for (int64_t d : s4) all_ones = all_ones && d == 1;
    if (all_ones) return v;  // broadcasts the same way in any layout
    if (moves_only_unit_dims(s4, kToNhwc)) return reshaped(v, permuted(s4, kToNhwc), source);
    if (!val.is_constant()) return std::nullopt;
    return permuted_value(reshaped(v, s4, source), kToNhwc, source);
  }

  // Emits n (already reading NHWC operands) with NHWC outputs, then permutes back
  // to the original NCHW output values for readers that stay NCHW.
  void emit_nhwc(Node n) {
    std::vector<ValueId> originals = n.outputs;
    for (ValueId& out : n.outputs) {
      const Value& v = g_.value(out);
      std::vector<std::string> symbols =
          v.dim_symbols.size() == 4 ? permuted(v.dim_symbols, kToNhwc) : std::vector<std::string>{};
      out = add_value_like(out, permuted(g_.value(out).shape, kToNhwc), std::move(symbols), ".nhwc");
    }
    const SourceInfo source = n.source;
    std::vector<ValueId> nhwc_outs = n.outputs;
    out_.push_back(std::move(n));
    for (size_t k = 0; k < originals.size(); ++k) {
      const Value& nv = g_.value(nhwc_outs[k]);
      if (moves_only_unit_dims(nv.shape, kToNchw))
        emit(ReshapeAttrs{.shape = g_.value(originals[k]).shape}, {nhwc_outs[k]}, {originals[k]}, source);
      else
        emit(PermuteAttrs{.perm = kToNchw}, {nhwc_outs[k]}, {originals[k]}, source);
      nhwc_[originals[k]] = nhwc_outs[k];
    }
  }

  void convert_conv(Node n) {
    auto& c = std::get<ConvAttrs>(n.attrs);
    c.channels_last = true;
    n.inputs[0] = nhwc(n.inputs[0], n.source);
    n.inputs[1] = permuted_value(n.inputs[1], kToNhwc, n.source);  // [Cout, kh, kw, Cin/g]
    if (n.inputs.size() > 3 && n.inputs[3] != kNoValue) n.inputs[3] = nhwc(n.inputs[3], n.source);
    emit_nhwc(std::move(n));
  }

  bool all_outputs_rank4(const Node& n) const {
    for (ValueId o : n.outputs)
      if (g_.value(o).shape.size() != 4) return false;
    return !n.outputs.empty();
  }

  bool try_elementwise(Node& n) {
    if (!all_outputs_rank4(n)) return false;
    bool any_nhwc = false;
    for (ValueId in : n.inputs) any_nhwc = any_nhwc || has_nhwc(in);
    if (!any_nhwc) return false;
    // Check every operand first so that nothing is emitted for a node that stays NCHW.
    for (ValueId in : n.inputs) {
      if (in == kNoValue || has_nhwc(in)) continue;
      const Value& v = g_.value(in);
      if (v.shape.size() > 4) return false;
      std::vector<int64_t> s4(4 - v.shape.size(), 1);
      s4.insert(s4.end(), v.shape.begin(), v.shape.end());
      if (!v.is_constant() && !moves_only_unit_dims(s4, kToNhwc)) return false;
    }
    Node copy = n;
    for (ValueId& in : copy.inputs) {
      if (in == kNoValue) continue;
      std::optional<ValueId> adapted = broadcast_operand(in, copy.source);
      if (!adapted) return false;  // unreachable after the check above
      in = *adapted;
    }
    emit_nhwc(std::move(copy));
    return true;
  }

  bool try_pool(Node& n) {
    if (n.inputs.empty() || !has_nhwc(n.inputs[0]) || !all_outputs_rank4(n)) return false;
    if (n.kind() == OpKind::kPool) {
      auto& a = std::get<PoolAttrs>(n.attrs);
      if (a.channels_last || a.kernel.size() != 2) return false;
      a.channels_last = true;
    } else {
      auto& a = std::get<AdaptivePoolAttrs>(n.attrs);
      if (a.channels_last) return false;
      a.channels_last = true;
    }
    n.inputs[0] = nhwc_[n.inputs[0]];
    emit_nhwc(std::move(n));
    return true;
  }

  bool try_reduce(Node& n) {
    if (n.inputs.size() != 1 || !has_nhwc(n.inputs[0]) || n.outputs.size() != 1) return false;
    auto& a = std::get<ReduceAttrs>(n.attrs);
    std::vector<bool> reduced(4, false);
    for (int64_t d : a.dims) {
      if (d < 0 || d > 3) return false;
      reduced[static_cast<size_t>(kNhwcPosition[d])] = true;
    }
    IntList dims;
    for (int64_t p = 0; p < 4; ++p)
      if (reduced[static_cast<size_t>(p)]) dims.push_back(p);
    if (a.keepdim) {
      a.dims = dims;
      n.inputs[0] = nhwc_[n.inputs[0]];
      emit_nhwc(std::move(n));
      return true;
    }
    // Without keepdim the result is in NCHW order already when the kept dims keep their order.
    int64_t last = -1;
    for (int64_t p = 0; p < 4; ++p) {
      if (reduced[static_cast<size_t>(p)]) continue;
      if (kToNhwc[static_cast<size_t>(p)] < last) return false;
      last = kToNhwc[static_cast<size_t>(p)];
    }
    a.dims = dims;
    n.inputs[0] = nhwc_[n.inputs[0]];
    out_.push_back(std::move(n));
    return true;
  }

  bool try_dim_op(Node& n) {
    if (!all_outputs_rank4(n) || n.outputs.size() != 1) return false;
    for (ValueId in : n.inputs)
      if (!has_nhwc(in)) return false;
    int64_t* dim = n.kind() == OpKind::kConcat ? &std::get<ConcatAttrs>(n.attrs).dim : &std::get<SliceAttrs>(n.attrs).dim;
    if (*dim < 0 || *dim > 3) return false;
    *dim = kNhwcPosition[*dim];
    for (ValueId& in : n.inputs) in = nhwc_[in];
    emit_nhwc(std::move(n));
    return true;
  }

  void process(Node n) {
    switch (n.kind()) {
      case OpKind::kConv:
        if (is_convertible_conv(g_, n)) return convert_conv(std::move(n));
        break;
      case OpKind::kPermute: {
        // A permute NHWC -> NCHW already in the model: its input is the NHWC version.
        const auto& p = std::get<PermuteAttrs>(n.attrs).perm;
        if (p == kToNchw && n.inputs.size() == 1 && n.outputs.size() == 1 && !has_nhwc(n.outputs[0]))
          nhwc_[n.outputs[0]] = n.inputs[0];
        break;
      }
      case OpKind::kUnary: case OpKind::kBinary: case OpKind::kCast: case OpKind::kWhere: case OpKind::kPointwise:
        if (try_elementwise(n)) return;
        break;
      case OpKind::kPool: case OpKind::kAdaptivePool:
        if (try_pool(n)) return;
        break;
      case OpKind::kReduce:
        if (try_reduce(n)) return;
        break;
      case OpKind::kConcat: case OpKind::kSlice:
        if (try_dim_op(n)) return;
        break;
      default:
        break;
    }
    out_.push_back(std::move(n));
  }

  Graph& g_;
  std::vector<Node> out_;
  std::map<ValueId, ValueId> nhwc_;
};

}  // namespace

bool run_layout_channels_last(Graph& g) { return LayoutRewriter(g).run(); }

}  // namespace ingot
