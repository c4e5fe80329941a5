// Patch-embedding convolutions as one GEMM. A 2-d convolution whose stride equals
// its kernel, without padding or dilation, over an image with few channels (ViT's
// 16x16/16 patchify stem on RGB, ConvNeXt's and Swin's 4x4/4 stems) touches every
// input pixel once: it is a matrix product of the image's patches with the
// weights. Convolution libraries run these badly (three channels do not fill a
// tensor-core tile: cuDNN took 0.41 ms for ViT-B/16's stem at batch 32 on an H100,
// a GEMM of the same size about 20 us), so the conv becomes
//   x [N, C, H, W] -> reshape [N, C, H/kh, kh, W/kw, kw] -> permute to
//   [N, H/kh, W/kw, C, kh, kw] -> reshape [N, H', W', C*kh*kw] -> Gemm with the
//   weight as [Cout, C*kh*kw] (same bytes) and the bias -> [N, H', W', Cout] ->
//   permute to [N, Cout, H', W'] (the conv's output value).
// The trailing permute usually meets the model's own flatten + transpose
// (ViT: [N, Cout, H'*W'] -> [N, H'*W', Cout]) and collapse_view_chains turns that
// pair into a reshape, so the only copy left is the patch gather.
#include <string>
#include <vector>

#include "passes/passes.h"

namespace ingot {
namespace {

// Image stems only: with more input channels a convolution library reads the
// input in place and the patch gather would be an extra copy.
constexpr int64_t kMaxStemChannels = 4;

bool is_patchify(const Graph& g, const Node& n) {
  if (n.kind() != OpKind::kConv || n.inputs.size() < 2 || n.outputs.size() != 1) return false;
  const auto& a = std::get<ConvAttrs>(n.attrs);
  if (a.transposed || a.groups != 1 || a.activation != -1 || a.channels_last) return false;
  if (n.inputs.size() > 3 && n.inputs[3] != kNoValue) return false;  // residual
  const Value& x = g.value(n.inputs[0]);
  const Value& w = g.value(n.inputs[1]);
  if (x.shape.size() != 4 || w.shape.size() != 4 || !w.is_constant() || w.constant->size() != w.nbytes()) return false;
  if (x.dtype != DType::kFloat32 && x.dtype != DType::kFloat16 && x.dtype != DType::kBFloat16) return false;
  const int64_t kh = w.shape[2], kw = w.shape[3];
  if (a.stride.size() != 2 || a.stride[0] != kh || a.stride[1] != kw) return false;
  for (int64_t p : a.padding)
    if (p != 0) return false;
  for (int64_t d : a.dilation)
    if (d != 1) return false;
  if (x.shape[1] > kMaxStemChannels || w.shape[1] != x.shape[1] || kh * kw < 4) return false;
  return x.shape[2] % kh == 0 && x.shape[3] % kw == 0;
}

ValueId new_value(Graph& g, const Value& like, const std::string& suffix, std::vector<int64_t> shape) {
  Value v;
  v.name = like.name + suffix;
  v.dtype = like.dtype;
  v.shape = std::move(shape);
  return g.add_value(std::move(v));
}

}  // namespace

bool run_conv_as_gemm(Graph& g) {
  std::vector<Node> nodes;
  nodes.reserve(g.num_nodes());
  bool changed = false;
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    Node conv = g.node(static_cast<NodeId>(i));
    if (!is_patchify(g, conv)) {
      nodes.push_back(std::move(conv));
      continue;
    }
    const Value x = g.value(conv.inputs[0]);
    const Value w = g.value(conv.inputs[1]);
    const Value y = g.value(conv.outputs[0]);
    const int64_t n = x.shape[0], c = x.shape[1], kh = w.shape[2], kw = w.shape[3];
    const int64_t ho = x.shape[2] / kh, wo = x.shape[3] / kw, cout = w.shape[0], k = c * kh * kw;
    auto add = [&](OpAttrs attrs, std::vector<ValueId> in, ValueId out) {
      Node node;
      node.attrs = std::move(attrs);
      node.inputs = std::move(in);
      node.outputs = {out};
      node.source = conv.source;
      nodes.push_back(std::move(node));
    };
    const ValueId split = new_value(g, x, "_patches6d", {n, c, ho, kh, wo, kw});
    add(ReshapeAttrs{.shape = {n, c, ho, kh, wo, kw}}, {conv.inputs[0]}, split);
    const ValueId gathered = new_value(g, x, "_patches", {n, ho, wo, c, kh, kw});
    add(PermuteAttrs{.perm = {0, 2, 4, 1, 3, 5}}, {split}, gathered);
    const ValueId rows = new_value(g, x, "_patch_rows", {n, ho, wo, k});
    add(ReshapeAttrs{.shape = {n, ho, wo, k}}, {gathered}, rows);
    // The weight's bytes are already [Cout, C*kh*kw] row-major.
    const ValueId w2 = g.add_constant(w.name + "_as_matrix", w.dtype, {cout, k}, w.constant);
    std::vector<ValueId> gemm_in = {rows, w2};
    if (conv.inputs.size() > 2 && conv.inputs[2] != kNoValue) gemm_in.push_back(conv.inputs[2]);
    const ValueId product = new_value(g, y, "_nhwc", {n, ho, wo, cout});
    add(GemmAttrs{.trans_b = true}, gemm_in, product);
    add(PermuteAttrs{.perm = {0, 3, 1, 2}}, {product}, conv.outputs[0]);
    changed = true;
  }
  if (changed) g.set_nodes(std::move(nodes));
  return changed;
}

}  // namespace ingot
