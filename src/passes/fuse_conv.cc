// Conv epilogue fusion: a convolution followed by a per-channel bias add, a
// residual add and/or an activation becomes one Conv node
//   y = act(conv(x, w) + bias + residual)
// (ops.def), so a backend can do the whole epilogue while the conv's output is
// still in registers (cuDNN's fused conv-bias-add-relu) instead of re-reading it
// once per elementwise op. BatchNorm is already folded into conv weights by
// constant folding, which runs before this pass.
//
// Absorbed in this order, each only when the conv's current output has exactly
// one use (no graph output, no other reader), since the intermediate value stops
// existing:
//   1. add of a constant shaped like [C, 1, 1] (any rank that broadcasts along the
//      channel dim only) into the bias (summed with an existing fp32 bias);
//   2. add of a tensor with exactly the conv output's shape and dtype -> residual;
//   3. one activation Unary from the list below -> activation attributes.
// A fused conv takes the position of the last node it absorbed: its inputs are all
// defined by then (the residual was an input of that node) and the absorbed nodes'
// results had no other reader, so topological order holds.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

bool fusible_activation(int64_t fn) {
  switch (static_cast<UnaryFn>(fn)) {
    case UnaryFn::kRelu: case UnaryFn::kClamp: case UnaryFn::kSilu: case UnaryFn::kSigmoid:
    case UnaryFn::kHardSwish: case UnaryFn::kHardSigmoid: case UnaryFn::kGelu: case UnaryFn::kGeluTanh:
    case UnaryFn::kLeakyRelu: case UnaryFn::kTanh:
      return true;
    default:
      return false;
  }
}

ValueId input_or_none(const Node& n, size_t i) { return n.inputs.size() > i ? n.inputs[i] : kNoValue; }

// The conv output's channel dim: 1, or the last dim for channels-last convs.
size_t channel_dim(const ConvAttrs& c, size_t rank) { return c.channels_last ? rank - 1 : 1; }

// Whether constant `b` broadcasts against the conv output `y` along the channel dim
// only ([C], right-aligned: [C, 1, 1] for a 2-d NCHW conv).
bool is_channel_vector(const Value& b, const Value& y, const ConvAttrs& c) {
  if (!b.is_constant() || b.dtype != y.dtype || b.shape.size() > y.shape.size()) return false;
  const size_t rank = y.shape.size(), offset = rank - b.shape.size(), cdim = channel_dim(c, rank);
  if (cdim < offset) return false;
  for (size_t i = 0; i < b.shape.size(); ++i) {
    const int64_t want = i + offset == cdim ? y.shape[cdim] : 1;
    if (b.shape[i] != want) return false;
  }
  return true;
}

class ConvFuser {
 public:
  explicit ConvFuser(Graph& g) : g_(g), uses_(g.use_counts()), consumers_(g.num_values()) {
    for (size_t i = 0; i < g.num_nodes(); ++i)
      for (ValueId in : g.node(static_cast<NodeId>(i)).inputs)
        if (in != kNoValue) consumers_[static_cast<size_t>(in)].push_back(i);
    removed_.assign(g.num_nodes(), false);
  }

  bool run() {
    bool changed = false;
    for (size_t i = 0; i < g_.num_nodes(); ++i) {
      if (removed_[i] || g_.node(static_cast<NodeId>(i)).kind() != OpKind::kConv) continue;
      size_t at = i;
      while (absorb_next(at)) changed = true;
    }
    if (!changed) return false;
    erase_nodes(g_, removed_);
    return true;
  }

 private:
  // The only node reading `v`, or -1 (several readers, a graph output, or none).
  long sole_consumer(ValueId v) const {
    if (uses_[static_cast<size_t>(v)] != 1) return -1;
    const auto& c = consumers_[static_cast<size_t>(v)];
    if (c.size() != 1 || removed_[c[0]]) return -1;
    return static_cast<long>(c[0]);
  }

  // Tries to absorb the sole consumer of the conv at slot `at`; on success the
  // conv moves to the consumer's slot and `at` follows it.
  bool absorb_next(size_t& at) {
    Node& conv = g_.node(static_cast<NodeId>(at));
    if (conv.outputs.size() != 1) return false;
    const ValueId y = conv.outputs[0];
    const long next = sole_consumer(y);
    if (next < 0) return false;
    Node& user = g_.node(static_cast<NodeId>(next));
    if (user.outputs.size() != 1) return false;
    auto& c = std::get<ConvAttrs>(conv.attrs);
    const Value& yv = g_.value(y);
    const Value& out = g_.value(user.outputs[0]);
    if (out.shape != yv.shape || out.dtype != yv.dtype) return false;

    if (user.kind() == OpKind::kUnary) {
      const auto& u = std::get<UnaryAttrs>(user.attrs);
      if (c.activation >= 0 || !fusible_activation(u.fn) || user.inputs[0] != y) return false;
      c.activation = u.fn;
      c.activation_alpha = u.alpha;
      c.activation_beta = u.beta;
      return move_conv(at, static_cast<size_t>(next));
    }
    if (user.kind() != OpKind::kBinary || std::get<BinaryAttrs>(user.attrs).fn != static_cast<int64_t>(BinaryFn::kAdd))
      return false;
    if (user.inputs.size() != 2 || c.activation >= 0) return false;
    const ValueId other = user.inputs[0] == y ? user.inputs[1] : user.inputs[0];
    if (other == y) return false;  // y + y
    const Value& ov = g_.value(other);
    // A constant [C, 1, 1] becomes (part of) the bias, even after a residual: both
    // are plain additions before the activation.
    if (is_channel_vector(ov, yv, c)) {
      if (!merge_bias(conv, other)) return false;
      return move_conv(at, static_cast<size_t>(next));
    }
    if (ov.shape == yv.shape && ov.dtype == yv.dtype && input_or_none(conv, 3) == kNoValue) {
      conv.inputs.resize(4, kNoValue);
      conv.inputs[3] = other;
      return move_conv(at, static_cast<size_t>(next));
    }
    return false;
  }

  // Makes `constant` (shaped like [C, 1, 1]) the conv's bias, or adds it to the
  // existing one (both fp32 constants). The constant add must have been checked.
  bool merge_bias(Node& conv, ValueId constant) {
    const Value& cv = g_.value(constant);
    const int64_t channels = cv.numel();
    const ValueId old_bias = input_or_none(conv, 2);
    const std::string name = (cv.name.empty() ? std::string("conv") : cv.name) + ".conv_bias";
    ValueId bias;
    if (old_bias == kNoValue) {
      // Same bytes, shape [C]: a new constant sharing the data.
      ConstantData data = cv.constant;
      bias = g_.add_constant(name, cv.dtype, {channels}, data);
    } else {
      const Value& bv = g_.value(old_bias);
      if (!bv.is_constant() || bv.dtype != DType::kFloat32 || cv.dtype != DType::kFloat32 || bv.numel() != channels)
        return false;
      std::vector<float> a(static_cast<size_t>(channels)), b(static_cast<size_t>(channels));
      std::memcpy(a.data(), bv.constant->data(), a.size() * sizeof(float));
      std::memcpy(b.data(), cv.constant->data(), b.size() * sizeof(float));
      auto bytes = std::make_shared<std::vector<uint8_t>>(a.size() * sizeof(float));
      for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
      std::memcpy(bytes->data(), a.data(), bytes->size());
      bias = g_.add_constant(name, DType::kFloat32, {channels}, bytes);
    }
    uses_.push_back(0);
    consumers_.emplace_back();
    if (conv.inputs.size() < 3) conv.inputs.resize(3, kNoValue);
    conv.inputs[2] = bias;
    return true;
  }

  // The conv replaces the node at `to` (whose output it now produces); its old slot is removed.
  bool move_conv(size_t& at, size_t to) {
    Node conv = std::move(g_.node(static_cast<NodeId>(at)));
    Node& user = g_.node(static_cast<NodeId>(to));
    const ValueId old_out = conv.outputs[0];
    uses_[static_cast<size_t>(old_out)] = 0;
    conv.outputs[0] = user.outputs[0];
    if (!user.source.node_name.empty())
      conv.source.node_name += (conv.source.node_name.empty() ? "" : "+") + user.source.node_name;
    for (ValueId in : conv.inputs) {
      if (in == kNoValue) continue;
      for (size_t& slot : consumers_[static_cast<size_t>(in)])
        if (slot == at) slot = to;
    }
    user = std::move(conv);
    removed_[at] = true;
    g_.node(static_cast<NodeId>(at)).outputs.clear();
    at = to;
    return true;
  }

  Graph& g_;
  std::vector<int> uses_;
  std::vector<std::vector<size_t>> consumers_;
  std::vector<bool> removed_;
};

}  // namespace

bool run_fuse_conv(Graph& g) { return ConvFuser(g).run(); }

}  // namespace ingot
