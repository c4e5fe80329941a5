// Reading and writing NumPy .npy files (the CLI's tensor exchange format, and
// test fixtures). Only what ingot tensors can hold: little-endian numeric
// dtypes and bool, C order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"

namespace ingot::npy {

struct Array {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // {} for a 0-d array
  std::vector<uint8_t> data;   // row-major, little-endian

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

Result<Array> read_file(const std::string& path);
// `name` is used in error messages (a file name, or "<memory>").
Result<Array> parse(const void* data, size_t size, const std::string& name);
// Serializes to .npy bytes (format 1.0, or 2.0 when the header needs it).
Result<std::vector<uint8_t>> serialize(DType dtype, const std::vector<int64_t>& shape, const void* data);
// Atomic: writes a temporary file next to `path`, then renames it over `path`,
// so a failed write never leaves a half-written file behind.
Status write_file(const std::string& path, DType dtype, const std::vector<int64_t>& shape, const void* data);

}  // namespace ingot::npy
