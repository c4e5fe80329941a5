// Helpers shared by the subcommands: error reporting, shape printing and
// element access for every dtype (fp16/bf16 through core/half.h).
#include "cli_common.h"

#include "core/half.h"
#include "ingot/ingot.h"

#include <cmath>
#include <cstring>
#include <iostream>
#include <sstream>

namespace ingot::cli {

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

HostTensor random_tensor(const TensorInfo& info, std::mt19937_64& rng) {
  HostTensor t{info.dtype, info.shape, {}};
  const size_t n = static_cast<size_t>(numel(info.shape));
  t.data.resize(n * dtype_size(info.dtype));
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int> small_int(0, info.dtype == DType::kInt64 || info.dtype == DType::kInt32 ? 99 : 9);
  std::bernoulli_distribution coin(0.5);
  for (size_t i = 0; i < n; ++i) {
    double v;
    if (is_floating(info.dtype)) v = normal(rng);
    else if (info.dtype == DType::kBool) v = coin(rng) ? 1 : 0;
    else v = small_int(rng);
    store_element(t.data.data(), info.dtype, i, v);
  }
  return t;
}

int report_error(const Status& status) { return report_error(status.to_string()); }

int report_error(const std::string& message) {
  std::cerr << "ingot: error: " << message << "\n";
  return 1;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

namespace {

template <typename T>
T load(const void* data, size_t index) {
  T v;
  std::memcpy(&v, static_cast<const char*>(data) + index * sizeof(T), sizeof(T));
  return v;
}

template <typename T>
void save(void* data, size_t index, T v) {
  std::memcpy(static_cast<char*>(data) + index * sizeof(T), &v, sizeof(T));
}

}  // namespace

double element_as_double(const void* data, DType dtype, size_t i) {
  switch (dtype) {
    case DType::kFloat32: return load<float>(data, i);
    case DType::kFloat16: return half_bits_to_float(load<uint16_t>(data, i));
    case DType::kBFloat16: return bf16_bits_to_float(load<uint16_t>(data, i));
    case DType::kFloat64: return load<double>(data, i);
    case DType::kInt64: return static_cast<double>(load<int64_t>(data, i));
    case DType::kInt32: return load<int32_t>(data, i);
    case DType::kInt16: return load<int16_t>(data, i);
    case DType::kInt8: return load<int8_t>(data, i);
    case DType::kUInt8: return load<uint8_t>(data, i);
    case DType::kBool: return load<uint8_t>(data, i) ? 1.0 : 0.0;
  }
  return 0.0;
}

void store_element(void* data, DType dtype, size_t i, double v) {
  switch (dtype) {
    case DType::kFloat32: save<float>(data, i, static_cast<float>(v)); break;
    case DType::kFloat16: save<uint16_t>(data, i, float_to_half_bits(static_cast<float>(v))); break;
    case DType::kBFloat16: save<uint16_t>(data, i, float_to_bf16_bits(static_cast<float>(v))); break;
    case DType::kFloat64: save<double>(data, i, v); break;
    case DType::kInt64: save<int64_t>(data, i, static_cast<int64_t>(v)); break;
    case DType::kInt32: save<int32_t>(data, i, static_cast<int32_t>(v)); break;
    case DType::kInt16: save<int16_t>(data, i, static_cast<int16_t>(v)); break;
    case DType::kInt8: save<int8_t>(data, i, static_cast<int8_t>(v)); break;
    case DType::kUInt8: save<uint8_t>(data, i, static_cast<uint8_t>(v)); break;
    case DType::kBool: save<uint8_t>(data, i, v != 0.0 ? 1 : 0); break;
  }
}

}  // namespace ingot::cli
