// The timing cache (see timing_cache.h): keys, JSON file format, merge-on-save.
// The file is read with nlohmann-json without exceptions; a file that is not a
// timing cache is refused with a message that names it rather than overwritten.
#include "tuner/timing_cache.h"

#include <nlohmann/json.hpp>

#include "compiler/file_io.h"
#include "ingot/compiler.h"

namespace ingot::tuner {

namespace {

using nlohmann::json;

constexpr const char* kFormatName = "ingot-timing-cache";

std::string tensor_signature(const Plan& plan, int32_t id) {
  if (id < 0) return "-";
  const PlanTensor& t = plan.tensors[static_cast<size_t>(id)];
  std::string s = dtype_name(t.dtype);
  s += '[';
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(t.shape[i]);
  }
  s += ']';
  return s;
}

json entry_to_json(const TimingEntry& e) {
  json j;
  j["tactic"] = e.tactic;
  j["median_ms"] = e.median_ms;
  j["candidates"] = e.candidates;
  j["optimization_level"] = e.optimization_level;
  json timings = json::array();
  for (const auto& [tactic, ms] : e.timings) timings.push_back(json::array({tactic, ms}));
  j["timings_ms"] = timings;
  json rejected = json::array();
  for (const auto& [tactic, why] : e.rejected) rejected.push_back(json::array({tactic, why}));
  j["rejected"] = rejected;
  return j;
}

// Fills *e from j; false when j does not have the entry's shape.
bool entry_from_json(const json& j, TimingEntry* e) {
  if (!j.is_object()) return false;
  auto tactic = j.find("tactic");
  if (tactic == j.end() || !tactic->is_string()) return false;
  e->tactic = tactic->get<std::string>();
  if (auto v = j.find("median_ms"); v != j.end() && v->is_number()) e->median_ms = v->get<double>();
  if (auto v = j.find("candidates"); v != j.end() && v->is_number_integer()) e->candidates = v->get<int>();
  if (auto v = j.find("optimization_level"); v != j.end() && v->is_number_integer())
    e->optimization_level = v->get<int>();
  if (auto v = j.find("timings_ms"); v != j.end() && v->is_array()) {
    for (const json& p : *v)
      if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_number())
        e->timings.emplace_back(p[0].get<std::string>(), p[1].get<double>());
  }
  if (auto v = j.find("rejected"); v != j.end() && v->is_array()) {
    for (const json& p : *v)
      if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string())
        e->rejected.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
  }
  return true;
}

}  // namespace

std::string timing_key(const Plan& plan, size_t step, const TuningTarget& target) {
  const PlanStep& s = plan.steps[step];
  std::string key = op_name(op_kind(s.attrs));
  key += '|';
  key += attrs_to_string(s.attrs);
  key += "|in";
  for (int32_t id : s.inputs) {
    key += ' ';
    key += tensor_signature(plan, id);
  }
  key += "|out";
  for (int32_t id : s.outputs) {
    key += ' ';
    key += tensor_signature(plan, id);
  }
  key += '|';
  key += target.arch;
  key += "|cublasLt ";
  key += target.cublas_version;
  key += "|cudnn ";
  key += target.cudnn_version;
  key += target.allow_tf32 ? "|tf32 1" : "|tf32 0";
  if (target.exact_gelu) key += "|exact-gelu";
  key += "|workspace ";
  key += std::to_string(target.workspace_bytes);
  return key;
}

Result<TimingCache> TimingCache::parse(const std::string& text, const std::string& origin) {
  auto refuse = [&](const std::string& why) {
    return invalid_argument("timing cache '" + origin + "' " + why +
                            "; delete it or pass another --timing-cache file");
  };
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return refuse("is not valid JSON");
  if (!j.is_object() || j.value("format", std::string()) != kFormatName)
    return refuse("is not an ingot timing cache (no \"format\": \"" + std::string(kFormatName) + "\")");
  TimingCache cache;
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() || version->get<int>() != kFormatVersion)
    return cache;  // another format version: its entries do not apply; save() replaces them
  auto entries = j.find("entries");
  if (entries == j.end() || !entries->is_object()) return refuse("has no \"entries\" object");
  for (auto it = entries->begin(); it != entries->end(); ++it) {
    TimingEntry e;
    if (!entry_from_json(*it, &e)) return refuse("has a malformed entry for '" + it.key() + "'");
    cache.entries_.emplace(it.key(), std::move(e));
  }
  return cache;
}

Result<TimingCache> TimingCache::load(const std::string& path) {
  Result<std::vector<uint8_t>> bytes = read_file_bytes(path);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) return TimingCache();
    return bytes.status();
  }
  return parse(std::string(bytes->begin(), bytes->end()), path);
}

std::string TimingCache::serialize() const {
  json entries = json::object();  // std::map underneath: keys sorted, so the file is stable
  for (const auto& [key, e] : entries_) entries[key] = entry_to_json(e);
  json j;
  j["format"] = kFormatName;
  j["version"] = kFormatVersion;
  j["entries"] = entries;
  return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

Status TimingCache::save(const std::string& path) const {
  TimingCache merged;
  if (Result<TimingCache> on_disk = load(path); on_disk.ok()) merged = std::move(on_disk.value());
  // A file that became unreadable meanwhile is replaced by what this build knows.
  else merged = *this;
  for (const std::string& key : changed_) merged.entries_[key] = entries_.at(key);
  const std::string text = merged.serialize();
  Status st = write_file_atomic(path, text.data(), text.size());
  if (!st.ok()) return st.with_context("writing the timing cache");
  return st;
}

const TimingEntry* TimingCache::find(const std::string& key, int optimization_level) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.optimization_level < optimization_level) return nullptr;
  return &it->second;
}

void TimingCache::put(const std::string& key, TimingEntry entry) {
  entries_[key] = std::move(entry);
  changed_.insert(key);
}

}  // namespace ingot::tuner
