// libFuzzer target for the engine reader: arbitrary bytes must never crash
// deserialize_plan (ASan/UBSan watch every read). When bytes are accepted, the
// plan must also survive the writer and read back to the same bytes: a plan the
// reader lets through but the writer's validation rejects is a reader bug.
// Each input is tried twice: as given, and "resealed" (total size and checksum
// fixed up), so that mutations reach the metadata Verifier and validate_plan
// instead of stopping at the checksum.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "engine/engine_format.h"

namespace {

void check(const uint8_t* data, size_t size) {
  auto plan = ingot::deserialize_plan(data, size);
  if (!plan.ok()) {
    if (plan.status().message().empty()) std::abort();  // every refusal must explain itself
    return;
  }
  auto bytes = ingot::serialize_plan(plan.value());
  if (!bytes.ok()) {
    std::fprintf(stderr, "reader accepted a plan the writer rejects: %s\n", bytes.status().to_string().c_str());
    std::abort();
  }
  auto again = ingot::deserialize_plan(bytes->data(), bytes->size());
  if (!again.ok()) {
    std::fprintf(stderr, "re-serialized plan does not load: %s\n", again.status().to_string().c_str());
    std::abort();
  }
}

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(data, size);
  if (size < ingot::kEngineHeaderSize + ingot::kEngineChecksumSize) return 0;
  std::vector<uint8_t> sealed(data, data + size);
  put_u64(sealed.data() + 48, size);  // total file size
  uint64_t constants_offset = 0;
  for (int i = 7; i >= 0; --i) constants_offset = (constants_offset << 8) | sealed[32 + i];
  const uint64_t body = size - ingot::kEngineChecksumSize;
  if (constants_offset <= body) put_u64(sealed.data() + 40, body - constants_offset);  // constants size
  put_u64(sealed.data() + body, ingot::engine_checksum(sealed.data(), body));
  check(sealed.data(), sealed.size());
  return 0;
}
