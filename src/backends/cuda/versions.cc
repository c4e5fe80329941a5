// Library versions recorded in CUDA engines (see cuda_query.h). The runtime's
// versions, not the headers' we compiled against: an engine records what it
// was built and tuned with.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "backends/cuda/cuda_query.h"

namespace ingot::cuda {

namespace {
// "major.minor.patch" from major*scale*100 + minor*100 + patch style numbers.
std::string dotted(size_t v, size_t major_scale) {
  return std::to_string(v / major_scale) + "." + std::to_string((v % major_scale) / 100) + "." +
         std::to_string(v % 100);
}
}  // namespace

LibraryVersions library_versions() {
  LibraryVersions v;
  int runtime = 0;
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess && runtime > 0)
    v.cuda = std::to_string(runtime / 1000) + "." + std::to_string((runtime % 1000) / 10);
  // cuBLASLt: major*10000 + minor*100 + patch.
  if (size_t lt = cublasLtGetVersion(); lt > 0) v.cublas = dotted(lt, 10000);
  // cuDNN 9: major*10000 + minor*100 + patch (cuDNN 8 used major*1000).
  if (size_t dnn = cudnnGetVersion(); dnn > 0) v.cudnn = dotted(dnn, dnn >= 90000 ? 10000 : 1000);
  return v;
}

}  // namespace ingot::cuda
