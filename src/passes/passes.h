// The optimization passes over the IR. Each pass lives in its own file, returns
// whether it changed the graph and leaves a graph that passes verify_graph.
// pipeline.cc is the only place that decides their order.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

#include "ingot/compiler.h"
#include "ir/graph.h"

namespace ingot {

// Drops identity reshapes, casts, permutes and expands; folds reshape and
// permute chains. Uses are rewired; dead nodes are left for DCE.
bool run_canonicalize(Graph& g);

// Evaluates nodes whose inputs are all constants on the CPU backend and turns
// their outputs into constants (outputs larger than max_output_bytes are left
// alone so the engine does not balloon). Also folds inference BatchNorm into a
// preceding convolution with constant weights.
inline constexpr size_t kDefaultFoldLimitBytes = size_t{64} << 20;
bool run_constant_fold(Graph& g, size_t max_output_bytes = kDefaultFoldLimitBytes);

// Merges nodes with identical op, attributes, inputs and output types, and
// identical constants (tied weights, or small equal tensors).
bool run_cse(Graph& g);

// Removes nodes none of whose outputs is used (graph outputs count as uses) and
// compacts the value table, dropping unused constants. Graph inputs always stay.
bool run_dce(Graph& g);

// Lowers float compute to `target`: float16 or bfloat16 (float32 and float64
// values become 16-bit; a few overflow- or exactness-critical values stay
// float32), or float32 (only float64 values are lowered). Graph IO keeps the
// model's dtypes through inserted casts; constants are converted at build time.
// Leaves identity casts for canonicalize/DCE. See lower_precision.cc for the rules.
struct LowerPrecisionReport {
  int lowered_values = 0;       // node outputs now in the target dtype
  int kept_float32_values = 0;  // node outputs deliberately left in float32
  int converted_constants = 0;  // constant copies made in another dtype
  int inserted_casts = 0;
  int clamped_elements = 0;     // constant elements clamped to the target's finite range
};
bool run_lower_precision(Graph& g, DType target, LowerPrecisionReport* report = nullptr);

// --- fusion and layout (each in its own file; pipeline.cc runs them after the
// cleanup rounds and before precision lowering) ---

// Hand-written RMSNorm (x * rsqrt(mean(x^2) + eps) * weight, as LLaMA/T5/Gemma
// write it) into one RmsNorm op (fuse_norm.cc).
bool run_fuse_norm(Graph& g);
// A hand-written tanh GELU (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), eight
// elementwise ops) -> one gelu_tanh unary, which fuse_gemm can fold into a GEMM.
bool run_recognize_gelu(Graph& g);
// Hand-written attention (q @ k^T, scalar scale, additive float mask, softmax over
// the last dim, @ v, as T5/GPT-2 eager code writes it) into one Attention op (fuse_attention.cc).
bool run_fuse_attention(Graph& g);
// Patch-embedding convolutions (stride == kernel, no padding, <= 4 input
// channels) as a patch gather + Gemm (conv_as_gemm.cc).
bool run_conv_as_gemm(Graph& g);
// Permute/reshape chains whose result is their source's own layout become one
// reshape (collapse_view_chains.cc).
bool run_collapse_view_chains(Graph& g);
// Conv + bias + residual add + activation into one Conv (fuse_conv.cc).
bool run_fuse_conv(Graph& g);
// Channels-last (NHWC) layout for 2-d convolutions and the pooling around them,
// with permutes pushed through layout-agnostic ops and cancelled (layout.cc).
// Only for backends whose convolutions prefer channels-last (cuda).
bool run_layout_channels_last(Graph& g);
// MatMul with a constant 2-d operand into Gemm; Gemm + bias + residual add +
// activation into one Gemm; reshapes around them removed (fuse_gemm.cc).
bool run_fuse_gemm(Graph& g);
// Chains of float elementwise ops into one Pointwise op (fuse_pointwise.cc).
bool run_fuse_pointwise(Graph& g);

// --- attention data movement (run after precision lowering, so they can see the
// dtypes the kernels will get) ---

// Gemms that read the same input with constant weights (attention's q, k and v
// projections) into one Gemm over the concatenated weights, the old outputs
// becoming slices of its output (merge_sibling_gemms.cc). Only worth it where the
// slices are then read in place (fold_attention_views.cc): with
// `attention_operands_only`, only Gemms whose outputs reach nothing but q/k/v
// operands of attention steps fold_attention_views will fold (for `cuda_backend`)
// are merged.
bool run_merge_sibling_gemms(Graph& g, bool attention_operands_only = true, bool cuda_backend = false);
// Attention reads q, k, v through the reshapes, permutes and slices that feed it
// and writes through the permute that follows it (strided views in its `views`
// attribute), so those copies disappear; a permute feeding a projection that only
// attention reads moves below it first, to be absorbed too (fold_attention_views.cc).
// `cuda_backend`: on cuda only fold where the flash kernel can run the step.
bool run_fold_attention_views(Graph& g, bool cuda_backend);
// Attention steps read a bool mask as an additive one (0 kept, -inf masked) in
// their own dtype, made by one Where per distinct mask and shared by every step
// reading it (additive_attention_masks.cc). The pipeline runs it on CUDA builds,
// whose cuDNN attention otherwise converts the mask in every step.
bool run_additive_attention_masks(Graph& g);

// Slices of rows (a classifier's class token, the last position) move above the
// row-wise ops that produce them (gemm, norms, elementwise ops, views, attention's
// query rows), which then compute only the kept rows; returns how many ops were
// narrowed (hoist_slices.cc). Runs after fold_attention_views, whose strided
// attention views it narrows.
int run_hoist_slices(Graph& g);

// A Gemm's [N] bias and residual move into the LayerNorm (over N) that is its only
// use, as that norm's input bias and residual: post-norm transformer blocks, where
// cuBLASLt's bias epilogue costs more than the norm's extra row read; returns how
// many moved (fold_gemm_bias_into_norm.cc). Runs after hoist_slices.
int run_fold_gemm_bias_into_norm(Graph& g, bool move_residual = true);

// A float cast and a permute of the same elements (through reshapes) into one
// Reformat that moves and converts in one copy (fold_reformat.cc): a network's
// float32 image read into 16-bit channels-last or patches.
bool run_fold_reformat(Graph& g);

// Runs the passes in order for the build options; verifies the graph after each.
Status run_pipeline(Graph& g, const BuildOptions& options,
                    const std::function<void(const std::string&)>& progress = {});

}  // namespace ingot
