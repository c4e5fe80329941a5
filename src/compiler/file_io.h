// File helpers for the compiler API: whole-file reads with clear errors, and
// atomic writes (declared in ingot/compiler.h as write_file_atomic).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ingot/status.h"

namespace ingot {

Result<std::vector<uint8_t>> read_file_bytes(const std::string& path);
std::string path_base_name(const std::string& path);

}  // namespace ingot
