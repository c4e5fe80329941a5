// Pointwise (fused elementwise chain) on the CPU. Placeholder until the fusion
// pass lands: no pass produces this op yet.
#include "backends/cpu/cpu_kernels.h"

namespace ingot::cpu {
Status pointwise(const OpAttrs&, const KernelArgs&) { return unsupported("pointwise: not implemented on cpu yet"); }
}  // namespace ingot::cpu
