// Input shapes for a model exported with dynamic dims: solves the symbols of the
// user inputs' sizes from the shapes asked for (`ingot convert --input-shape`),
// checks them against the model's static dims and torch.export's ranges, and
// gives the values every other symbolic size is then evaluated with (sym_expr.h).
// Symbols the asked shapes leave open keep the example inputs' values.
#include <stdexcept>

#include "frontend/export_program.h"
#include "frontend/sym_expr.h"

namespace ingot::frontend {
namespace {

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s;
  for (int64_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s.empty() ? "(scalar)" : s;
}

bool bare_symbol(const std::string& s) { return !s.empty() && s.find('(') == std::string::npos; }

}  // namespace

Result<SymbolValues> symbol_values_for_shapes(const ExportedProgram& ep, const InputShapes& shapes) {
  // The user inputs' placeholders, under the names users see.
  std::vector<std::pair<std::string, const TensorMetaDef*>> inputs;
  size_t k = 0;
  for (const InputSpecDef& spec : ep.input_specs) {
    if (spec.kind != InputSpecDef::Kind::kUserInput) continue;
    const std::string name = k < ep.user_input_names.size() ? ep.user_input_names[k] : spec.arg_name;
    ++k;
    auto meta = ep.graph.tensor_values.find(spec.arg_name);
    inputs.emplace_back(name, meta == ep.graph.tensor_values.end() ? nullptr : &meta->second);
  }
  auto names = [&] {
    std::string s;
    for (const auto& [n, m] : inputs)
      if (m) s += (s.empty() ? "" : ", ") + n;
    return s;
  };

  SymbolValues values;  // the example's values first
  for (const auto& [name, meta] : inputs)
    if (meta)
      for (size_t d = 0; d < meta->sizes.size() && d < meta->size_symbols.size(); ++d)
        if (bare_symbol(meta->size_symbols[d]) && meta->sizes[d] >= 0) values.emplace(meta->size_symbols[d], meta->sizes[d]);

  std::map<std::string, std::string> set_by;  // symbol -> "dim 0 of 'x'", for conflicts
  std::vector<std::tuple<std::string, std::string, int64_t>> compound;  // (where, expression, size asked)
  for (const auto& [name, dims] : shapes) {
    const TensorMetaDef* meta = nullptr;
    for (const auto& [n, m] : inputs)
      if (n == name) meta = m;
    if (!meta) return invalid_argument("--input-shape " + name + ": the model has no tensor input '" + name +
                                       "' (its inputs: " + names() + ")");
    if (dims.size() != meta->sizes.size())
      return invalid_argument("--input-shape " + name + "=" + dims_text(dims) + ": '" + name + "' has " +
                              std::to_string(meta->sizes.size()) + " dims in the model (" + dims_text(meta->sizes) +
                              "), not " + std::to_string(dims.size()));
    for (size_t d = 0; d < dims.size(); ++d) {
      const std::string where = "dim " + std::to_string(d) + " of '" + name + "'";
      const std::string& sym = d < meta->size_symbols.size() ? meta->size_symbols[d] : std::string();
      if (dims[d] < 0) return invalid_argument("--input-shape " + name + ": " + where + " is negative");
      if (sym.empty()) {
        if (dims[d] != meta->sizes[d])
          return invalid_argument("--input-shape " + name + "=" + dims_text(dims) + ": " + where + " is static (" +
                                  std::to_string(meta->sizes[d]) + ") in the exported model, not " +
                                  std::to_string(dims[d]) + "; export it with a torch.export.Dim to vary it");
        continue;
      }
      if (!bare_symbol(sym)) {
        compound.emplace_back(where, sym, dims[d]);
        continue;
      }
      if (auto it = set_by.find(sym); it != set_by.end() && values[sym] != dims[d])
        return invalid_argument("--input-shape: " + where + " and " + it->second + " are the same dynamic dim (" + sym +
                                ") in the model, but are asked to be " + std::to_string(dims[d]) + " and " +
                                std::to_string(values[sym]));
      if (auto r = ep.range_constraints.find(sym); r != ep.range_constraints.end())
        if (dims[d] < r->second.min || dims[d] > r->second.max)
          return invalid_argument("--input-shape " + name + "=" + dims_text(dims) + ": " + where + " (" + sym +
                                  ") must be in [" + std::to_string(r->second.min) + ", " +
                                  (r->second.max >= INT64_MAX / 2 ? std::string("inf") : std::to_string(r->second.max)) +
                                  "] as exported, not " + std::to_string(dims[d]));
      values[sym] = dims[d];
      set_by.emplace(sym, where);
    }
  }
  for (const auto& [where, expr, asked] : compound) {
    int64_t v = 0;
    try {
      v = evaluate_sym_expr(expr, values);
    } catch (const std::runtime_error& e) {
      return invalid_argument(std::string("--input-shape: ") + where + ": " + e.what());
    }
    if (v != asked)
      return invalid_argument("--input-shape: " + where + " follows from the other dims as " + std::to_string(v) +
                              " (" + expr + "), not " + std::to_string(asked));
  }
  return values;
}

}  // namespace ingot::frontend
