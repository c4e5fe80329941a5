// The importer: turns a parsed ExportedProgram into ingot IR by running the
// converter of every node, and reports every node it could not convert.
#pragma once
#include "frontend/converter.h"
#include "frontend/export_program.h"
#include "ingot/compiler.h"
#include "ir/graph.h"

namespace ingot::frontend {

struct ImportResult {
  Graph graph;                  // complete and valid only when report.ok()
  ingot::SupportReport report;  // always filled: op counts, and every unsupported op with its source line
};

// Never stops at the first problem: an unconvertible node is recorded in the
// report and its outputs are stood in for by placeholder values built from the
// export's metadata, so that the rest of the graph is still checked. A failed
// Result means the program itself is inconsistent (a weight the reader did not
// load, a value used before it is defined).
Result<ImportResult> import_program(const ExportedProgram& ep, const ConverterTable& table);

}  // namespace ingot::frontend
