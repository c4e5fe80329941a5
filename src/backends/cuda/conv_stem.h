// The "stem" convolution tactic (conv_stem.cu): a direct tensor-core kernel for
// the image stems cuDNN serves poorly, channels-last 16-bit convolutions with at
// most 4 input channels (RGB), one group, no dilation, bias and ReLU fused.
// convolution.cc offers it to the tuner beside cuDNN's algorithms.
#pragma once
#include <string>

#include "backends/cuda/cuda_common.h"

namespace ingot::cuda {

inline constexpr const char* kStemTactic = "stem";

// Whether the stem kernel runs this conv; where it does not and why_not is given,
// the reason.
bool stem_applies(const ConvAttrs& c, const KernelArgs& args, std::string* why_not = nullptr);

// Runs the conv with the stem kernel (an error naming the reason where it does not apply).
Status run_stem(const ConvAttrs& c, const KernelArgs& args);

}  // namespace ingot::cuda
