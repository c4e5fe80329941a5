// DType names and sizes.
#include "ingot/dtype.h"

namespace ingot {

namespace {
struct DTypeInfo { const char* name; size_t size; bool floating; bool integral; };
constexpr DTypeInfo kInfo[kNumDTypes] = {
    {"float32", 4, true, false}, {"float16", 2, true, false}, {"bfloat16", 2, true, false},
    {"float64", 8, true, false}, {"int64", 8, false, true},   {"int32", 4, false, true},
    {"int16", 2, false, true},   {"int8", 1, false, true},    {"uint8", 1, false, true},
    {"bool", 1, false, false},
};
const DTypeInfo& info(DType t) {
  auto i = static_cast<size_t>(t);
  return kInfo[i < static_cast<size_t>(kNumDTypes) ? i : 0];
}
}  // namespace

size_t dtype_size(DType t) { return info(t).size; }
const char* dtype_name(DType t) {
  return static_cast<int>(t) < kNumDTypes ? info(t).name : "<invalid dtype>";
}
std::optional<DType> dtype_from_name(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (name == kInfo[i].name) return static_cast<DType>(i);
  return std::nullopt;
}
bool is_floating(DType t) { return info(t).floating; }
bool is_integral(DType t) { return info(t).integral; }

}  // namespace ingot
