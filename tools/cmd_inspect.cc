// `ingot inspect ENGINE [--json]`: shows what an engine holds: provenance (model
// hash, file, options, target), its inputs and outputs, memory (activation
// arena, workspace, constants), the kernel tactics chosen by the build-time
// tuner, and every step with its tactic and the source node(s) it came from. --json prints the inspector's JSON as is;
// the table is rendered from that same JSON so the two never disagree.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "ingot/compiler.h"

namespace ingot::cli {

namespace {
using nlohmann::json;

std::string scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + scalar(v[i]);
    return s + "]";
  }
  if (v.is_object()) {
    std::string s;
    for (auto it = v.begin(); it != v.end(); ++it) s += (s.empty() ? "" : ", ") + it.key() + "=" + scalar(*it);
    return s;
  }
  return v.dump();
}

const json* find_any(const json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (j.contains(k) && !j[k].is_null()) return &j[k];
  return nullptr;
}

std::string field(const json& j, std::initializer_list<const char*> keys) {
  const json* v = find_any(j, keys);
  return v ? scalar(*v) : "";
}

void print_section(std::ostream& out, const std::string& title) { out << "\n" << title << "\n"; }

// "33554432 (32.0 MiB)" for byte counts, so memory sizes read at a glance.
std::string value_text(const std::string& key, const json& v) {
  const bool bytes = key.size() > 6 && key.compare(key.size() - 6, 6, "_bytes") == 0;
  if (!bytes || !v.is_number_unsigned() || v.get<uint64_t>() < 1024) return scalar(v);
  std::ostringstream os;
  const double b = static_cast<double>(v.get<uint64_t>());
  os << v.get<uint64_t>() << " (" << std::fixed << std::setprecision(1);
  if (b >= 1024.0 * 1024.0) os << b / (1024.0 * 1024.0) << " MiB)";
  else os << b / 1024.0 << " KiB)";
  return os.str();
}

void print_key_values(std::ostream& out, const json& object) {
  size_t width = 0;
  for (auto it = object.begin(); it != object.end(); ++it) width = std::max(width, it.key().size());
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (it->is_object() && !it->empty()) {
      out << "  " << it.key() << ":\n";
      for (auto sub = it->begin(); sub != it->end(); ++sub) out << "    " << sub.key() << " = " << scalar(*sub) << "\n";
    } else {
      out << "  " << std::left << std::setw(static_cast<int>(width)) << it.key() << "  " << value_text(it.key(), *it)
          << "\n";
    }
  }
}

void print_tensors(std::ostream& out, const json& list) {
  for (const auto& t : list)
    out << "  " << std::left << std::setw(24) << field(t, {"name"}) << std::setw(10) << field(t, {"dtype"})
        << field(t, {"shape"}) << "\n";
}

// Where a step came from: "conv2d_3 (model.py:42)" for each source node.
std::string step_sources(const json& step) {
  const json* src = find_any(step, {"sources", "source", "source_nodes", "nodes"});
  if (!src) return "";
  auto one = [](const json& s) -> std::string {
    if (!s.is_object()) return scalar(s);
    std::string text = field(s, {"node", "node_name", "name"});
    std::string where = field(s, {"location", "loc", "file"});
    if (!where.empty()) text += (text.empty() ? "" : " ") + std::string("(") + where + ")";
    return text.empty() ? scalar(s) : text;
  };
  if (!src->is_array()) return one(*src);
  std::string out;
  for (const auto& s : *src) out += (out.empty() ? "" : "; ") + one(s);
  return out;
}

// "unary:relu" from op "unary" and attrs "unary(fn=relu, ...)"; the tactic if any.
std::string step_kernel(const json& step) {
  std::string kernel = field(step, {"kernel", "op", "name"});
  std::string attrs = field(step, {"attrs"});
  size_t fn = attrs.find("fn=");
  if (fn != std::string::npos) {
    size_t end = attrs.find_first_of(",)", fn);
    kernel += ":" + attrs.substr(fn + 3, end == std::string::npos ? std::string::npos : end - fn - 3);
  }
  std::string tactic = field(step, {"tactic"});
  if (!tactic.empty()) kernel += " [" + tactic + "]";
  return kernel;
}

// "float32 [2, 16, 32, 32]" of the first output (+N when there are more).
std::string step_output(const json& step) {
  const json* outs = find_any(step, {"outputs"});
  if (!outs || !outs->is_array() || outs->empty()) return "";
  const json& first = (*outs)[0];
  std::string text = field(first, {"dtype"}) + " " + field(first, {"shape"});
  if (outs->size() > 1) text += " +" + std::to_string(outs->size() - 1);
  return text;
}

void render_table(std::ostream& out, const json& j) {
  if (j.contains("format_version")) out << "engine format " << scalar(j["format_version"]) << "\n";
  if (const json* p = find_any(j, {"provenance", "info", "engine"})) {
    print_section(out, "Provenance");
    print_key_values(out, *p);
  }
  if (const json* in = find_any(j, {"inputs"})) {
    print_section(out, "Inputs");
    print_tensors(out, *in);
  }
  if (const json* o = find_any(j, {"outputs"})) {
    print_section(out, "Outputs");
    print_tensors(out, *o);
  }
  if (const json* m = find_any(j, {"memory"})) {
    print_section(out, "Memory");
    print_key_values(out, *m);
  }
  if (const json* t = find_any(j, {"tuning"}); t && t->is_object()) {
    print_section(out, "Kernel tuning");
    print_key_values(out, *t);
  }
  if (const json* steps = find_any(j, {"steps"}); steps && steps->is_array()) {
    print_section(out, "Steps (" + std::to_string(steps->size()) + ")");
    // The kernel column is as wide as its widest entry (tactics make it long).
    size_t kernel_width = 18;
    for (const auto& s : *steps) kernel_width = std::max(kernel_width, step_kernel(s).size() + 2);
    const int kw = static_cast<int>(std::min<size_t>(kernel_width, 48));
    out << "  " << std::right << std::setw(4) << "#" << "  " << std::left << std::setw(kw) << "kernel"
        << std::setw(32) << "output" << "source\n";
    size_t i = 0;
    for (const auto& s : *steps) {
      out << "  " << std::right << std::setw(4) << i++ << "  " << std::left << std::setw(kw) << step_kernel(s)
          << std::setw(32) << step_output(s) << step_sources(s) << "\n";
    }
  }
  // Anything else the inspector reports, so no information hides behind the table.
  json rest = j;
  for (const char* k :
       {"format_version", "provenance", "info", "engine", "inputs", "outputs", "memory", "tuning", "steps"})
    rest.erase(k);
  if (!rest.empty()) {
    print_section(out, "Other");
    print_key_values(out, rest);
  }
}
}  // namespace

void register_inspect_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("inspect", "Show an engine's provenance, IO, memory and steps");
  auto engine = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("engine", *engine, "engine file")->required();
  cmd->add_flag("--json", *as_json, "print the inspector's JSON");
  cmd->callback([&action, engine, as_json] {
    action = [engine, as_json]() -> int {
      Result<std::string> text = inspect_engine_json(*engine);
      if (!text.ok()) return report_error(text.status());
      if (*as_json) {
        std::cout << *text << (text->empty() || text->back() != '\n' ? "\n" : "");
        return 0;
      }
      json parsed = json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !parsed.is_object())
        return report_error(internal_error("the inspector returned malformed JSON"));
      std::cout << *engine << "\n";
      render_table(std::cout, parsed);
      return 0;
    };
  });
}

}  // namespace ingot::cli
