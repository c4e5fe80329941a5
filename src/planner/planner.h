// Turns an optimized Graph into a Plan: tensor slots with their storage
// (inputs, outputs, constants section, activation arena), ordered steps and the
// arena size from lifetime-based memory packing.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/plan.h"
#include "ir/graph.h"

namespace ingot {

inline constexpr uint64_t kArenaAlignment = 256;

Result<Plan> build_plan(const Graph& g, const BuildInfo& build);

// A buffer to place in the arena: alive from step `first` to step `last` (inclusive).
struct ArenaRequest {
  uint64_t bytes = 0;
  int32_t first = 0;
  int32_t last = 0;
};
// Assigns each request an offset (256-byte aligned) so that requests with
// overlapping lifetimes never overlap in memory; returns the offsets and the
// arena size. Deterministic: greedy best-fit, largest first, ties by index.
std::vector<uint64_t> pack_arena(const std::vector<ArenaRequest>& requests, uint64_t* arena_bytes);

}  // namespace ingot
