// The ingot engine file: layout constants, the fixed header and the entry points
// of the writer (compiler library) and the reader (runtime library).
//
// Layout (all integers little-endian):
//   [0, 64)                 header (below)
//   [64, 64 + meta_size)    metadata: a FlatBuffers "Plan" table (engine_format.fbs)
//   zero padding up to the next multiple of 256
//   [const_off, +const_sz)  constants section (weights), 256-byte aligned so it
//                           can be memory-mapped and uploaded without copies
//   [file_size - 8, file_size)  XXH3-64 of every byte before it
//
// Header, 64 bytes:
//   0  char[8]  magic "INGOTENG"
//   8  uint16   format major     10 uint16 format minor
//   12 uint32   flags (none defined yet; must be 0)
//   16 uint64   metadata offset  24 uint64 metadata size
//   32 uint64   constants offset 40 uint64 constants size
//   48 uint64   total file size (checksum included)
//   56 uint64   reserved (0)
//
// Versioning: a reader accepts its own major version and any minor version
// (minor versions only append FlatBuffers fields, which older readers skip).
// The metadata schema's generated header engine_format_generated.h is committed;
// regenerate it with `flatc --cpp --scoped-enums -o src/engine src/engine/engine_format.fbs`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/plan.h"
#include "ingot/status.h"

namespace ingot {

inline constexpr char kEngineMagic[8] = {'I', 'N', 'G', 'O', 'T', 'E', 'N', 'G'};
inline constexpr uint16_t kEngineFormatMajor = 1;
inline constexpr uint16_t kEngineFormatMinor = 0;
inline constexpr size_t kEngineHeaderSize = 64;
inline constexpr size_t kEngineChecksumSize = 8;
inline constexpr uint64_t kEngineSectionAlignment = 256;

struct EngineHeader {
  uint16_t format_major = kEngineFormatMajor;
  uint16_t format_minor = kEngineFormatMinor;
  uint32_t flags = 0;
  uint64_t metadata_offset = 0;
  uint64_t metadata_size = 0;
  uint64_t constants_offset = 0;
  uint64_t constants_size = 0;
  uint64_t file_size = 0;
};

// Writes the 64 header bytes.
void encode_engine_header(const EngineHeader& header, uint8_t* out);

// Parses and checks the header against the buffer: size, magic, major version,
// flags, section bounds and the total size. Does NOT check the checksum or the
// metadata (deserialize_plan does).
Result<EngineHeader> read_engine_header(const void* data, size_t size);

// XXH3-64 of the bytes, as stored in the file's last 8 bytes.
uint64_t engine_checksum(const void* data, size_t size);

// The writer (compiler library): validates the plan, then lays it out.
// The same Plan always gives byte-identical bytes.
Result<std::vector<uint8_t>> serialize_plan(const Plan& plan);

// The reader (runtime library): trusts nothing. Checks the header, the checksum,
// the FlatBuffers tables (Verifier) and then validate_plan().
Result<Plan> deserialize_plan(const void* data, size_t size);

}  // namespace ingot
