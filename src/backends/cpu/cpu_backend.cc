// The CPU backend's op table: run_kernel sends a step to its op family's
// function, and supports() tells the compiler, before it commits to a plan,
// which dtype combinations those functions run. Both switch over every op
// kind explicitly (no registration by static initialisers, DESIGN.md).
#include <string>

#include "backends/cpu/cpu_kernels.h"

namespace ingot::cpu {
namespace {

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 || t == DType::kBFloat16;
}

// Every present input shares dtype `t` (absent optional inputs are kept out by the caller).
bool all_are(const std::vector<DType>& dtypes, DType t) {
  for (DType d : dtypes)
    if (d != t) return false;
  return true;
}

// Float kernels staged through float32: every tensor is a float type (mixing
// float16/bfloat16 with float32 is fine, both become float32; float64 must be alone).
bool float_family(const std::vector<DType>& in, const std::vector<DType>& out) {
  bool any64 = false, any_other = false;
  for (const auto* list : {&in, &out})
    for (DType d : *list) {
      if (!is_float(d)) return false;
      (d == DType::kFloat64 ? any64 : any_other) = true;
    }
  return !(any64 && any_other);
}

}  // namespace

Status run_kernel(const OpAttrs& attrs, const KernelArgs& args) {
  switch (op_kind(attrs)) {
    case OpKind::kReshape:
    case OpKind::kPermute:
    case OpKind::kExpand:
    case OpKind::kSlice:
    case OpKind::kConcat:
    case OpKind::kPad:
    case OpKind::kSliceScatter:
    case OpKind::kTriangular:
    case OpKind::kReformat:
      return data_movement(attrs, args);
    case OpKind::kGather:
    case OpKind::kIndexSelect:
    case OpKind::kIndex:
    case OpKind::kWhere:
      return indexing(attrs, args);
    case OpKind::kCast:
    case OpKind::kUnary:
    case OpKind::kBinary:
      return elementwise(attrs, args);
    case OpKind::kReduce:
    case OpKind::kArgReduce:
    case OpKind::kCumulative:
    case OpKind::kSoftmax:
      return reduction(attrs, args);
    case OpKind::kLayerNorm:
    case OpKind::kRmsNorm:
    case OpKind::kGroupNorm:
    case OpKind::kBatchNorm:
      return normalization(attrs, args);
    case OpKind::kMatMul:
    case OpKind::kGemm:
      return linear_algebra(attrs, args);
    case OpKind::kConv:
      return convolution(attrs, args);
    case OpKind::kAttention:
      return attention(attrs, args);
    case OpKind::kPool:
    case OpKind::kAdaptivePool:
    case OpKind::kUpsample:
      return pooling(attrs, args);
    case OpKind::kPointwise:
      return pointwise(attrs, args);
    case OpKind::kGridSample:
      return grid_sampling(attrs, args);
  }
  return internal_error("cpu backend: step has no valid op kind (index " + std::to_string(attrs.index()) + ")");
}

bool supports(const OpAttrs& attrs, const std::vector<DType>& in_dtypes, const std::vector<DType>& out_dtypes) {
  if (in_dtypes.empty() && op_kind(attrs) != OpKind::kConcat) return false;
  switch (op_kind(attrs)) {
    // Data movement and indexing copy elements without arithmetic: any dtype.
    case OpKind::kReshape:
    case OpKind::kPermute:
    case OpKind::kExpand:
    case OpKind::kSlice:
    case OpKind::kConcat:
    case OpKind::kPad:
    case OpKind::kSliceScatter:
    case OpKind::kTriangular:
    case OpKind::kGather:
    case OpKind::kIndexSelect:
    case OpKind::kIndex:
    case OpKind::kWhere:
    case OpKind::kCast:
      return true;
    case OpKind::kUnary:
    case OpKind::kBinary:
    case OpKind::kReduce:
    case OpKind::kArgReduce:
    case OpKind::kCumulative:
      return true;
    case OpKind::kSoftmax:
      return float_family(in_dtypes, out_dtypes);
    case OpKind::kLayerNorm:
    case OpKind::kRmsNorm:
    case OpKind::kGroupNorm:
    case OpKind::kBatchNorm:
    case OpKind::kConv:
    case OpKind::kPool:
    case OpKind::kAdaptivePool:
    case OpKind::kUpsample:
    case OpKind::kPointwise:
    case OpKind::kGridSample:
    case OpKind::kReformat:
      return float_family(in_dtypes, out_dtypes);
    case OpKind::kAttention: {
      // The mask (4th input) may be bool; q, k, v and out are floats.
      std::vector<DType> in = in_dtypes;
      if (in.size() > 3 && in[3] == DType::kBool) in.pop_back();
      return float_family(in, out_dtypes);
    }
    case OpKind::kMatMul:
    case OpKind::kGemm:
      if (all_are(in_dtypes, in_dtypes[0]) && all_are(out_dtypes, in_dtypes[0]) &&
          (in_dtypes[0] == DType::kInt32 || in_dtypes[0] == DType::kInt64))
        return true;
      return float_family(in_dtypes, out_dtypes);
  }
  return false;
}

}  // namespace ingot::cpu
