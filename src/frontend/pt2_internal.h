// Internals of the .pt2 reader shared between its files (not part of the
// frontend's interface): an in-memory zip archive and the JSON -> struct parsers.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "frontend/export_program.h"
#include "frontend/sym_expr.h"
#include "ingot/status.h"

namespace ingot::frontend::pt2 {

// A read-only view of a zip archive held in memory (minizip over a memory ioapi).
// The archive bytes must outlive the object.
class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint64_t size = 0;
    uint64_t compressed_size = 0;
    int method = 0;
    uint64_t pos_in_central_dir = 0;  // minizip position, to jump back to the entry
    uint64_t num_of_file = 0;
  };

  static Result<std::unique_ptr<ZipArchive>> open(const uint8_t* data, size_t size);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  // The whole entry, CRC-checked. Errors name the entry.
  Result<std::vector<uint8_t>> read(const std::string& name) const;

 private:
  ZipArchive() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
};

// Parses the ExportedProgram JSON text (models/<name>.json) into `ep` (graph,
// signature, versions, range constraints, user input names). Does not touch weights.
// With `symbols`, every symbolic size and SymInt is evaluated with those values
// (sym_expr.h) instead of taking the hint recorded from the example inputs.
Status parse_exported_program_json(const std::string& text, ExportedProgram& ep,
                                   const SymbolValues* symbols = nullptr);

// One PayloadConfig entry (data/*/<model>_{weights,constants}_config.json).
struct PayloadEntry {
  std::string path_name;
  bool is_param = false;
  bool use_pickle = false;
  bool has_meta = false;
  int64_t scalar_type = 0;
  std::vector<int64_t> sizes, strides;
  int64_t storage_offset = 0;
};
Result<std::map<std::string, PayloadEntry>> parse_payload_config(const std::string& text);

// Export ScalarType number -> ingot dtype (nullopt for complex, fp8, uint16, unknown)
// and its element size in bytes (0 when unknown).
std::optional<DType> dtype_from_scalar_type(int64_t scalar_type);
size_t scalar_type_size(int64_t scalar_type);
const char* scalar_type_name(int64_t scalar_type);

}  // namespace ingot::frontend::pt2
