// libFuzzer target for the .npy parser: arbitrary bytes must never crash it, and
// an accepted array must hold exactly numel * dtype_size bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto array = ingot::npy::parse(data, size, "fuzz.npy");
  if (array.ok() &&
      array->data.size() != static_cast<size_t>(array->numel()) * ingot::dtype_size(array->dtype))
    std::abort();
  return 0;
}
