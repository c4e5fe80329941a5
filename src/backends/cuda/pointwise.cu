// Pointwise (fused elementwise chain) on the GPU. Placeholder until the fusion
// pass lands: no pass produces this op yet.
#include "backends/cuda/cuda_common.h"

namespace ingot::cuda {
Status pointwise(const OpAttrs&, const KernelArgs&) { return unsupported("pointwise: not implemented on cuda yet"); }
}  // namespace ingot::cuda
