// Queries shared by the pattern-matching passes: see pass_util.h.
#include "passes/pass_util.h"

#include <cstdint>
#include <cstring>
#include <vector>

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

std::optional<std::vector<int64_t>> int_constant(const Value& v) {
  if (!v.is_constant() || (v.dtype != DType::kInt64 && v.dtype != DType::kInt32)) return std::nullopt;
  const size_t n = static_cast<size_t>(v.numel()), width = dtype_size(v.dtype);
  if (v.constant->size() < n * width) return std::nullopt;
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (width == 8) {
      std::memcpy(&out[i], v.constant->data() + 8 * i, 8);
    } else {
      int32_t x;
      std::memcpy(&x, v.constant->data() + 4 * i, 4);
      out[i] = x;
    }
  }
  return out;
}

bool all_true_constant(const Value& v) {
  if (!v.is_constant() || v.dtype != DType::kBool || v.constant->size() < static_cast<size_t>(v.numel())) return false;
  for (int64_t i = 0; i < v.numel(); ++i)
    if (!(*v.constant)[static_cast<size_t>(i)]) return false;
  return true;
}

}  // namespace ingot
