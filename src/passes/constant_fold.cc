// Constant folding: any node whose inputs are all constants is evaluated at
// build time on the CPU backend (the same kernels the runtime uses, so folded
// numbers match unfolded ones) and its outputs become constants. This removes
// arange/full chains, weight transposes and reshapes, attention masks, etc.
// Outputs above a size cap stay computed at run time: folding a broadcast could
// otherwise turn a scalar into hundreds of megabytes of engine file.
//
// A folded constant that only repeats a smaller tensor along some dims (BERT's
// token-type embedding, gathered for every batch row from ids that are all
// zero) is handed to the broadcasting ops that read it (binary, where) in its
// small form, on the dims some other input of that op spans anyway: the engine
// stores 1/B of it and the kernel reads 1/B of it, broadcasting as it would.
//
// Also folds inference BatchNorm into the convolution feeding it: with
// s = gamma / sqrt(var + eps), conv(x, W, b) followed by BN equals
// conv(x, W * s[c], (b - mean) * s + beta). Done in double precision, which
// differs from PyTorch's unfused result by float rounding only.
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "passes/evaluate.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

bool all_inputs_constant(const Graph& g, const Node& n) {
  bool any = false;
  for (ValueId in : n.inputs) {
    if (in == kNoValue) continue;
    if (!g.value(in).is_constant()) return false;
    any = true;
  }
  return any;
}

// Per-channel fp32 data of an optional BN/conv parameter, or `fill` when absent.
std::vector<double> channel_param(const Graph& g, ValueId v, int64_t channels, double fill) {
  std::vector<double> out(static_cast<size_t>(channels), fill);
  if (v == kNoValue) return out;
  const float* p = reinterpret_cast<const float*>(g.value(v).constant->data());
  for (int64_t c = 0; c < channels; ++c) out[static_cast<size_t>(c)] = p[c];
  return out;
}

bool is_fp32_vector(const Graph& g, ValueId v, int64_t channels) {
  if (v == kNoValue) return true;
  const Value& val = g.value(v);
  return val.is_constant() && val.dtype == DType::kFloat32 && val.numel() == channels && val.shape.size() == 1;
}

// Folds n (a BatchNorm) into the conv producing its input. Returns whether it did.
bool fold_batch_norm_into_conv(Graph& g, Node& bn, const std::vector<int>& uses) {
  ValueId x = bn.inputs[0];
  const Value& xv = g.value(x);
  if (xv.producer < 0 || uses[static_cast<size_t>(x)] != 1) return false;
  const NodeId conv_id = xv.producer;
  Node& conv = g.node(conv_id);
  if (conv.kind() != OpKind::kConv || conv.outputs.size() != 1) return false;
  if (std::get<ConvAttrs>(conv.attrs).transposed) return false;  // weight layout [Cin, Cout/g, ...]
  const Value& w = g.value(conv.inputs[1]);
  if (!w.is_constant() || w.dtype != DType::kFloat32 || w.shape.empty() || xv.dtype != DType::kFloat32) return false;
  const int64_t channels = w.shape[0];
  if (xv.shape.size() < 2 || xv.shape[1] != channels) return false;
  // Everything below add_constant must not use xv or w: the value table may move.
  ValueId conv_bias = conv.inputs.size() > 2 ? conv.inputs[2] : kNoValue;
  if (!is_fp32_vector(g, conv_bias, channels)) return false;
  for (size_t i = 1; i < 5; ++i)
    if (bn.inputs[i] != kNoValue ? !is_fp32_vector(g, bn.inputs[i], channels) : i >= 3) return false;

  const double eps = std::get<BatchNormAttrs>(bn.attrs).eps;
  auto gamma = channel_param(g, bn.inputs[1], channels, 1.0);
  auto beta = channel_param(g, bn.inputs[2], channels, 0.0);
  auto mean = channel_param(g, bn.inputs[3], channels, 0.0);
  auto var = channel_param(g, bn.inputs[4], channels, 1.0);
  auto bias = channel_param(g, conv_bias, channels, 0.0);

  const int64_t per_channel = w.numel() / channels;
  const float* wp = reinterpret_cast<const float*>(w.constant->data());
  std::vector<uint8_t> new_w(w.nbytes()), new_b(static_cast<size_t>(channels) * sizeof(float));
  float* nw = reinterpret_cast<float*>(new_w.data());
  float* nb = reinterpret_cast<float*>(new_b.data());
  for (int64_t c = 0; c < channels; ++c) {
    const size_t ci = static_cast<size_t>(c);
    const double s = gamma[ci] / std::sqrt(var[ci] + eps);
    for (int64_t k = 0; k < per_channel; ++k)
      nw[c * per_channel + k] = static_cast<float>(static_cast<double>(wp[c * per_channel + k]) * s);
    nb[c] = static_cast<float>((bias[ci] - mean[ci]) * s + beta[ci]);
  }
  const std::string base = w.name.empty() ? "conv" : w.name;
  std::vector<int64_t> w_shape = w.shape;
  ValueId w_id = g.add_constant(base + ".bn_folded", DType::kFloat32, std::move(w_shape),
                                std::make_shared<const std::vector<uint8_t>>(std::move(new_w)));
  ValueId b_id = g.add_constant(base + ".bn_folded_bias", DType::kFloat32, {channels},
                                std::make_shared<const std::vector<uint8_t>>(std::move(new_b)));
  // add_constant may reallocate the value table; conv and bn are node references, still valid.
  conv.inputs.resize(3);
  conv.inputs[1] = w_id;
  conv.inputs[2] = b_id;
  // The conv now produces the BN's output value, keeping its name and uses.
  ValueId bn_out = bn.outputs[0];
  conv.outputs[0] = bn_out;
  g.value(bn_out).producer = conv_id;
  if (!bn.source.node_name.empty())
    conv.source.node_name += (conv.source.node_name.empty() ? "" : "+") + bn.source.node_name;
  bn.outputs.clear();  // marks the node for removal below
  return true;
}

// A contiguous tensor seen along dim d: `outer` blocks of `size` slices of `inner` bytes.
struct Slices {
  size_t outer, size, inner;
};
Slices slices_along(size_t bytes, const std::vector<int64_t>& shape, size_t d, size_t elem) {
  size_t inner = elem;
  for (size_t k = d + 1; k < shape.size(); ++k) inner *= static_cast<size_t>(shape[k]);
  const size_t size = static_cast<size_t>(shape[d]);
  return {bytes / (inner * size), size, inner};
}

// Whether the constant repeats along dim d: every slice equals slice 0.
bool repeats_along(const std::vector<uint8_t>& bytes, const std::vector<int64_t>& shape, size_t d, size_t elem) {
  const Slices s = slices_along(bytes.size(), shape, d, elem);
  for (size_t o = 0; o < s.outer; ++o) {
    const uint8_t* first = bytes.data() + o * s.size * s.inner;
    for (size_t i = 1; i < s.size; ++i)
      if (std::memcmp(first + i * s.inner, first, s.inner) != 0) return false;
  }
  return true;
}

// Slice 0 of the constant along each dim in `dims` (in increasing order).
std::vector<uint8_t> first_slices(std::vector<uint8_t> bytes, std::vector<int64_t>& shape,
                                  const std::vector<size_t>& dims, size_t elem) {
  for (size_t d : dims) {
    const Slices s = slices_along(bytes.size(), shape, d, elem);
    std::vector<uint8_t> kept(s.outer * s.inner);
    for (size_t o = 0; o < s.outer; ++o)
      std::memcpy(kept.data() + o * s.inner, bytes.data() + o * s.size * s.inner, s.inner);
    bytes = std::move(kept);
    shape[d] = 1;
  }
  return bytes;
}

// See the file comment: broadcasting ops read repeating constants in their small
// form, on dims another input spans. Returns whether any input was replaced.
bool shrink_broadcast_constants(Graph& g) {
  bool changed = false;
  std::map<std::pair<ValueId, std::vector<size_t>>, ValueId> made;
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    const OpKind kind = g.node(static_cast<NodeId>(i)).kind();
    if (kind != OpKind::kBinary && kind != OpKind::kWhere) continue;
    // Read live: an input shrunk a moment ago no longer spans its dims for the others.
    // (add_constant grows the value table, never the node list, so this stays valid.)
    const std::vector<ValueId>& inputs = g.node(static_cast<NodeId>(i)).inputs;
    const size_t rank = g.value(g.node(static_cast<NodeId>(i)).outputs[0]).shape.size();
    for (size_t k = 0; k < inputs.size(); ++k) {
      const Value& c = g.value(inputs[k]);
      if (!c.is_constant() || c.numel() <= 1 || c.shape.size() != rank) continue;
      std::vector<size_t> dims;
      for (size_t d = 0; d < rank; ++d) {
        if (c.shape[d] == 1) continue;
        // Spanned by another input, right-aligned: the op's output shape must stay.
        bool spanned = false;
        for (size_t o = 0; o < inputs.size() && !spanned; ++o) {
          const std::vector<int64_t>& s = g.value(inputs[o]).shape;
          spanned = o != k && s.size() + d >= rank && s[s.size() + d - rank] == c.shape[d];
        }
        if (spanned && repeats_along(*c.constant, c.shape, d, dtype_size(c.dtype))) dims.push_back(d);
      }
      if (dims.empty()) continue;
      auto [it, inserted] = made.try_emplace({inputs[k], dims}, kNoValue);
      if (inserted) {
        std::vector<int64_t> shape = c.shape;
        auto bytes = std::make_shared<const std::vector<uint8_t>>(
            first_slices(*c.constant, shape, dims, dtype_size(c.dtype)));
        const std::string name = c.name + ".unbroadcast";
        const DType dtype = c.dtype;
        it->second = g.add_constant(name, dtype, std::move(shape), std::move(bytes));  // may move the value table
      }
      g.node(static_cast<NodeId>(i)).inputs[k] = it->second;
      changed = true;
    }
  }
  return changed;
}

}  // namespace

bool run_constant_fold(Graph& g, size_t max_output_bytes) {
  bool changed = false;
  std::vector<int> uses = g.use_counts();
  std::vector<bool> remove(g.num_nodes(), false);
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    Node& n = g.node(static_cast<NodeId>(i));
    if (n.kind() == OpKind::kBatchNorm && !all_inputs_constant(g, n)) {
      if (fold_batch_norm_into_conv(g, n, uses)) {
        remove[i] = true;
        changed = true;
      }
      continue;
    }
    if (!all_inputs_constant(g, n)) continue;
    size_t out_bytes = 0;
    for (ValueId out : n.outputs) out_bytes += g.value(out).nbytes();
    if (out_bytes > max_output_bytes) continue;
    auto folded = evaluate_constant_node(g, n);
    // A kernel that cannot run this node at build time leaves it to run time,
    // where the same error (if any) is reported with the node's location.
    if (!folded.ok()) continue;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      Value& v = g.value(n.outputs[k]);
      v.constant = std::make_shared<const std::vector<uint8_t>>(std::move(folded.value()[k]));
      v.producer = -1;
    }
    remove[i] = true;
    changed = true;
  }
  if (changed) {
    erase_nodes(g, remove);
  }
  changed |= shrink_broadcast_constants(g);
  return changed;
}

}  // namespace ingot
