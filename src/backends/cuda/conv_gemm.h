// Convolutions run as cuBLASLt matrix products (conv_gemm.cc), the tactics
// convolution.cc offers beside cuDNN's: "gemm/<gemm tactic>" for channels-last
// pointwise convs (1x1, stride 1, no padding, one group: exactly a GEMM), and
// "im2col/<gemm tactic>" for 16-bit stems whose input channels are not a multiple
// of 8 (the patch matrix in the workspace times the weight). Both carry the conv's
// bias, residual and activation in the GEMM's epilogue.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/cuda_common.h"

namespace ingot::cuda {

inline constexpr const char* kConvGemmPrefix = "gemm/";
inline constexpr const char* kIm2colPrefix = "im2col/";

// Shared with convolution.cc, which defines them: whether the conv's activation is
// a ReLU (relu, or clamp to [0, inf)); the channel count the pad8 tactics widen
// the input to (0 where they do not apply: channels-last 16-bit 2-d convs with one
// group and input channels not a multiple of 8).
bool relu_like(const ConvAttrs& c);
int64_t padded_channel_count(const ConvAttrs& c, const KernelArgs& args);

// The step's "gemm/..." then "im2col/..." tactics (empty where neither applies).
std::vector<std::string> conv_gemm_tactics(const ConvAttrs& c, const KernelArgs& args);
// Workspace bytes an im2col tactic needs for its patch matrix (0 where none applies).
size_t im2col_workspace_bytes(const ConvAttrs& c, const KernelArgs& args);

// Run the step with a "gemm/..." / "im2col/..." tactic (args.tactic); a conv the
// tactic does not apply to is an error that says what it needs.
Status run_pointwise_gemm(const ConvAttrs& c, const KernelArgs& args);
Status run_im2col(const ConvAttrs& c, const KernelArgs& args);

}  // namespace ingot::cuda
