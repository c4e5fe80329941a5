// What the compiler asks the CUDA backend at build time: whether a node can run,
// which GPU is present and which library versions the engine is built against.
// Free of CUDA headers on purpose, so the compiler (which does not see the CUDA
// include paths) can call into the runtime library through plain C++ functions.
// supports() and current_arch() are the functions cuda_common.h declares too.
#pragma once
#include <string>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"
#include "ir/ops.h"

namespace ingot::cuda {

bool supports(const OpAttrs& attrs, const std::vector<DType>& in_dtypes, const std::vector<DType>& out_dtypes);

// "sm_90" for the current GPU; an error when no GPU is usable.
Result<std::string> current_arch();

// Versions of the libraries this build runs with, as recorded in engines:
// cuda "13.0", cublas "13.1.0", cudnn "9.19.0".
struct LibraryVersions {
  std::string cuda, cublas, cudnn;
};
LibraryVersions library_versions();

}  // namespace ingot::cuda
