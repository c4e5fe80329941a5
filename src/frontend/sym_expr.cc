// sympy srepr evaluation for symbolic sizes (see sym_expr.h). srepr is uniform
// call syntax, `Name(arg, ..., key=value)`, with numbers and quoted strings as
// leaves, so a small recursive-descent reader suffices. Values are computed in
// long double (exact for the integer sizes and small rationals shapes use) and
// the result must be an integer.
#include "frontend/sym_expr.h"

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace ingot::frontend {
namespace {

using Num = long double;

class Reader {
 public:
  Reader(const std::string& text, const SymbolValues& values) : text_(text), values_(values) {}

  Num evaluate() {
    Num v = expr();
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text at offset " + std::to_string(pos_));
    return v;
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("cannot evaluate the symbolic size '" + text_ + "': " + why);
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string identifier() {
    skip_space();
    size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  std::string quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a quoted string");
    const char q = text_[pos_++];
    size_t end = text_.find(q, pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  Num number() {
    skip_space();
    size_t start = pos_;
    if (pos_ < text_.size() && (text_[pos_] == '-' || text_[pos_] == '+')) ++pos_;
    while (pos_ < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
                                   text_[pos_] == 'e' || text_[pos_] == 'E'))
      ++pos_;
    if (start == pos_) fail("expected a number at offset " + std::to_string(pos_));
    return std::stold(text_.substr(start, pos_ - start));
  }

  // A call's positional arguments; keyword arguments (positive=True, precision=53) are skipped.
  struct Call {
    std::vector<Num> args;
    std::vector<std::string> strings;  // quoted positional arguments (Symbol's name, Float's digits)
  };
  Call arguments() {
    Call c;
    if (!eat('(')) fail("expected '('");
    if (eat(')')) return c;
    do {
      skip_space();
      if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
        c.strings.push_back(quoted());
        continue;
      }
      const size_t save = pos_;
      const std::string name = identifier();
      if (!name.empty() && eat('=')) {  // keyword: skip its value
        skip_space();
        if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) quoted();
        else if (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-') number();
        else identifier();
        continue;
      }
      pos_ = save;
      c.args.push_back(expr());
    } while (eat(','));
    if (!eat(')')) fail("expected ')' at offset " + std::to_string(pos_));
    return c;
  }

  Num expr() {
    skip_space();
    if (pos_ < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-'))
      return number();
    const std::string f = identifier();
    if (f.empty()) fail("expected a function or number at offset " + std::to_string(pos_));
    if (f == "True") return 1;
    if (f == "False") return 0;
    const Call c = arguments();
    auto need = [&](size_t n) {
      if (c.args.size() != n) fail(f + " takes " + std::to_string(n) + " arguments");
    };
    auto need_nonzero = [&](Num d) {
      if (d == 0) fail("division by zero in " + f);
      return d;
    };
    if (f == "Symbol") {
      if (c.strings.empty()) fail("Symbol without a name");
      auto it = values_.find(c.strings[0]);
      if (it == values_.end()) fail("the symbol '" + c.strings[0] + "' has no value");
      return static_cast<Num>(it->second);
    }
    if (f == "Integer") return c.strings.empty() ? (need(1), c.args[0]) : std::stold(c.strings[0]);
    if (f == "Float") return c.strings.empty() ? (need(1), c.args[0]) : std::stold(c.strings[0]);
    if (f == "Rational") return need(2), c.args[0] / need_nonzero(c.args[1]);
    if (f == "Zero") return 0;
    if (f == "One") return 1;
    if (f == "NegativeOne") return -1;
    if (f == "Half") return 0.5L;
    if (f == "Add") {
      Num s = 0;
      for (Num a : c.args) s += a;
      return s;
    }
    if (f == "Mul") {
      Num p = 1;
      for (Num a : c.args) p *= a;
      return p;
    }
    if (f == "Pow") {
      need(2);
      if (c.args[0] == 0 && c.args[1] < 0) fail("division by zero in Pow");
      return std::pow(c.args[0], c.args[1]);
    }
    if (f == "Max" || f == "Min") {
      if (c.args.empty()) fail(f + " without arguments");
      Num m = c.args[0];
      for (Num a : c.args) m = f == "Max" ? std::max(m, a) : std::min(m, a);
      return m;
    }
    if (f == "FloorDiv") return need(2), std::floor(c.args[0] / need_nonzero(c.args[1]));
    if (f == "CeilDiv") return need(2), std::ceil(c.args[0] / need_nonzero(c.args[1]));
    if (f == "CleanDiv" || f == "IntTrueDiv" || f == "FloatTrueDiv" || f == "TruncDiv")
      return need(2), f == "TruncDiv" ? std::trunc(c.args[0] / need_nonzero(c.args[1]))
                                      : c.args[0] / need_nonzero(c.args[1]);
    if (f == "Mod" || f == "PythonMod") {
      need(2);
      const Num b = need_nonzero(c.args[1]);
      return c.args[0] - b * std::floor(c.args[0] / b);
    }
    if (f == "floor" || f == "FloorToInt") return need(1), std::floor(c.args[0]);
    if (f == "ceiling" || f == "CeilToInt") return need(1), std::ceil(c.args[0]);
    if (f == "TruncToInt" || f == "TruncToFloat") return need(1), std::trunc(c.args[0]);
    if (f == "RoundToInt") return need(1), std::nearbyint(c.args[0]);
    if (f == "Abs") return need(1), std::fabs(c.args[0]);
    if (f == "ToFloat" || f == "Identity") return need(1), c.args[0];
    fail("unknown function '" + f + "'");
  }

  const std::string& text_;
  const SymbolValues& values_;
  size_t pos_ = 0;
};

}  // namespace

int64_t evaluate_sym_expr(const std::string& srepr_text, const SymbolValues& values) {
  Reader r(srepr_text, values);
  const Num v = r.evaluate();
  const Num rounded = std::nearbyint(v);
  if (!std::isfinite(v) || std::fabs(v - rounded) > 1e-9L) r.fail("the value is not an integer");
  if (std::fabs(rounded) > 9.0e18L) r.fail("the value is out of range");
  return static_cast<int64_t>(rounded);
}

}  // namespace ingot::frontend
