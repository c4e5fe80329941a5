// Gemm bias (and residual) into the layer norm that follows: in a post-norm
// transformer (BERT, RoBERTa, the original Transformer) each block ends with
//   h = LayerNorm(x @ W^T + b + residual)
// and fuse_gemm has put b and the residual into the Gemm's epilogue. On an H100,
// cuBLASLt's bias epilogue is the expensive part: BERT-base's FFN2 ([4096, 3072] x
// [3072, 768] at batch 32) takes 27.5 us without an epilogue and 35.2 us with bias and
// residual, its out-projection 9.0 against 10.9 (bench/studies/cutlass_gemm_study.cu).
// The layer norm reads its input row anyway; adding the residual row and the bias
// there costs one more row read. So, where
//   - a Gemm without activation (alpha 1, beta 1: beta scales the bias) has a bias
//     of shape [N] or [1, .., 1, N] in its output's dtype,
//   - its output's only use is a LayerNorm over the last dim (N), with no pre-adds
//     yet, and the output is no graph output,
// the bias becomes the layer norm's input bias (input 4) and the residual its
// residual (input 3); the Gemm keeps only the product. With move_residual false
// (`--disable-pass fold_gemm_bias_into_norm.residual`) the residual stays in
// the Gemm's epilogue and only the bias moves. Exact in real arithmetic; in
// 16-bit the product is rounded once before the adds (in fp32, in the norm) instead
// of after them, an error of the same size as the epilogue's own rounding.
//
// Pre-norm blocks (ViT, GPT, LLaMA) read the sum twice (norm and next residual), so
// they do not match; that would need a norm with a second output. Runs after
// hoist_slices (which narrows norms and gemms in their usual form) on every backend,
// so the CPU tests check the same graph the GPU runs.
#include <vector>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace ingot {

namespace {

// The bias broadcasts along rows only: [N] or [1, .., 1, N].
bool is_row_vector(const Value& bias, int64_t n) {
  if (bias.shape.empty() || bias.shape.back() != n) return false;
  for (size_t k = 0; k + 1 < bias.shape.size(); ++k)
    if (bias.shape[k] != 1) return false;
  return true;
}

bool foldable(const Graph& g, const UseIndex& uses, const Node& norm) {
  if (norm.kind() != OpKind::kLayerNorm || norm.inputs.size() > 3 || norm.outputs.size() != 1) return false;
  if (std::get<LayerNormAttrs>(norm.attrs).normalized_ndim != 1) return false;
  const ValueId x = norm.inputs[0];
  if (x == kNoValue || uses.sole_consumer(x) < 0) return false;  // (-1 also for a graph output)
  const NodeId producer = g.value(x).producer;
  if (producer < 0) return false;
  const Node& gemm = g.node(producer);
  if (gemm.kind() != OpKind::kGemm || gemm.outputs.size() != 1 || gemm.inputs.size() < 3) return false;
  const auto& a = std::get<GemmAttrs>(gemm.attrs);
  const bool has_residual = gemm.inputs.size() > 3 && gemm.inputs[3] != kNoValue;
  // beta scales the bias in the Gemm kernels; the norm adds it unscaled.
  if (a.activation != -1 || a.alpha != 1.0 || a.beta != 1.0) return false;
  const Value& out = g.value(x);
  if (out.shape.empty() || gemm.inputs[2] == kNoValue) return false;
  const Value& bias = g.value(gemm.inputs[2]);
  if (bias.dtype != out.dtype || !is_row_vector(bias, out.shape.back())) return false;
  if (has_residual) {
    const Value& r = g.value(gemm.inputs[3]);
    if (r.shape != out.shape || r.dtype != out.dtype) return false;
  }
  return true;
}

}  // namespace

int run_fold_gemm_bias_into_norm(Graph& g, bool move_residual) {
  UseIndex uses(g);
  int folded = 0;
  for (size_t i = 0; i < g.num_nodes(); ++i) {
    Node& norm = g.node(static_cast<NodeId>(i));
    if (!foldable(g, uses, norm)) continue;
    Node& gemm = g.node(g.value(norm.inputs[0]).producer);
    const ValueId bias = gemm.inputs[2];
    const ValueId residual = gemm.inputs.size() > 3 ? gemm.inputs[3] : kNoValue;
    const ValueId kept = move_residual ? kNoValue : residual;  // the residual the Gemm keeps
    gemm.inputs = kept == kNoValue ? std::vector<ValueId>{gemm.inputs[0], gemm.inputs[1]}
                                   : std::vector<ValueId>{gemm.inputs[0], gemm.inputs[1], kNoValue, kept};
    norm.inputs.resize(3, kNoValue);
    norm.inputs.push_back(kept == kNoValue ? residual : kNoValue);
    norm.inputs.push_back(bias);
    ++folded;
  }
  return folded;
}

}  // namespace ingot
