// The ExportedProgram JSON (torch/_export/serde/schema.py, major 8) parsed into
// the structs of export_program.h. Written against the schema rules in
// reference/torch-export-format.md section 4: unions are one-key objects, enums
// are integers, non-finite floats are strings, unknown keys are ignored and
// missing keys take the dataclass default. Unknown union tags become
// Argument::Kind::kOther so that only nodes which really use them fail later.
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "frontend/pt2_internal.h"
#include "frontend/sym_expr.h"

namespace ingot::frontend::pt2 {

using nlohmann::json;

namespace {

// Thrown inside this file only, turned into a Status at the entry points.
struct SchemaError {
  std::string message;
};

[[noreturn]] void fail(std::string m) { throw SchemaError{std::move(m)}; }

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

int64_t as_int64(const json& j, const char* what) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail(std::string(what) + " overflows int64");
    return static_cast<int64_t>(u);
  }
  if (j.is_boolean()) return j.get<bool>() ? 1 : 0;
  fail(std::string(what) + " should be an integer");
}

double as_double(const json& j, const char* what) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "NaN" || s == "nan") return std::numeric_limits<double>::quiet_NaN();
  }
  if (j.is_boolean()) return j.get<bool>() ? 1.0 : 0.0;
  fail(std::string(what) + " should be a number");
}

std::string as_string(const json& j, const char* what) {
  if (j.is_string()) return j.get<std::string>();
  fail(std::string(what) + " should be a string");
}

bool as_bool(const json& j, const char* what) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>() != 0;
  fail(std::string(what) + " should be a boolean");
}

int64_t int_or(const json& j, const char* key, int64_t dflt) {
  const json* m = member(j, key);
  return m ? as_int64(*m, key) : dflt;
}
std::string string_or(const json& j, const char* key, std::string dflt = "") {
  const json* m = member(j, key);
  return m ? as_string(*m, key) : dflt;
}
bool bool_or(const json& j, const char* key, bool dflt) {
  const json* m = member(j, key);
  return m ? as_bool(*m, key) : dflt;
}

const json& array_of(const json& j, const char* what) {
  if (!j.is_array()) fail(std::string(what) + " should be a list");
  return j;
}

// A union value: the single key and its payload.
std::pair<std::string, const json*> union_tag(const json& j, const char* what) {
  if (!j.is_object() || j.empty()) fail(std::string(what) + " should be a one-key union object");
  // Tolerate extra null members (some writers emit every field); take the first non-null.
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!it->is_null()) return {it.key(), &*it};
  return {j.begin().key(), &*j.begin()};
}

// "Symbol('s77', positive=True, integer=True)" -> "s77"; a compound expression keeps its text.
std::string symbol_from_expr(const std::string& expr) {
  static const std::string kPrefix = "Symbol('";
  if (expr.rfind(kPrefix, 0) == 0) {
    size_t end = expr.find('\'', kPrefix.size());
    if (end != std::string::npos) {
      std::string name = expr.substr(kPrefix.size(), end - kPrefix.size());
      // Only a bare symbol: the closing parenthesis must end the expression.
      if (!expr.empty() && expr.back() == ')' && expr.find('(', kPrefix.size()) == std::string::npos) return name;
    }
  }
  return expr;
}

// Symbol values of a specialized parse (parse_exported_program_json's `symbols`):
// while set, every symbolic size is evaluated with them instead of taking its hint.
thread_local const SymbolValues* t_symbol_values = nullptr;

// A symbolic size the specialized parse cannot evaluate: not a damaged file, but a
// model whose sizes ingot cannot recompute for the shapes asked for.
struct SpecializeError {
  std::string message;
};

// The value of a SymExpr: evaluated when the parse specializes, else the hint (-1: none).
int64_t sym_expr_value(const json& v) {
  if (t_symbol_values) {
    const std::string expr = string_or(v, "expr_str");
    try {
      return evaluate_sym_expr(expr, *t_symbol_values);
    } catch (const std::runtime_error& e) {
      throw SpecializeError{e.what()};
    }
  }
  int64_t hint = -1;
  if (const json* h = member(v, "hint")) {
    auto [htag, hv] = union_tag(*h, "SymExprHint");
    if (htag == "as_int") hint = as_int64(*hv, "hint");
  }
  return hint;
}

// SymInt = union { as_expr: SymExpr, as_int: int }: returns (value or hint, symbol).
std::pair<int64_t, std::string> parse_sym_int(const json& j, const char* what) {
  auto [tag, v] = union_tag(j, what);
  if (tag == "as_int") return {as_int64(*v, what), ""};
  if (tag == "as_expr") {
    std::string expr = string_or(*v, "expr_str");
    return {sym_expr_value(*v), expr.empty() ? std::string("?") : symbol_from_expr(expr)};
  }
  fail(std::string(what) + ": unknown SymInt tag '" + tag + "'");
}

struct GraphContext {
  const std::map<std::string, Argument>* sym_ints = nullptr;
};

Argument parse_argument(const json& j, const GraphContext& ctx);
std::shared_ptr<GraphDef> parse_graph(const json& j);

std::string tensor_name(const json& j) {
  return string_or(j, "name");
}

int64_t sym_hint(const GraphContext& ctx, const std::string& name) {
  if (ctx.sym_ints) {
    auto it = ctx.sym_ints->find(name);
    if (it != ctx.sym_ints->end()) return it->second.i;
  }
  return -1;
}

Argument parse_argument(const json& j, const GraphContext& ctx) {
  Argument a;
  auto [tag, vp] = union_tag(j, "Argument");
  const json& v = *vp;
  using K = Argument::Kind;
  if (tag == "as_none") {
    a.kind = K::kNone;
  } else if (tag == "as_tensor") {
    a.kind = K::kTensor;
    a.name = tensor_name(v);
  } else if (tag == "as_tensors") {
    a.kind = K::kTensors;
    for (const json& t : array_of(v, "as_tensors")) a.names.push_back(tensor_name(t));
  } else if (tag == "as_optional_tensors" || tag == "as_optional_tensor") {
    auto one = [](const json& t) -> std::string {
      auto [ttag, tv] = union_tag(t, "OptionalTensorArgument");
      if (ttag == "as_tensor") return tensor_name(*tv);
      if (ttag == "as_none") return "";
      fail("OptionalTensorArgument: unknown tag '" + ttag + "'");
    };
    if (tag == "as_optional_tensor") {
      a.name = one(v);
      a.kind = a.name.empty() ? K::kNone : K::kTensor;
    } else {
      a.kind = K::kOptionalTensors;
      for (const json& t : array_of(v, "as_optional_tensors")) a.names.push_back(one(t));
    }
  } else if (tag == "as_int") {
    a.kind = K::kInt;
    a.i = as_int64(v, "as_int");
  } else if (tag == "as_ints") {
    a.kind = K::kInts;
    for (const json& x : array_of(v, "as_ints")) a.ints.push_back(as_int64(x, "as_ints"));
  } else if (tag == "as_float") {
    a.kind = K::kFloat;
    a.f = as_double(v, "as_float");
  } else if (tag == "as_floats") {
    a.kind = K::kFloats;
    for (const json& x : array_of(v, "as_floats")) a.floats.push_back(as_double(x, "as_floats"));
  } else if (tag == "as_bool") {
    a.kind = K::kBool;
    a.b = as_bool(v, "as_bool");
  } else if (tag == "as_bools") {
    a.kind = K::kBools;
    for (const json& x : array_of(v, "as_bools")) a.bools.push_back(as_bool(x, "as_bools"));
  } else if (tag == "as_string") {
    a.kind = K::kString;
    a.s = as_string(v, "as_string");
  } else if (tag == "as_strings") {
    a.kind = K::kStrings;
    for (const json& x : array_of(v, "as_strings")) a.strings.push_back(as_string(x, "as_strings"));
  } else if (tag == "as_scalar_type" || tag == "as_memory_format" || tag == "as_layout") {
    a.kind = tag == "as_scalar_type" ? K::kScalarType : tag == "as_memory_format" ? K::kMemoryFormat : K::kLayout;
    a.i = as_int64(v, tag.c_str());
  } else if (tag == "as_device") {
    a.kind = K::kDevice;
    a.s = string_or(v, "type");
    a.i = int_or(v, "index", -1);
  } else if (tag == "as_sym_int") {
    a.kind = K::kSymInt;
    auto [stag, sv] = union_tag(v, "SymIntArgument");
    if (stag == "as_name") {
      a.name = as_string(*sv, "as_name");
      a.i = sym_hint(ctx, a.name);
    } else if (stag == "as_int") {
      a.i = as_int64(*sv, "as_int");
    } else {
      fail("SymIntArgument: unknown tag '" + stag + "'");
    }
  } else if (tag == "as_sym_ints") {
    a.kind = K::kSymInts;
    for (const json& x : array_of(v, "as_sym_ints")) {
      auto [stag, sv] = union_tag(x, "SymIntArgument");
      if (stag == "as_name") {
        std::string n = as_string(*sv, "as_name");
        a.ints.push_back(sym_hint(ctx, n));
        a.names.push_back(n);
      } else if (stag == "as_int") {
        a.ints.push_back(as_int64(*sv, "as_int"));
        a.names.emplace_back();
      } else {
        fail("SymIntArgument: unknown tag '" + stag + "'");
      }
    }
  } else if (tag == "as_sym_float") {
    a.kind = K::kSymFloat;
    auto [stag, sv] = union_tag(v, "SymFloatArgument");
    if (stag == "as_name") a.name = as_string(*sv, "as_name");
    else if (stag == "as_float") a.f = as_double(*sv, "as_float");
    else fail("SymFloatArgument: unknown tag '" + stag + "'");
  } else if (tag == "as_sym_bool") {
    a.kind = K::kSymBool;
    auto [stag, sv] = union_tag(v, "SymBoolArgument");
    if (stag == "as_name") a.name = as_string(*sv, "as_name");
    else if (stag == "as_bool") a.b = as_bool(*sv, "as_bool");
    else fail("SymBoolArgument: unknown tag '" + stag + "'");
  } else if (tag == "as_graph") {
    a.kind = K::kGraph;
    a.name = string_or(v, "name");
    if (const json* g = member(v, "graph")) a.graph = parse_graph(*g);
    else fail("as_graph without a graph");
  } else {
    // as_custom_obj, as_operator, as_complex, as_nested_tensors, ... and future tags.
    a.kind = K::kOther;
    a.s = tag;
    if (tag == "as_operator" && v.is_string()) a.name = v.get<std::string>();
    if (tag == "as_custom_obj") a.name = string_or(v, "name");
  }
  return a;
}

TensorMetaDef parse_tensor_meta(const json& j) {
  TensorMetaDef m;
  m.scalar_type = int_or(j, "dtype", 0);
  m.dtype = dtype_from_scalar_type(m.scalar_type);
  if (const json* sizes = member(j, "sizes")) {
    for (const json& s : array_of(*sizes, "sizes")) {
      auto [value, symbol] = parse_sym_int(s, "tensor size");
      m.sizes.push_back(value);
      m.size_symbols.push_back(symbol);
    }
  }
  return m;
}

NodeDef parse_node(const json& j, const GraphContext& ctx) {
  NodeDef n;
  n.target = string_or(j, "target");
  if (const json* inputs = member(j, "inputs")) {
    for (const json& in : array_of(*inputs, "node inputs")) {
      NamedArg na;
      na.name = string_or(in, "name");
      const json* arg = member(in, "arg");
      if (!arg) fail("node '" + n.target + "' has an input without 'arg'");
      na.arg = parse_argument(*arg, ctx);
      n.inputs.push_back(std::move(na));
    }
  }
  if (const json* outputs = member(j, "outputs"))
    for (const json& out : array_of(*outputs, "node outputs")) n.outputs.push_back(parse_argument(out, ctx));
  if (const json* md = member(j, "metadata")) {
    if (md->is_object())
      for (auto it = md->begin(); it != md->end(); ++it)
        if (it->is_string()) n.metadata[it.key()] = it->get<std::string>();
  }
  n.name = string_or(j, "name");
  if (n.name.empty()) {
    // Files before 2.11 have no node name; the FX name is the single output's name,
    // or the prefix of an "<node>_unused_<i>" tuple element.
    for (const Argument& o : n.outputs) {
      size_t pos = o.name.rfind("_unused_");
      if (o.kind == Argument::Kind::kTensor && pos != std::string::npos && pos > 0) {
        n.name = o.name.substr(0, pos);
        break;
      }
    }
    if (n.name.empty() && !n.outputs.empty()) {
      const Argument& o = n.outputs.front();
      if (!o.name.empty()) n.name = o.name;
      else if (!o.names.empty()) n.name = o.names.front();
    }
  }
  return n;
}

std::shared_ptr<GraphDef> parse_graph(const json& j) {
  auto g = std::make_shared<GraphDef>();
  if (const json* syms = member(j, "sym_int_values")) {
    if (syms->is_object()) {
      for (auto it = syms->begin(); it != syms->end(); ++it) {
        Argument a;
        a.kind = Argument::Kind::kSymInt;
        auto [tag, v] = union_tag(*it, "SymInt");
        if (tag == "as_int") {
          a.i = as_int64(*v, "as_int");
        } else if (tag == "as_expr") {
          a.s = string_or(*v, "expr_str");
          a.i = sym_expr_value(*v);
        }
        g->sym_int_values[it.key()] = std::move(a);
      }
    }
  }
  GraphContext ctx{&g->sym_int_values};
  if (const json* tv = member(j, "tensor_values")) {
    if (!tv->is_object()) fail("tensor_values should be an object");
    for (auto it = tv->begin(); it != tv->end(); ++it) {
      try {
        g->tensor_values[it.key()] = parse_tensor_meta(*it);
      } catch (const SchemaError& e) {
        fail("tensor_values['" + it.key() + "']: " + e.message);
      }
    }
  }
  if (const json* inputs = member(j, "inputs"))
    for (const json& a : array_of(*inputs, "graph inputs")) g->inputs.push_back(parse_argument(a, ctx));
  if (const json* outputs = member(j, "outputs"))
    for (const json& a : array_of(*outputs, "graph outputs")) g->outputs.push_back(parse_argument(a, ctx));
  if (const json* nodes = member(j, "nodes"))
    for (const json& n : array_of(*nodes, "graph nodes")) {
      try {
        g->nodes.push_back(parse_node(n, ctx));
      } catch (const SchemaError& e) {
        std::string what = n.is_object() && n.contains("target") && n["target"].is_string()
                               ? n["target"].get<std::string>()
                               : std::string("?");
        fail("node " + std::to_string(g->nodes.size()) + " (" + what + "): " + e.message);
      }
    }
  // Nodes with no outputs and no recorded name (_assert_tensor_metadata in files
  // before 2.11) get FX-style names so that messages can point at them.
  std::map<std::string, int> seen;
  for (NodeDef& n : g->nodes) {
    if (!n.name.empty()) continue;
    std::string base = n.target;
    if (base.rfind("torch.ops.", 0) == 0) base = base.substr(10);
    if (size_t dot = base.find('.'); dot != std::string::npos) base = base.substr(dot + 1);  // drop namespace
    for (char& c : base)
      if (c == '.') c = '_';
    int k = seen[base]++;
    n.name = k == 0 ? base : base + "_" + std::to_string(k);
  }
  return g;
}

InputSpecDef parse_input_spec(const json& j, const GraphContext& ctx) {
  InputSpecDef s;
  auto [tag, vp] = union_tag(j, "InputSpec");
  const json& v = *vp;
  using K = InputSpecDef::Kind;
  auto placeholder = [&](const char* key) {
    if (const json* arg = member(v, key)) return tensor_name(*arg);
    return std::string();
  };
  if (tag == "user_input") {
    s.kind = K::kUserInput;
    if (const json* arg = member(v, "arg")) {
      s.value = parse_argument(*arg, ctx);
      s.arg_name = s.value.name;
    }
  } else if (tag == "parameter") {
    s.kind = K::kParameter;
    s.arg_name = placeholder("arg");
    s.target = string_or(v, "parameter_name");
  } else if (tag == "buffer") {
    s.kind = K::kBuffer;
    s.arg_name = placeholder("arg");
    s.target = string_or(v, "buffer_name");
    s.persistent = bool_or(v, "persistent", true);
  } else if (tag == "tensor_constant") {
    s.kind = K::kTensorConstant;
    s.arg_name = placeholder("arg");
    s.target = string_or(v, "tensor_constant_name");
  } else if (tag == "custom_obj") {
    s.kind = K::kCustomObj;
    s.arg_name = placeholder("arg");
    s.target = string_or(v, "custom_obj_name");
  } else if (tag == "constant_input") {
    s.kind = K::kConstantInput;
    s.arg_name = string_or(v, "name");
    if (const json* value = member(v, "value")) s.value = parse_argument(*value, ctx);  // same tags as Argument
  } else if (tag == "token") {
    s.kind = K::kToken;
    s.arg_name = placeholder("arg");
  } else {
    fail("unknown input spec kind '" + tag + "'");
  }
  return s;
}

OutputSpecDef parse_output_spec(const json& j, const GraphContext& ctx) {
  OutputSpecDef s;
  auto [tag, vp] = union_tag(j, "OutputSpec");
  const json& v = *vp;
  using K = OutputSpecDef::Kind;
  static const std::map<std::string, std::pair<K, const char*>> kinds = {
      {"user_output", {K::kUserOutput, ""}},
      {"loss_output", {K::kLossOutput, ""}},
      {"buffer_mutation", {K::kBufferMutation, "buffer_name"}},
      {"gradient_to_parameter", {K::kGradientToParameter, "parameter_name"}},
      {"gradient_to_user_input", {K::kGradientToUserInput, "user_input_name"}},
      {"user_input_mutation", {K::kUserInputMutation, "user_input_name"}},
      {"token", {K::kToken, ""}},
      {"parameter_mutation", {K::kParameterMutation, "parameter_name"}},
  };
  auto it = kinds.find(tag);
  if (it == kinds.end()) fail("unknown output spec kind '" + tag + "'");
  s.kind = it->second.first;
  if (*it->second.second) s.target = string_or(v, it->second.second);
  if (const json* arg = member(v, "arg")) {
    if (s.kind == K::kUserOutput) {
      s.arg = parse_argument(*arg, ctx);
    } else {
      s.arg.kind = Argument::Kind::kTensor;  // TensorArgument / TokenArgument {name}
      s.arg.name = tensor_name(*arg);
    }
  }
  return s;
}

// Names from a pytree treespec_dumps string whose root is a dict/namedtuple/dataclass
// with one leaf per name, e.g. HF's ModelOutput context ["last_hidden_state", ...].
std::vector<std::string> leaf_names_from_spec(const std::string& spec_text) {
  json spec = json::parse(spec_text, nullptr, false);
  if (!spec.is_array() || spec.size() != 2 || !spec[1].is_object()) return {};
  const json& root = spec[1];
  const json* ctx_text = member(root, "context");
  const json* children = member(root, "children_spec");
  if (!ctx_text || !ctx_text->is_string() || !children || !children->is_array()) return {};
  json names = json::parse(ctx_text->get<std::string>(), nullptr, false);
  if (!names.is_array() || names.size() != children->size()) return {};
  std::vector<std::string> out;
  for (size_t i = 0; i < names.size(); ++i) {
    const json* grandchildren = member((*children)[i], "children_spec");
    if (!names[i].is_string() || (grandchildren && grandchildren->is_array() && !grandchildren->empty())) return {};
    out.push_back(names[i].get<std::string>());
  }
  return out;
}

}  // namespace

Status parse_exported_program_json(const std::string& text, ExportedProgram& ep, const SymbolValues* symbols) {
  struct Bind {  // t_symbol_values for this parse only, also when it throws
    explicit Bind(const SymbolValues* s) : saved(t_symbol_values) { t_symbol_values = s; }
    ~Bind() { t_symbol_values = saved; }
    const SymbolValues* saved;
  } bind(symbols);
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded()) return corrupt("the model JSON is not valid JSON (damaged file)");
  if (!root.is_object()) return corrupt("the model JSON is not an object");
  try {
    if (const json* sv = member(root, "schema_version")) {
      ep.schema_major = static_cast<int>(int_or(*sv, "major", 0));
      ep.schema_minor = static_cast<int>(int_or(*sv, "minor", 0));
    }
    if (ep.schema_major != 8)
      return unsupported("export schema version " + std::to_string(ep.schema_major) + "." +
                         std::to_string(ep.schema_minor) + " is not supported (ingot reads schema 8.x, written by "
                         "PyTorch 2.9 and later); load it with the PyTorch that wrote it and re-save it with "
                         "torch.export.save from PyTorch 2.9+");
    ep.torch_version = string_or(root, "torch_version");
    if (const json* ver = member(root, "verifiers"))
      for (const json& v : array_of(*ver, "verifiers"))
        if (v.is_string()) ep.verifiers.push_back(v.get<std::string>());
    if (const json* rc = member(root, "range_constraints")) {
      if (rc->is_object())
        for (auto it = rc->begin(); it != rc->end(); ++it) {
          SymbolRange r;
          r.min = int_or(*it, "min_val", 0);
          r.max = int_or(*it, "max_val", INT64_MAX);
          ep.range_constraints[it.key()] = r;
        }
    }
    const json* gm = member(root, "graph_module");
    if (!gm) return corrupt("the model JSON has no graph_module");
    const json* graph = member(*gm, "graph");
    if (!graph) return corrupt("the model JSON has no graph");
    ep.graph = std::move(*parse_graph(*graph));
    GraphContext ctx{&ep.graph.sym_int_values};
    if (const json* sig = member(*gm, "signature")) {
      if (const json* ins = member(*sig, "input_specs"))
        for (const json& s : array_of(*ins, "input_specs")) ep.input_specs.push_back(parse_input_spec(s, ctx));
      if (const json* outs = member(*sig, "output_specs"))
        for (const json& s : array_of(*outs, "output_specs")) ep.output_specs.push_back(parse_output_spec(s, ctx));
    } else {
      return corrupt("the model JSON has no graph signature");
    }

    // User input names: the placeholders of user_input specs are named after the
    // forward() arguments (x, input_ids, ...); forward_arg_names confirms them
    // when the counts agree and every input is a tensor.
    for (const InputSpecDef& s : ep.input_specs)
      if (s.kind == InputSpecDef::Kind::kUserInput) ep.user_input_names.push_back(s.arg_name);
    if (const json* mcg = member(*gm, "module_call_graph")) {
      if (mcg->is_array())
        for (const json& entry : *mcg) {
          if (string_or(entry, "fqn") != "") continue;
          const json* sig = member(entry, "signature");
          if (!sig) break;
          if (const json* out_spec = member(*sig, "out_spec"); out_spec && out_spec->is_string())
            ep.user_output_names = leaf_names_from_spec(out_spec->get<std::string>());
          break;
        }
    }
  } catch (const SpecializeError& e) {
    return unsupported("--input-shape: " + e.message +
                       "; this model's sizes cannot be recomputed for the shapes asked for (without --input-shape "
                       "it builds at the example inputs' sizes)");
  } catch (const SchemaError& e) {
    return corrupt("the model JSON does not follow the export schema: " + e.message);
  } catch (const std::exception& e) {
    return corrupt(std::string("the model JSON does not follow the export schema: ") + e.what());
  }
  return Status::ok_status();
}

Result<std::map<std::string, PayloadEntry>> parse_payload_config(const std::string& text) {
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return corrupt("not valid JSON");
  std::map<std::string, PayloadEntry> out;
  try {
    const json* config = member(root, "config");
    if (!config) return out;
    if (!config->is_object()) return corrupt("'config' should be an object");
    for (auto it = config->begin(); it != config->end(); ++it) {
      PayloadEntry e;
      e.path_name = string_or(*it, "path_name");
      e.is_param = bool_or(*it, "is_param", false);
      e.use_pickle = bool_or(*it, "use_pickle", false);
      if (const json* tm = member(*it, "tensor_meta")) {
        e.has_meta = true;
        e.scalar_type = int_or(*tm, "dtype", 0);
        auto ints = [&](const char* key, std::vector<int64_t>& dst) {
          if (const json* list = member(*tm, key))
            for (const json& s : array_of(*list, key)) {
              auto [value, symbol] = parse_sym_int(s, key);
              if (!symbol.empty()) fail(std::string(key) + " of '" + it.key() + "' is symbolic");
              dst.push_back(value);
            }
        };
        ints("sizes", e.sizes);
        ints("strides", e.strides);
        if (const json* off = member(*tm, "storage_offset")) {
          auto [value, symbol] = parse_sym_int(*off, "storage_offset");
          if (!symbol.empty()) fail("storage_offset of '" + it.key() + "' is symbolic");
          e.storage_offset = value;
        }
      }
      out[it.key()] = std::move(e);
    }
  } catch (const SchemaError& e) {
    return corrupt(e.message);
  } catch (const std::exception& e) {
    return corrupt(e.what());
  }
  return out;
}

std::optional<DType> dtype_from_scalar_type(int64_t st) {
  switch (st) {
    case 1: return DType::kUInt8;
    case 2: return DType::kInt8;
    case 3: return DType::kInt16;
    case 4: return DType::kInt32;
    case 5: return DType::kInt64;
    case 6: return DType::kFloat16;
    case 7: return DType::kFloat32;
    case 8: return DType::kFloat64;
    case 12: return DType::kBool;
    case 13: return DType::kBFloat16;
    default: return std::nullopt;
  }
}

size_t scalar_type_size(int64_t st) {
  switch (st) {
    case 1: case 2: case 12: case 29: case 30: case 31: case 32: return 1;
    case 3: case 6: case 13: case 28: return 2;
    case 4: case 9: return 4;
    case 5: case 8: case 10: return 8;
    case 7: return 4;
    case 11: return 16;
    default: return 0;
  }
}

const char* scalar_type_name(int64_t st) {
  switch (st) {
    case 1: return "uint8"; case 2: return "int8"; case 3: return "int16"; case 4: return "int32";
    case 5: return "int64"; case 6: return "float16"; case 7: return "float32"; case 8: return "float64";
    case 9: return "complex32"; case 10: return "complex64"; case 11: return "complex128";
    case 12: return "bool"; case 13: return "bfloat16"; case 28: return "uint16";
    case 29: return "float8_e4m3fn"; case 30: return "float8_e5m2"; case 31: return "float8_e4m3fnuz";
    case 32: return "float8_e5m2fnuz";
    default: return "unknown";
  }
}

}  // namespace ingot::frontend::pt2
