// Dispatch of a plan step to the CUDA kernel family that runs it, the support
// query the compiler asks before choosing the cuda backend, and per-step
// workspace sizes.
#include <algorithm>

#include "backends/cuda/cuda_common.h"

namespace ingot::cuda {

namespace {
using Family = Status (*)(const OpAttrs&, const KernelArgs&);

Family family_of(OpKind kind) {
  switch (kind) {
    case OpKind::kReshape: case OpKind::kPermute: case OpKind::kExpand: case OpKind::kSlice:
    case OpKind::kConcat: case OpKind::kPad: case OpKind::kSliceScatter: case OpKind::kTriangular:
    case OpKind::kReformat:
      return data_movement;
    case OpKind::kGather: case OpKind::kIndexSelect: case OpKind::kIndex: case OpKind::kWhere:
      return indexing;
    case OpKind::kUnary: case OpKind::kBinary: case OpKind::kCast:
      return elementwise;
    case OpKind::kReduce: case OpKind::kArgReduce: case OpKind::kCumulative: case OpKind::kSoftmax:
      return reduction;
    case OpKind::kLayerNorm: case OpKind::kRmsNorm: case OpKind::kGroupNorm: case OpKind::kBatchNorm:
      return normalization;
    case OpKind::kMatMul: case OpKind::kGemm:
      return linear_algebra;
    case OpKind::kConv:
      return convolution;
    case OpKind::kAttention:
      return attention;
    case OpKind::kPool: case OpKind::kAdaptivePool: case OpKind::kUpsample:
      return pooling;
    case OpKind::kPointwise:
      return pointwise;
    case OpKind::kGridSample:
      return nullptr;  // no CUDA kernel yet: supports() says so before anything is built
  }
  return nullptr;
}
}  // namespace

Status run_kernel(const OpAttrs& attrs, const KernelArgs& args) {
  for (const DeviceTensor* t : args.out)
    if (t->numel() == 0) return {};  // nothing to write
  Family f = family_of(op_kind(attrs));
  if (!f) return internal_error(std::string("no CUDA kernel family for op ") + op_name(op_kind(attrs)));
  return f(attrs, args);
}

std::vector<std::string> candidate_tactics(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kMatMul: case OpKind::kGemm: return gemm_tactics(attrs, args);
    case OpKind::kConv: return conv_tactics(attrs, args);
    case OpKind::kAttention: return attention_tactics(attrs, args);
    default: return {};
  }
}

bool supports(const OpAttrs& attrs, const std::vector<DType>& in_dtypes, const std::vector<DType>& out_dtypes) {
  const OpKind kind = op_kind(attrs);
  auto is_float = [](DType t) { return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16; };
  switch (kind) {
    case OpKind::kGridSample:
      return false;
    case OpKind::kMatMul: case OpKind::kGemm: case OpKind::kConv: case OpKind::kAttention:
      // Tensor-core libraries: fp32 (optionally tf32), fp16, bf16; no float64 or integers.
      // Attention's optional mask (input 3) may also be bool (true keeps).
      for (size_t i = 0; i < in_dtypes.size(); ++i) {
        const bool bool_mask = kind == OpKind::kAttention && i == 3 && in_dtypes[i] == DType::kBool;
        if (!is_float(in_dtypes[i]) && !bool_mask) return false;
      }
      return true;
    default:
      // Our own kernels handle every dtype except float64 math in a few families.
      for (DType t : in_dtypes) if (t == DType::kFloat64 && kind != OpKind::kCast && kind != OpKind::kReshape) return false;
      for (DType t : out_dtypes) if (t == DType::kFloat64 && kind != OpKind::kCast && kind != OpKind::kReshape) return false;
      return true;
  }
}

}  // namespace ingot::cuda

namespace ingot::cuda {

size_t attention_workspace_size(const OpAttrs& attrs, const KernelArgs& args);  // attention.cu

// cuBLASLt and cuDNN pick faster algorithms with scratch space; 32 MiB covers
// their needs for the shapes of the models we target. Attention sizes its own
// (the gemm tactic's score matrix; nothing for flash and rows).
size_t workspace_size(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kMatMul: case OpKind::kGemm:
      return size_t{32} << 20;
    case OpKind::kConv:
      return conv_workspace_size(attrs, args, false);
    case OpKind::kAttention:
      return attention_workspace_size(attrs, args);
    default:
      return 0;
  }
}

size_t max_workspace_size(const OpAttrs& attrs, const KernelArgs& args) {
  size_t bytes = workspace_size(attrs, args);
  if (op_kind(attrs) == OpKind::kConv) bytes = conv_workspace_size(attrs, args, true);
  if (op_kind(attrs) == OpKind::kAttention) {
    // The tactics with scratch: gemm's score matrix, cuDNN's fixed budget.
    KernelArgs tactic_args = args;
    for (const char* tactic : {"gemm", "cudnn"}) {
      tactic_args.tactic = tactic;
      bytes = std::max(bytes, attention_workspace_size(attrs, tactic_args));
    }
  }
  return bytes;
}

}  // namespace ingot::cuda
