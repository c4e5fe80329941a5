// Evaluates the symbolic sizes a .pt2 records (sympy `srepr` text such as
// "Mul(Integer(196), Symbol('s77', positive=True, integer=True))") for given
// symbol values. This is what lets `ingot convert --input-shape` build an engine
// from a model exported with dynamic dims (torch.export.Dim) at a size other than
// the example's: every size and SymInt of the graph is re-evaluated, instead of
// taking the hint torch.export recorded from the example inputs.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ingot::frontend {

using SymbolValues = std::map<std::string, int64_t>;

// The integer value of `srepr_text` with `values` bound to its symbols. Throws
// std::runtime_error naming the expression for an unknown function or symbol, a
// division by zero or a non-integer result.
int64_t evaluate_sym_expr(const std::string& srepr_text, const SymbolValues& values);

}  // namespace ingot::frontend
