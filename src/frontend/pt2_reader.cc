// Reads a torch.export .pt2 archive (PyTorch 2.9+) into an ExportedProgram:
// finds the model JSON, checks versions, and rebuilds every weight the graph
// uses as a dense tensor from the raw storage files (as_strided applied, bounds
// checked). Older layouts (2.8 pickled weights, <=2.7 flat zips, TorchScript)
// are recognised and refused with a message that says how to re-save them.
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "frontend/pt2_internal.h"

namespace ingot::frontend {

using pt2::PayloadEntry;
using pt2::ZipArchive;

namespace {

std::string hex_hash(const void* data, size_t size) {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(data, size));
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : canon.digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

constexpr const char* kResave =
    "load it with the PyTorch version that wrote it (torch.export.load) and re-save it with "
    "torch.export.save from PyTorch 2.9 or later";

// Checks the layout and returns the model JSON entry name, or why this is not a readable .pt2.
Result<std::string> locate_model_json(const ZipArchive& zip, const std::string& root) {
  if (zip.find("serialized_exported_program.json") || zip.find(root + "serialized_exported_program.json"))
    return unsupported(std::string("this .pt2 was written by PyTorch 2.7 or older (serialized_exported_program.json "
                                   "with pickled weights), which ingot does not read; ") + kResave);
  if (const ZipArchive::Entry* fmt = zip.find(root + "archive_format")) {
    auto bytes = zip.read(fmt->name);
    if (!bytes.ok()) return bytes.status();
    std::string value(bytes->begin(), bytes->end());
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' ')) value.pop_back();
    if (value != "pt2")
      return invalid_argument("archive_format is '" + value.substr(0, 40) + "', not 'pt2': not a torch.export archive");
  }
  std::string preferred = root + "models/model.json";
  if (zip.find(preferred)) return preferred;
  for (const auto& e : zip.entries()) {
    const std::string dir = root + "models/";
    if (starts_with(e.name, dir) && ends_with(e.name, ".json") &&
        e.name.find('/', dir.size()) == std::string::npos)
      return e.name;
  }
  if (zip.find(root + "code/") || zip.find(root + "constants.pkl"))
    return invalid_argument("this is a TorchScript archive (torch.jit.save), not a torch.export program; export the "
                            "model with torch.export.export and save it with torch.export.save");
  if (zip.find(root + "data.pkl"))
    return invalid_argument("this is a torch.save checkpoint (a pickle), not a torch.export program; export the "
                            "model with torch.export.export and save it with torch.export.save");
  if (zip.find(root + "data/aotinductor/") || std::any_of(zip.entries().begin(), zip.entries().end(), [&](auto& e) {
        return starts_with(e.name, root + "data/aotinductor/");
      }))
    return unsupported("this is an AOTInductor package without an exported program; save the ExportedProgram with "
                       "torch.export.save instead");
  return invalid_argument("the zip archive has no models/*.json, so it is not a torch.export .pt2 file");
}

size_t checked_mul(size_t a, size_t b, bool& overflow) {
  if (a != 0 && b > SIZE_MAX / a) overflow = true;
  return a * b;
}

// Builds one dense tensor from a storage file and a strided view of it.
class WeightLoader {
 public:
  WeightLoader(const ZipArchive& zip, std::string root) : zip_(zip), root_(std::move(root)) {}

  Result<TensorData> build(const std::string& fqn, const std::string& dir, const PayloadEntry& e) {
    auto where = [&] { return "weight '" + fqn + "' (" + dir + e.path_name + ")"; };
    if (e.use_pickle)
      return unsupported(where() + " is stored as a pickle (a tensor subclass or custom object), which ingot "
                                   "cannot read; convert it to a plain tensor before exporting");
    if (!e.has_meta) return corrupt(where() + " has no tensor metadata");
    std::optional<DType> dtype = pt2::dtype_from_scalar_type(e.scalar_type);
    if (!dtype)
      return unsupported(where() + " has dtype " + pt2::scalar_type_name(e.scalar_type) +
                         ", which ingot does not support");
    if (e.sizes.size() != e.strides.size())
      return corrupt(where() + " has " + std::to_string(e.sizes.size()) + " sizes but " +
                     std::to_string(e.strides.size()) + " strides");
    auto storage = load_storage(dir + e.path_name);
    if (!storage.ok()) return storage.status().with_context(where());
    const std::vector<uint8_t>& bytes = **storage;
    const size_t elem = dtype_size(*dtype);
    if (bytes.size() % elem != 0)
      return corrupt(where() + ": storage of " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                     dtype_name(*dtype) + " elements");
    const uint64_t storage_numel = bytes.size() / elem;

    bool overflow = false;
    size_t numel = 1;
    uint64_t max_index = static_cast<uint64_t>(std::max<int64_t>(e.storage_offset, 0));
    if (e.storage_offset < 0) return corrupt(where() + " has a negative storage offset");
    for (size_t d = 0; d < e.sizes.size(); ++d) {
      if (e.sizes[d] < 0 || e.strides[d] < 0) return corrupt(where() + " has a negative size or stride");
      numel = checked_mul(numel, static_cast<size_t>(e.sizes[d]), overflow);
      if (e.sizes[d] > 0) {
        uint64_t span = checked_mul(static_cast<size_t>(e.sizes[d] - 1), static_cast<size_t>(e.strides[d]), overflow);
        if (max_index + span < max_index) overflow = true;
        max_index += span;
      }
    }
    checked_mul(numel, elem, overflow);
    if (overflow) return corrupt(where() + " has sizes whose element count overflows");
    TensorData t;
    t.dtype = *dtype;
    t.shape = e.sizes;
    if (numel == 0) {
      t.bytes = std::make_shared<const std::vector<uint8_t>>();
      return t;
    }
    if (max_index >= storage_numel)
      return corrupt(where() + " reads element " + std::to_string(max_index) + " of a storage holding " +
                     std::to_string(storage_numel) + (storage_numel == 0
                                                          ? " (an empty storage: was it exported with fake weights?)"
                                                          : " (truncated or damaged file)"));

    // Identical storage + view gives the same bytes: share them (tied weights).
    std::string key = e.path_name + "|" + dir + "|" + std::to_string(e.scalar_type) + "|" +
                      std::to_string(e.storage_offset);
    for (size_t d = 0; d < e.sizes.size(); ++d) key += "|" + std::to_string(e.sizes[d]) + "x" + std::to_string(e.strides[d]);
    if (auto it = views_.find(key); it != views_.end()) {
      t.bytes = it->second;
      return t;
    }

    bool contiguous = true;
    int64_t expected = 1;
    for (size_t d = e.sizes.size(); d-- > 0;) {
      if (e.sizes[d] != 1 && e.strides[d] != expected) contiguous = false;
      expected *= e.sizes[d];
    }
    const uint8_t* base = bytes.data();
    if (contiguous && e.storage_offset == 0 && numel == storage_numel) {
      t.bytes = *storage;  // the whole storage file is this tensor
    } else if (contiguous) {
      t.bytes = std::make_shared<const std::vector<uint8_t>>(base + e.storage_offset * elem,
                                                             base + (e.storage_offset + numel) * elem);
    } else {
      auto out = std::make_shared<std::vector<uint8_t>>(numel * elem);
      std::vector<int64_t> index(e.sizes.size(), 0);
      for (size_t i = 0; i < numel; ++i) {
        int64_t src = e.storage_offset;
        for (size_t d = 0; d < index.size(); ++d) src += index[d] * e.strides[d];
        std::memcpy(out->data() + i * elem, base + static_cast<size_t>(src) * elem, elem);
        for (size_t d = index.size(); d-- > 0;) {
          if (++index[d] < e.sizes[d]) break;
          index[d] = 0;
        }
      }
      t.bytes = std::move(out);
    }
    views_[key] = t.bytes;
    return t;
  }

 private:
  Result<ConstantData> load_storage(const std::string& rel) {
    if (auto it = storages_.find(rel); it != storages_.end()) return it->second;
    auto bytes = zip_.read(root_ + rel);
    if (!bytes.ok()) return bytes.status();
    ConstantData data = std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value());
    storages_[rel] = data;
    return data;
  }

  const ZipArchive& zip_;
  std::string root_;
  std::map<std::string, ConstantData> storages_;
  std::map<std::string, ConstantData> views_;
};

Status read_weights(const ZipArchive& zip, const std::string& root, const std::string& model_name,
                    ExportedProgram& ep) {
  // The FQNs the graph actually uses, and which config each should be in.
  std::vector<const InputSpecDef*> needed;
  for (const InputSpecDef& s : ep.input_specs)
    if (s.kind == InputSpecDef::Kind::kParameter || s.kind == InputSpecDef::Kind::kBuffer ||
        s.kind == InputSpecDef::Kind::kTensorConstant)
      needed.push_back(&s);

  const std::string weights_cfg = "data/weights/" + model_name + "_weights_config.json";
  const std::string constants_cfg = "data/constants/" + model_name + "_constants_config.json";
  const bool has_weights_cfg = zip.find(root + weights_cfg) != nullptr;
  if (!has_weights_cfg && zip.find(root + "data/weights/" + model_name + ".pt"))
    return unsupported(std::string("this .pt2 was written by PyTorch 2.8 (weights pickled in data/weights/") +
                       model_name + ".pt), which ingot does not read; " + kResave);

  std::map<std::string, PayloadEntry> weights, constants;
  auto load_cfg = [&](const std::string& rel, std::map<std::string, PayloadEntry>& dst) -> Status {
    if (!zip.find(root + rel)) return Status::ok_status();
    auto bytes = zip.read(root + rel);
    if (!bytes.ok()) return bytes.status();
    auto cfg = pt2::parse_payload_config(std::string(bytes->begin(), bytes->end()));
    if (!cfg.ok()) return cfg.status().with_context(rel);
    dst = std::move(cfg).value();
    return Status::ok_status();
  };
  INGOT_RETURN_IF_ERROR(load_cfg(weights_cfg, weights));
  INGOT_RETURN_IF_ERROR(load_cfg(constants_cfg, constants));

  WeightLoader loader(zip, root);
  for (const InputSpecDef* s : needed) {
    if (ep.weights.count(s->target)) continue;
    bool in_constants = s->kind == InputSpecDef::Kind::kTensorConstant ||
                        (s->kind == InputSpecDef::Kind::kBuffer && !s->persistent);
    // A buffer may live in either config (see the reference doc, section 3.1).
    const std::map<std::string, PayloadEntry>* first = in_constants ? &constants : &weights;
    const std::map<std::string, PayloadEntry>* second = in_constants ? &weights : &constants;
    const char* first_dir = in_constants ? "data/constants/" : "data/weights/";
    const char* second_dir = in_constants ? "data/weights/" : "data/constants/";
    const PayloadEntry* entry = nullptr;
    const char* dir = first_dir;
    if (auto it = first->find(s->target); it != first->end()) entry = &it->second;
    else if (auto it2 = second->find(s->target); it2 != second->end()) entry = &it2->second, dir = second_dir;
    if (!entry) {
      if (!has_weights_cfg && constants.empty())
        return corrupt("the archive has no " + weights_cfg + " but the graph uses weight '" + s->target + "'");
      return corrupt("weight '" + s->target + "' used by the graph (as '" + s->arg_name +
                     "') is missing from the archive's weight and constant configs");
    }
    auto tensor = loader.build(s->target, dir, *entry);
    if (!tensor.ok()) return tensor.status();
    ep.weights[s->target] = std::move(tensor).value();
  }
  return Status::ok_status();
}

Result<ExportedProgram> read_archive(const uint8_t* data, size_t size, const InputShapes* shapes) {
  if (size == 0) return invalid_argument("the file is empty, not a torch.export .pt2 archive");
  auto zip_or = ZipArchive::open(data, size);
  if (!zip_or.ok()) return zip_or.status();
  const ZipArchive& zip = **zip_or;

  // Every entry of a PT2 archive sits under one root folder named like the file.
  const std::string& first = zip.entries().front().name;
  size_t slash = first.find('/');
  std::string root = slash == std::string::npos ? "" : first.substr(0, slash + 1);

  auto json_name = locate_model_json(zip, root);
  if (!json_name.ok()) return json_name.status();
  std::string model_file = json_name->substr(json_name->rfind('/') + 1);
  std::string model_name = model_file.substr(0, model_file.size() - 5);  // drop ".json"

  ExportedProgram ep;
  auto json_bytes = zip.read(*json_name);
  if (!json_bytes.ok()) return json_bytes.status();
  const std::string text(json_bytes->begin(), json_bytes->end());
  INGOT_RETURN_IF_ERROR(pt2::parse_exported_program_json(text, ep).with_context(json_name->substr(root.size())));
  if (shapes && !shapes->empty()) {
    // Again, with every symbolic size evaluated at the shapes asked for.
    INGOT_ASSIGN_OR_RETURN(const SymbolValues values, symbol_values_for_shapes(ep, *shapes));
    ep = ExportedProgram();
    INGOT_RETURN_IF_ERROR(
        pt2::parse_exported_program_json(text, ep, &values).with_context(json_name->substr(root.size())));
  }
  INGOT_RETURN_IF_ERROR(read_weights(zip, root, model_name, ep));
  ep.content_hash = hex_hash(data, size);
  return ep;
}

}  // namespace

Result<ExportedProgram> read_pt2_memory(const void* data, size_t size, const std::string& display_name,
                                        const InputShapes* shapes) {
  auto ep = read_archive(static_cast<const uint8_t*>(data), size, shapes);
  if (!ep.ok()) return ep.status().with_context(display_name);
  ep->file_name = std::filesystem::path(display_name).filename().string();
  return ep;
}

Result<ExportedProgram> read_pt2_file(const std::string& path, const InputShapes* shapes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) return invalid_argument(path + ": is a directory, not a .pt2 file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return io_error(path + ": cannot open for reading");
  std::streamoff size = in.tellg();
  if (size < 0) return io_error(path + ": cannot determine the file size");
  std::vector<uint8_t> bytes;
  try {
    bytes.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc&) {
    return io_error(path + ": too large to load into memory");
  }
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    return io_error(path + ": read failed");
  return read_pt2_memory(bytes.data(), bytes.size(), path, shapes);
}

}  // namespace ingot::frontend
