// Queries shared by the pattern-matching passes: see pass_util.h.
#include "passes/pass_util.h"

#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "ingot/dtype.h"

namespace ingot {

std::optional<double> scalar_constant(const Value& v) {
  if (!v.is_constant() || v.numel() != 1 || !v.constant || v.constant->size() < dtype_size(v.dtype))
    return std::nullopt;
  const uint8_t* p = v.constant->data();
  switch (v.dtype) {
    case DType::kFloat32: { float f; std::memcpy(&f, p, 4); return f; }
    case DType::kFloat64: { double d; std::memcpy(&d, p, 8); return d; }
    case DType::kFloat16: { uint16_t b; std::memcpy(&b, p, 2); return static_cast<float>(Half::from_bits(b)); }
    case DType::kBFloat16: { uint16_t b; std::memcpy(&b, p, 2); return static_cast<float>(BFloat16::from_bits(b)); }
    default: return std::nullopt;
  }
}

}  // namespace ingot
