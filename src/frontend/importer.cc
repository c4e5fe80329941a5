// import_program: weights become graph constants, user inputs become graph
// inputs, each node goes through its converter, and user outputs become graph
// outputs. Problems are collected (per target and reason, with the first node's
// source line) instead of stopping, because `ingot check` must list them all.
// The grad-mode and autocast wrapper higher-order ops are inlined: their
// subgraphs are plain aten graphs.
#include "frontend/importer.h"

#include <exception>
#include <map>
#include <utility>

#include "frontend/convert_context.h"
#include "frontend/pt2_internal.h"

namespace ingot::frontend {

namespace {

using K = Argument::Kind;

void collect_uses(const Argument& a, std::set<std::string>& used) {
  switch (a.kind) {
    case K::kTensor: case K::kSymInt: case K::kSymFloat: case K::kSymBool:
      if (!a.name.empty()) used.insert(a.name);
      break;
    case K::kTensors: case K::kOptionalTensors: case K::kSymInts:
      for (const std::string& n : a.names)
        if (!n.empty()) used.insert(n);
      break;
    default: break;
  }
}

std::set<std::string> used_names(const GraphDef& g) {
  std::set<std::string> used;
  for (const NodeDef& n : g.nodes)
    for (const NamedArg& in : n.inputs) collect_uses(in.arg, used);
  for (const Argument& out : g.outputs) collect_uses(out, used);
  return used;
}

bool is_inlined_hop(const std::string& target) {
  return target == "higher_order.wrap_with_set_grad_enabled" || target == "higher_order.wrap_with_autocast";
}

class Importer {
 public:
  Importer(const ExportedProgram& ep, const ConverterTable& table) : ep_(ep), table_(table) {}

  Result<ImportResult> run() {
    report_.model_file = ep_.file_name;
    ImportScope top;
    top.graph_def = &ep_.graph;
    top.used = used_names(ep_.graph);
    INGOT_RETURN_IF_ERROR(bind_inputs(top));
    INGOT_RETURN_IF_ERROR(convert_nodes(top, ep_.graph.nodes));
    INGOT_RETURN_IF_ERROR(bind_outputs(top));
    state_.graph.symbols = ep_.range_constraints;
    ImportResult result;
    result.graph = std::move(state_.graph);
    result.report = std::move(report_);
    return result;
  }

 private:
  // ------------------------------------------------------------------ reporting
  void record(const std::string& target, const std::string& node_name, const std::string& location,
              const std::string& code, const std::string& reason) {
    auto key = std::make_pair(target, reason);
    auto it = unsupported_index_.find(key);
    if (it != unsupported_index_.end()) {
      ++report_.unsupported[it->second].count;
      return;
    }
    unsupported_index_[key] = report_.unsupported.size();
    report_.unsupported.push_back(UnsupportedOp{target, node_name, location, code, reason, 1});
  }

  void record_node(const NodeDef& node, const std::string& reason) {
    auto [location, code] = user_source_location(node);
    record(strip_torch_ops(node.target), node.name, location, code, reason);
  }

  // A stand-in for an output that no converter produced, shaped as the export
  // recorded it, so that later nodes can still be converted and checked.
  ValueId placeholder(const ImportScope& scope, const std::string& name) {
    Value v;
    v.name = name;
    auto it = scope.graph_def->tensor_values.find(name);
    if (it != scope.graph_def->tensor_values.end()) {
      v.dtype = it->second.dtype.value_or(DType::kFloat32);
      for (int64_t d : it->second.sizes) v.shape.push_back(d < 0 ? 1 : d);
    }
    return state_.graph.add_value(std::move(v));
  }

  // ------------------------------------------------------------------ inputs
  Status bind_inputs(ImportScope& scope) {
    size_t user_index = 0;
    for (const InputSpecDef& spec : ep_.input_specs) {
      switch (spec.kind) {
        case InputSpecDef::Kind::kParameter:
        case InputSpecDef::Kind::kBuffer:
        case InputSpecDef::Kind::kTensorConstant: {
          auto w = ep_.weights.find(spec.target);
          if (w == ep_.weights.end())
            return internal_error("weight '" + spec.target + "' (placeholder '" + spec.arg_name +
                                  "') was not loaded by the reader");
          const TensorData& t = w->second;
          scope.values[spec.arg_name] = state_.graph.add_constant(spec.target, t.dtype, t.shape, t.bytes);
          break;
        }
        case InputSpecDef::Kind::kUserInput: {
          std::string name = user_index < ep_.user_input_names.size() ? ep_.user_input_names[user_index]
                                                                      : spec.arg_name;
          ++user_index;
          if (spec.value.kind != K::kTensor) {
            if (spec.value.kind != K::kNone)
              record("graph input", spec.arg_name, "", "",
                     std::string("user input '") + name + "' is " + argument_kind_name(spec.value.kind) +
                         ", not a tensor; only tensor inputs are supported (pass other values as constants)");
            break;
          }
          Value v;
          v.name = name;
          auto meta = ep_.graph.tensor_values.find(spec.arg_name);
          if (meta == ep_.graph.tensor_values.end())
            return corrupt("user input '" + spec.arg_name + "' has no tensor metadata in the graph");
          if (!meta->second.dtype)
            record("graph input", spec.arg_name, "", "",
                   std::string("user input '") + name + "' has dtype " +
                       pt2::scalar_type_name(meta->second.scalar_type) + ", which ingot does not support");
          v.dtype = meta->second.dtype.value_or(DType::kFloat32);
          v.shape = meta->second.sizes;
          for (int64_t& d : v.shape)
            if (d < 0) d = 1;  // a symbolic size without an example value
          for (const std::string& s : meta->second.size_symbols)
            if (!s.empty()) v.dim_symbols = meta->second.size_symbols;
          ValueId id = state_.graph.add_value(std::move(v));
          state_.graph.inputs.push_back(id);
          scope.values[spec.arg_name] = id;
          break;
        }
        case InputSpecDef::Kind::kConstantInput:
          break;  // a non-tensor input fixed at export time: nodes already hold its value
        case InputSpecDef::Kind::kCustomObj:
          record("graph input", spec.arg_name, "", "",
                 "custom object input '" + spec.target + "' (a TorchBind object) is not supported");
          break;
        case InputSpecDef::Kind::kToken:
          record("graph input", spec.arg_name, "", "", "side-effect token inputs are not supported");
          break;
      }
    }
    return Status::ok_status();
  }

  // ------------------------------------------------------------------ nodes
  Status convert_nodes(ImportScope& scope, const std::vector<NodeDef>& nodes) {
    for (const NodeDef& node : nodes) INGOT_RETURN_IF_ERROR(convert_node(scope, node));
    return Status::ok_status();
  }

  Status convert_node(ImportScope& scope, const NodeDef& node) {
    const std::string target = strip_torch_ops(node.target);
    ++report_.num_nodes;
    ++report_.op_counts[target];
    if (is_inlined_hop(target)) return inline_hop(scope, node, target);

    NodeConvertContext ctx(state_, scope, node);
    const ConverterFn* fn = table_.find(target);
    if (!fn) {
      // Shape arithmetic on SymInts (_operator.mul, ...) needs no IR: shapes are
      // concrete and consumers read the example values.
      bool all_symbolic = !node.outputs.empty();
      for (const Argument& o : node.outputs)
        all_symbolic &= o.kind == K::kSymInt || o.kind == K::kSymFloat || o.kind == K::kSymBool;
      if (all_symbolic) return Status::ok_status();
      record_node(node, "no converter");
      stand_in_for_outputs(scope, ctx);
      return Status::ok_status();
    }

    Status st;
    try {
      st = (*fn)(ctx);
    } catch (const std::exception& e) {
      st = internal_error(ctx.describe() + ": the converter failed: " + e.what());
    }
    if (st.ok() && !ctx.deferred_status().ok()) st = ctx.deferred_status();
    if (st.ok()) {
      for (size_t i = 0; i < ctx.num_outputs(); ++i)
        if (ctx.output_slots()[i].is_tensor && ctx.output_used(i) && !ctx.output_bound(i)) {
          st = internal_error(ctx.describe() + ": the converter did not bind output " + std::to_string(i) + " ('" +
                              ctx.output_slots()[i].name + "')");
          break;
        }
    }
    if (!st.ok()) {
      // The report shows the node separately, so keep only the converter's own words.
      std::string reason = st.message();
      const std::string prefix = ctx.describe() + ": ";
      if (reason.rfind(prefix, 0) == 0) reason = reason.substr(prefix.size());
      if (st.code() == StatusCode::kInternal) reason = "internal error (a bug in ingot): " + reason;
      record_node(node, reason);
      stand_in_for_outputs(scope, ctx);
    }
    return Status::ok_status();
  }

  void stand_in_for_outputs(ImportScope& scope, const NodeConvertContext& ctx) {
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      const auto& slot = ctx.output_slots()[i];
      if (slot.is_tensor && !slot.name.empty() && !ctx.output_bound(i))
        scope.values[slot.name] = placeholder(scope, slot.name);
    }
  }

  // wrap_with_set_grad_enabled(enable, graph, *operands) and
  // wrap_with_autocast(device, dtype, enabled, cache, graph, *operands): the
  // operands follow the subgraph argument and map to its inputs in order.
  Status inline_hop(ImportScope& outer, const NodeDef& node, const std::string& target) {
    const GraphDef* sub = nullptr;
    std::vector<std::string> operands;
    for (const NamedArg& in : node.inputs) {
      if (in.arg.kind == K::kGraph) {
        sub = in.arg.graph.get();
      } else if (sub) {
        if (in.arg.kind != K::kTensor) {
          record_node(node, std::string("a non-tensor subgraph operand (") + argument_kind_name(in.arg.kind) +
                                ") is not supported");
          return stand_in_hop(outer, node);
        }
        operands.push_back(in.arg.name);
      }
    }
    if (!sub || sub->inputs.size() != operands.size()) {
      record_node(node, "malformed higher-order op: its subgraph and operands do not match");
      return stand_in_hop(outer, node);
    }
    ImportScope inner;
    inner.graph_def = sub;
    inner.used = used_names(*sub);
    for (size_t i = 0; i < operands.size(); ++i) {
      auto it = outer.values.find(operands[i]);
      if (it == outer.values.end())
        return internal_error("[" + target + "] node '" + node.name + "': input '" + operands[i] +
                              "' is not defined before its use");
      inner.values[sub->inputs[i].name] = it->second;
    }
    INGOT_RETURN_IF_ERROR(convert_nodes(inner, sub->nodes));
    std::vector<std::string> inner_outs, outer_outs;
    for (const Argument& a : sub->outputs) {
      if (a.kind == K::kTensors) inner_outs.insert(inner_outs.end(), a.names.begin(), a.names.end());
      else inner_outs.push_back(a.kind == K::kTensor ? a.name : "");
    }
    for (const Argument& a : node.outputs) {
      if (a.kind == K::kTensors) outer_outs.insert(outer_outs.end(), a.names.begin(), a.names.end());
      else outer_outs.push_back(a.kind == K::kTensor ? a.name : "");
    }
    if (inner_outs.size() != outer_outs.size()) {
      record_node(node, "the subgraph returns " + std::to_string(inner_outs.size()) + " values for " +
                            std::to_string(outer_outs.size()) + " outputs");
      return stand_in_hop(outer, node);
    }
    for (size_t i = 0; i < outer_outs.size(); ++i) {
      if (outer_outs[i].empty()) continue;
      auto it = inner.values.find(inner_outs[i]);
      if (it == inner.values.end()) {
        record_node(node, "subgraph output '" + inner_outs[i] + "' is not a tensor the subgraph computes");
        outer.values[outer_outs[i]] = placeholder(outer, outer_outs[i]);
        continue;
      }
      outer.values[outer_outs[i]] = it->second;
    }
    return Status::ok_status();
  }

  Status stand_in_hop(ImportScope& scope, const NodeDef& node) {
    for (const Argument& a : node.outputs) {
      if (a.kind == K::kTensor) scope.values[a.name] = placeholder(scope, a.name);
      if (a.kind == K::kTensors)
        for (const std::string& n : a.names) scope.values[n] = placeholder(scope, n);
    }
    return Status::ok_status();
  }

  // ------------------------------------------------------------------ outputs
  Status bind_outputs(ImportScope& scope) {
    size_t num_user = 0;
    for (const OutputSpecDef& spec : ep_.output_specs) num_user += spec.kind == OutputSpecDef::Kind::kUserOutput;
    bool named = ep_.user_output_names.size() == num_user;
    size_t user_index = 0;
    for (const OutputSpecDef& spec : ep_.output_specs) {
      using OK = OutputSpecDef::Kind;
      switch (spec.kind) {
        case OK::kUserOutput: {
          size_t index = user_index++;
          std::string name = named ? ep_.user_output_names[index] : "output." + std::to_string(index);
          if (spec.arg.kind != K::kTensor) {
            record("graph output", name, "", "",
                   "user output " + std::to_string(index) + " is " + argument_kind_name(spec.arg.kind) +
                       ", not a tensor; ingot engines return tensors only (return only tensors, or convert "
                       "with ingot.compile in Python, which puts such values back around the engine)");
            continue;
          }
          std::string why;
          const ValueId v = scope.find(spec.arg.name, &why);
          if (!why.empty()) {
            record("graph output", name, "", "", "returns '" + spec.arg.name + "', " + why);
            continue;
          }
          if (v == kNoValue) return internal_error("graph output '" + spec.arg.name + "' is not computed by any node");
          state_.graph.outputs.push_back(v);
          state_.graph.output_names.push_back(name);
          break;
        }
        case OK::kBufferMutation:
        case OK::kParameterMutation:
        case OK::kUserInputMutation: {
          const char* what = spec.kind == OK::kBufferMutation ? "buffer" : spec.kind == OK::kParameterMutation
                                                                            ? "parameter"
                                                                            : "input";
          record("graph output", spec.arg.name, "", "",
                 std::string("the model updates ") + what + " '" + spec.target +
                     "' in place (state mutation); ingot compiles pure inference graphs: call model.eval() "
                     "before exporting and avoid in-place updates of buffers and inputs");
          break;
        }
        case OK::kLossOutput:
        case OK::kGradientToParameter:
        case OK::kGradientToUserInput:
          record("graph output", spec.arg.name, "", "",
                 "training outputs (loss or gradients) are not supported; export the inference model");
          break;
        case OK::kToken:
          record("graph output", spec.arg.name, "", "", "side-effect token outputs are not supported");
          break;
      }
    }
    return Status::ok_status();
  }

  const ExportedProgram& ep_;
  const ConverterTable& table_;
  ImportState state_;
  SupportReport report_;
  std::map<std::pair<std::string, std::string>, size_t> unsupported_index_;
};

}  // namespace

Result<ImportResult> import_program(const ExportedProgram& ep, const ConverterTable& table) {
  return Importer(ep, table).run();
}

}  // namespace ingot::frontend
