// Lookup over the generated ATen schema defaults table (schema_defaults.inc).
// The table is turned into typed Arguments once, on first use.
#include "frontend/schema_defaults.h"

#include <cstdlib>
#include <functional>
#include <map>
#include <string>

namespace ingot::frontend {

namespace {

struct Tables {
  std::map<std::string, std::vector<std::string>, std::less<>> arg_names;
  std::map<std::string, std::map<std::string, Argument, std::less<>>, std::less<>> defaults;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size() && !s.empty()) {
    size_t comma = s.find(',', pos);
    out.push_back(s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

Argument typed(char kind, const std::string& value) {
  using K = Argument::Kind;
  Argument a;
  switch (kind) {
    case 'N': a.kind = K::kNone; break;
    case 'b': a.kind = K::kBool; a.b = value == "1"; break;
    case 'i': a.kind = K::kInt; a.i = std::strtoll(value.c_str(), nullptr, 10); break;
    case 'f': a.kind = K::kFloat; a.f = std::strtod(value.c_str(), nullptr); break;
    case 's': a.kind = K::kString; a.s = value; break;
    case 'I':
      a.kind = K::kInts;
      for (const std::string& v : split(value)) a.ints.push_back(std::strtoll(v.c_str(), nullptr, 10));
      break;
    case 'F':
      a.kind = K::kFloats;
      for (const std::string& v : split(value)) a.floats.push_back(std::strtod(v.c_str(), nullptr));
      break;
    case 'B':
      a.kind = K::kBools;
      for (const std::string& v : split(value)) a.bools.push_back(v == "1");
      break;
    case 't': a.kind = K::kScalarType; a.i = std::strtoll(value.c_str(), nullptr, 10); break;
    case 'm': a.kind = K::kMemoryFormat; a.i = std::strtoll(value.c_str(), nullptr, 10); break;
    case 'l': a.kind = K::kLayout; a.i = std::strtoll(value.c_str(), nullptr, 10); break;
    default: a.kind = K::kOther; a.s = value; break;
  }
  return a;
}

// The generated rows as plain data (fast to compile), indexed on first use.
struct OverloadRow { const char* target; const char* names; };
struct DefaultRow { const char* target; const char* name; int position; char kind; const char* value; };

constexpr OverloadRow kOverloadRows[] = {
#define INGOT_SCHEMA_OVERLOAD(target, names) {target, names},
#define INGOT_SCHEMA_DEFAULT(target, name, position, kind, value)
#include "frontend/schema_defaults.inc"
#undef INGOT_SCHEMA_OVERLOAD
#undef INGOT_SCHEMA_DEFAULT
};
constexpr DefaultRow kDefaultRows[] = {
#define INGOT_SCHEMA_OVERLOAD(target, names)
#define INGOT_SCHEMA_DEFAULT(target, name, position, kind, value) {target, name, position, kind, value},
#include "frontend/schema_defaults.inc"
#undef INGOT_SCHEMA_OVERLOAD
#undef INGOT_SCHEMA_DEFAULT
};

const Tables& tables() {
  static const Tables t = [] {
    Tables t;
    for (const OverloadRow& r : kOverloadRows) t.arg_names[r.target] = split(r.names);
    for (const DefaultRow& r : kDefaultRows) t.defaults[r.target][r.name] = typed(r.kind, r.value);
    return t;
  }();
  return t;
}

}  // namespace

const Argument* schema_default(std::string_view target, std::string_view arg_name) {
  const Tables& t = tables();
  auto it = t.defaults.find(target);
  if (it == t.defaults.end()) return nullptr;
  auto a = it->second.find(arg_name);
  return a == it->second.end() ? nullptr : &a->second;
}

const std::vector<std::string>* schema_arg_names(std::string_view target) {
  const Tables& t = tables();
  auto it = t.arg_names.find(target);
  return it == t.arg_names.end() ? nullptr : &it->second;
}

}  // namespace ingot::frontend
