// libFuzzer target for the .pt2 reader: arbitrary bytes go through
// read_pt2_memory (zip directory, JSON model, weight configs, tensor rebuilding).
// Any outcome but a Status (a crash, a hang, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>

#include "frontend/export_program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto program = ingot::frontend::read_pt2_memory(data, size, "fuzz.pt2");
  if (program.ok()) {
    // Touch what a converter would read, so lazily-wrong structures surface.
    size_t n = 0;
    for (const auto& node : program->graph.nodes) n += node.inputs.size() + node.outputs.size();
    for (const auto& [name, tensor] : program->weights) n += tensor.bytes ? tensor.bytes->size() : 0;
    (void)n;
  }
  return 0;
}
