// Element types that ingot tensors can hold, shared by compiler, engine and runtime.
// The numeric values are part of the engine file format: append, never renumber.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ingot {

enum class DType : uint8_t {
  kFloat32 = 0,
  kFloat16 = 1,
  kBFloat16 = 2,
  kFloat64 = 3,
  kInt64 = 4,
  kInt32 = 5,
  kInt16 = 6,
  kInt8 = 7,
  kUInt8 = 8,
  kBool = 9,
};
inline constexpr int kNumDTypes = 10;

size_t dtype_size(DType t);
// "float32", "int64", ... (the names torch and numpy use)
const char* dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
bool is_floating(DType t);
bool is_integral(DType t);  // integers, not bool

}  // namespace ingot
