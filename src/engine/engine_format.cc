// The engine file's fixed header and checksum, shared by the writer (compiler)
// and the reader (runtime). Integers are encoded byte by byte so the file is
// little-endian on every host and nothing depends on struct padding.
#include "engine/engine_format.h"

#include <cstdio>
#include <cstring>
#include <string>

#include <xxhash.h>

namespace ingot {

namespace {

void put_u16(uint8_t* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

void encode_engine_header(const EngineHeader& h, uint8_t* out) {
  std::memset(out, 0, kEngineHeaderSize);
  std::memcpy(out, kEngineMagic, sizeof(kEngineMagic));
  put_u16(out + 8, h.format_major);
  put_u16(out + 10, h.format_minor);
  put_u32(out + 12, h.flags);
  put_u64(out + 16, h.metadata_offset);
  put_u64(out + 24, h.metadata_size);
  put_u64(out + 32, h.constants_offset);
  put_u64(out + 40, h.constants_size);
  put_u64(out + 48, h.file_size);
  put_u64(out + 56, 0);  // reserved
}

Result<EngineHeader> read_engine_header(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (data == nullptr && size != 0) return invalid_argument("engine data is a null pointer");
  if (size == 0) return corrupt("not an ingot engine (the file is empty)");
  // A prefix of the magic is a truncated engine; anything else is another file.
  const size_t magic_len = size < sizeof(kEngineMagic) ? size : sizeof(kEngineMagic);
  if (std::memcmp(bytes, kEngineMagic, magic_len) != 0) return corrupt("not an ingot engine (bad magic)");
  if (size < kEngineHeaderSize)
    return corrupt("engine file is truncated: expected at least " + std::to_string(kEngineHeaderSize) +
                   " bytes (the header), got " + std::to_string(size));

  EngineHeader h;
  h.format_major = static_cast<uint16_t>(get_le(bytes + 8, 2));
  h.format_minor = static_cast<uint16_t>(get_le(bytes + 10, 2));
  h.flags = static_cast<uint32_t>(get_le(bytes + 12, 4));
  h.metadata_offset = get_le(bytes + 16, 8);
  h.metadata_size = get_le(bytes + 24, 8);
  h.constants_offset = get_le(bytes + 32, 8);
  h.constants_size = get_le(bytes + 40, 8);
  h.file_size = get_le(bytes + 48, 8);
  uint64_t reserved = get_le(bytes + 56, 8);

  const std::string ours = std::to_string(kEngineFormatMajor) + "." + std::to_string(kEngineFormatMinor);
  if (h.format_major != kEngineFormatMajor)
    return unsupported("engine file format version " + std::to_string(h.format_major) + "." +
                       std::to_string(h.format_minor) + " is not supported by this ingot runtime (format " +
                       ours + "); rebuild the engine with this version of ingot");
  if (h.flags != 0)
    return unsupported("engine file uses unknown feature flags 0x" + [&] {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%x", h.flags);
      return std::string(buf);
    }() + "; rebuild the engine with this version of ingot");
  if (reserved != 0) return corrupt("engine file is corrupt: reserved header bytes are not zero");

  // The total size first: a short read is the most common way a file goes bad.
  if (h.file_size < size)
    return corrupt("engine file is corrupt: the header says " + std::to_string(h.file_size) +
                   " bytes but the file has " + std::to_string(size));
  if (h.file_size > size)
    return corrupt("engine file is truncated: expected " + std::to_string(h.file_size) + " bytes, got " +
                   std::to_string(size));

  // Section bounds, in an order where no sum can overflow: every term is
  // already known to be <= size.
  const uint64_t body_end = size - kEngineChecksumSize;  // size >= 64 here
  auto bad_layout = [](const std::string& what) {
    return corrupt("engine file is corrupt: " + what);
  };
  if (h.metadata_offset < kEngineHeaderSize || h.metadata_offset > body_end ||
      h.metadata_size > body_end - h.metadata_offset)
    return bad_layout("metadata section lies outside the file");
  if (h.metadata_size == 0) return bad_layout("metadata section is empty");
  if (h.constants_offset % kEngineSectionAlignment != 0)
    return bad_layout("constants section is not " + std::to_string(kEngineSectionAlignment) + "-byte aligned");
  if (h.constants_offset < h.metadata_offset + h.metadata_size || h.constants_offset > body_end ||
      h.constants_size != body_end - h.constants_offset)
    return bad_layout("constants section lies outside the file or overlaps the metadata");
  return h;
}

uint64_t engine_checksum(const void* data, size_t size) { return XXH3_64bits(data, size); }

}  // namespace ingot
