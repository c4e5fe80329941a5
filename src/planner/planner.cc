// The memory planner (see planner.h). Every graph value becomes one PlanTensor:
// user inputs and outputs live in the caller's buffers, constants are packed
// into the engine's constants section (256-byte aligned, in order of first use,
// so the file layout is deterministic and mmap-friendly), and activations share
// one arena. Every output is written by exactly one step: where an output is
// also an input, a constant or another output, a copy step is added at the end.
#include "planner/planner.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace ingot {

namespace {

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

std::vector<uint64_t> pack_arena(const std::vector<ArenaRequest>& requests, uint64_t* arena_bytes) {
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    return a < b;
  });
  std::vector<uint64_t> offsets(requests.size(), 0);
  std::vector<size_t> placed;
  uint64_t total = 0;
  for (size_t idx : order) {
    const ArenaRequest& r = requests[idx];
    const uint64_t size = align_up(r.bytes, kArenaAlignment);
    if (size == 0) continue;
    // Busy intervals of already placed buffers whose lifetimes overlap this one.
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (size_t p : placed) {
      const ArenaRequest& q = requests[p];
      if (q.last < r.first || r.last < q.first) continue;
      busy.emplace_back(offsets[p], offsets[p] + align_up(q.bytes, kArenaAlignment));
    }
    std::sort(busy.begin(), busy.end());
    // Best fit: the smallest gap that holds the buffer; else after everything.
    uint64_t best = UINT64_MAX, best_gap = UINT64_MAX, cursor = 0;
    for (const auto& [lo, hi] : busy) {
      if (lo > cursor && lo - cursor >= size && lo - cursor < best_gap) {
        best = cursor;
        best_gap = lo - cursor;
      }
      cursor = std::max(cursor, hi);
    }
    if (best == UINT64_MAX) best = cursor;
    offsets[idx] = best;
    total = std::max(total, best + size);
    placed.push_back(idx);
  }
  *arena_bytes = total;
  return offsets;
}

Result<Plan> build_plan(const Graph& g, const BuildInfo& build) {
  Plan plan;
  plan.build = build;
  for (const auto& [name, range] : g.symbols) plan.symbols.push_back({name, range.min, range.max});

  std::vector<int32_t> tensor_of(g.num_values(), -1);
  auto new_tensor = [&](const Value& v, std::string name, TensorStorage storage, uint64_t offset) {
    PlanTensor t;
    t.name = std::move(name);
    t.dtype = v.dtype;
    t.shape = v.shape;
    t.storage = storage;
    t.offset = offset;
    t.nbytes = v.nbytes();
    plan.tensors.push_back(std::move(t));
    return static_cast<int32_t>(plan.tensors.size() - 1);
  };
  auto check_id = [&](ValueId v) -> Status {
    if (v < 0 || static_cast<size_t>(v) >= g.num_values())
      return internal_error("planner: value id " + std::to_string(v) + " out of range");
    return Status::ok_status();
  };

  // User inputs.
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    INGOT_RETURN_IF_ERROR(check_id(g.inputs[i]));
    const Value& v = g.value(g.inputs[i]);
    int32_t t = new_tensor(v, v.name, TensorStorage::kInput, i);
    tensor_of[static_cast<size_t>(g.inputs[i])] = t;
    plan.inputs.push_back(t);
  }

  // User outputs: a value produced by a step writes straight into the first
  // output slot that names it; any other output gets a copy step.
  std::vector<bool> claimed(g.num_values(), false);
  std::vector<std::pair<ValueId, int32_t>> copies;  // (source value, output tensor)
  plan.outputs.resize(g.outputs.size());
  std::set<std::string> output_names;
  for (size_t j = 0; j < g.outputs.size(); ++j) {
    ValueId v = g.outputs[j];
    INGOT_RETURN_IF_ERROR(check_id(v));
    const Value& val = g.value(v);
    std::string name = j < g.output_names.size() && !g.output_names[j].empty() ? g.output_names[j]
                                                                                : "output." + std::to_string(j);
    // Outputs are bound by name, so names must be unique.
    if (!output_names.insert(name).second) {
      name += "." + std::to_string(j);
      output_names.insert(name);
    }
    int32_t t = new_tensor(val, name, TensorStorage::kOutput, j);
    plan.outputs[j] = t;
    if (val.producer >= 0 && !claimed[static_cast<size_t>(v)]) {
      claimed[static_cast<size_t>(v)] = true;
      tensor_of[static_cast<size_t>(v)] = t;
    } else {
      copies.emplace_back(v, t);
    }
  }

  // Constants, in order of first use; values sharing bytes share storage.
  std::map<const std::vector<uint8_t>*, uint64_t> constant_offset;
  auto constant_tensor = [&](ValueId v) -> int32_t {
    const Value& val = g.value(v);
    auto it = constant_offset.find(val.constant.get());
    uint64_t offset;
    if (it != constant_offset.end() && val.nbytes() <= val.constant->size()) {
      offset = it->second;
    } else {
      offset = align_up(plan.constants.size(), kConstantAlignment);
      plan.constants.resize(offset);
      plan.constants.insert(plan.constants.end(), val.constant->begin(), val.constant->begin() + val.nbytes());
      constant_offset.emplace(val.constant.get(), offset);
    }
    int32_t t = new_tensor(val, val.name, TensorStorage::kConstant, offset);
    tensor_of[static_cast<size_t>(v)] = t;
    return t;
  };

  // Steps in graph order; activations get arena tensors (offsets filled below).
  std::vector<ArenaRequest> requests;
  std::vector<int32_t> request_tensor;
  std::vector<int32_t> request_of_value(g.num_values(), -1);
  auto use = [&](ValueId v, int32_t step) -> Result<int32_t> {
    if (v == kNoValue) return -1;
    INGOT_RETURN_IF_ERROR(check_id(v));
    const Value& val = g.value(v);
    if (tensor_of[static_cast<size_t>(v)] < 0) {
      if (!val.is_constant())
        return internal_error("planner: value %" + std::to_string(v) + " '" + val.name + "' is used before it is defined");
      constant_tensor(v);
    }
    int32_t r = request_of_value[static_cast<size_t>(v)];
    if (r >= 0) requests[static_cast<size_t>(r)].last = std::max(requests[static_cast<size_t>(r)].last, step);
    return tensor_of[static_cast<size_t>(v)];
  };

  // Reshapes of activations and constants cost nothing: the output is another
  // view (tensor) of the same bytes, and no step is emitted. The arena request is
  // shared, so the bytes live until the last use of either view.
  std::vector<std::pair<int32_t, int32_t>> alias_tensors;  // (tensor, arena request)
  auto alias_reshape = [&](const Node& n, int32_t step) -> Result<bool> {
    if (n.kind() != OpKind::kReshape || n.inputs.size() != 1 || n.outputs.size() != 1) return false;
    const ValueId in = n.inputs[0], out = n.outputs[0];
    INGOT_RETURN_IF_ERROR(check_id(in));
    INGOT_RETURN_IF_ERROR(check_id(out));
    if (tensor_of[static_cast<size_t>(out)] >= 0) return false;  // a user output: written by a step
    const Value& src = g.value(in);
    const Value& dst = g.value(out);
    if (src.dtype != dst.dtype || src.nbytes() != dst.nbytes()) return false;
    INGOT_ASSIGN_OR_RETURN(int32_t src_tensor, use(in, step));
    const PlanTensor& st = plan.tensors[static_cast<size_t>(src_tensor)];
    const int32_t r = request_of_value[static_cast<size_t>(in)];
    if (st.storage == TensorStorage::kArena && r >= 0) {
      const int32_t t = new_tensor(dst, dst.name, TensorStorage::kArena, 0);
      tensor_of[static_cast<size_t>(out)] = t;
      request_of_value[static_cast<size_t>(out)] = r;
      alias_tensors.emplace_back(t, r);
      return true;
    }
    if (st.storage == TensorStorage::kConstant) {
      tensor_of[static_cast<size_t>(out)] = new_tensor(dst, dst.name, TensorStorage::kConstant, st.offset);
      return true;
    }
    if (st.storage == TensorStorage::kInput) {
      // Another view of the bound input (the executors point every tensor stored
      // as input i at input i's memory): ViT's image reshaped into patches was a
      // full copy (0.014 ms at batch 32).
      tensor_of[static_cast<size_t>(out)] = new_tensor(dst, dst.name, TensorStorage::kInput, st.offset);
      return true;
    }
    return false;  // a reshape of another view of a user output: copy
  };

  // In-place reuse: an elementwise step may write its output over an input of
  // the same shape and size whose bytes nothing reads afterwards (the kernels
  // read element i before writing element i). Last uses are counted over groups
  // of values a reshape may turn into views of one buffer, so a later read
  // through a view keeps the buffer alive; grouping a reshape that ends up
  // copied only makes the check more cautious.
  const size_t num_values = g.num_values();
  std::vector<int32_t> group(num_values);
  for (size_t v = 0; v < num_values; ++v) group[v] = static_cast<int32_t>(v);
  auto root = [&](int32_t v) {
    while (group[static_cast<size_t>(v)] != v) v = group[static_cast<size_t>(v)];
    return v;
  };
  std::vector<int32_t> group_last(num_values, -1);
  for (size_t s = 0; s < g.num_nodes(); ++s) {
    const Node& n = g.node(static_cast<NodeId>(s));
    if (n.kind() == OpKind::kReshape && n.inputs.size() == 1 && n.outputs.size() == 1 && n.inputs[0] >= 0 &&
        n.outputs[0] >= 0)
      group[static_cast<size_t>(root(n.outputs[0]))] = root(n.inputs[0]);
  }
  for (size_t s = 0; s < g.num_nodes(); ++s)
    for (ValueId in : g.node(static_cast<NodeId>(s)).inputs)
      if (in >= 0) group_last[static_cast<size_t>(root(in))] = std::max(group_last[static_cast<size_t>(root(in))],
                                                                         static_cast<int32_t>(s));
  for (ValueId out : g.outputs)  // read by the caller or a copy step after the last node
    if (out >= 0) group_last[static_cast<size_t>(root(out))] = INT32_MAX;

  auto in_place = [&](const Node& n, int32_t step) -> bool {
    const OpKind kind = n.kind();
    if (kind != OpKind::kUnary && kind != OpKind::kBinary && kind != OpKind::kCast && kind != OpKind::kPointwise)
      return false;
    if (n.outputs.size() != 1 || tensor_of[static_cast<size_t>(n.outputs[0])] >= 0) return false;
    const Value& out = g.value(n.outputs[0]);
    for (ValueId in : n.inputs) {
      if (in < 0) continue;
      const Value& src = g.value(in);
      const int32_t r = request_of_value[static_cast<size_t>(in)];
      if (r < 0 || src.shape != out.shape || src.nbytes() != out.nbytes()) continue;
      if (dtype_size(src.dtype) != dtype_size(out.dtype)) continue;
      if (group_last[static_cast<size_t>(root(in))] != step) continue;
      // No other input may be another view of the same bytes (read at other offsets).
      bool shared = false;
      for (ValueId other : n.inputs)
        if (other >= 0 && other != in && request_of_value[static_cast<size_t>(other)] == r) shared = true;
      if (shared) continue;
      const int32_t t = new_tensor(out, out.name, TensorStorage::kArena, 0);
      tensor_of[static_cast<size_t>(n.outputs[0])] = t;
      request_of_value[static_cast<size_t>(n.outputs[0])] = r;
      alias_tensors.emplace_back(t, r);
      return true;
    }
    return false;
  };

  for (size_t s = 0; s < g.num_nodes(); ++s) {
    const Node& n = g.node(static_cast<NodeId>(s));
    const int32_t step = static_cast<int32_t>(s);
    INGOT_ASSIGN_OR_RETURN(bool aliased, alias_reshape(n, step));
    if (aliased) continue;
    // Inputs first, so their arena requests exist; then maybe the output takes one over.
    for (ValueId in : n.inputs) INGOT_RETURN_IF_ERROR(use(in, step).status());
    const bool reused = in_place(n, step);
    PlanStep ps;
    ps.attrs = n.attrs;
    ps.source = n.source;
    for (ValueId in : n.inputs) {
      INGOT_ASSIGN_OR_RETURN(int32_t t, use(in, step));
      ps.inputs.push_back(t);
    }
    for (ValueId out : n.outputs) {
      INGOT_RETURN_IF_ERROR(check_id(out));
      if (reused) {  // written over its input's bytes (in_place above)
        ps.outputs.push_back(tensor_of[static_cast<size_t>(out)]);
        continue;
      }
      if (tensor_of[static_cast<size_t>(out)] < 0) {
        const Value& val = g.value(out);
        int32_t t = new_tensor(val, val.name, TensorStorage::kArena, 0);
        tensor_of[static_cast<size_t>(out)] = t;
        request_of_value[static_cast<size_t>(out)] = static_cast<int32_t>(requests.size());
        requests.push_back({val.nbytes(), step, step});
        request_tensor.push_back(t);
      } else if (plan.tensors[static_cast<size_t>(tensor_of[static_cast<size_t>(out)])].storage != TensorStorage::kOutput) {
        return internal_error("planner: value %" + std::to_string(out) + " is produced twice");
      }
      ps.outputs.push_back(tensor_of[static_cast<size_t>(out)]);
    }
    plan.steps.push_back(std::move(ps));
  }

  // Copy steps for outputs that alias an input, a constant or another output.
  // Lifetimes count in graph node indices (aliased reshapes emit no step), so
  // the copies come after the last node.
  int32_t copy_step = static_cast<int32_t>(g.num_nodes());
  for (const auto& [v, out_tensor] : copies) {
    const int32_t step = copy_step++;
    INGOT_ASSIGN_OR_RETURN(int32_t src, use(v, step));
    PlanStep ps;
    ReshapeAttrs copy;
    copy.shape = g.value(v).shape;
    ps.attrs = copy;
    ps.inputs = {src};
    ps.outputs = {out_tensor};
    ps.source.node_name = "copy to output '" + plan.tensors[static_cast<size_t>(out_tensor)].name + "'";
    plan.steps.push_back(std::move(ps));
  }

  std::vector<uint64_t> offsets = pack_arena(requests, &plan.arena_bytes);
  for (size_t r = 0; r < requests.size(); ++r) plan.tensors[static_cast<size_t>(request_tensor[r])].offset = offsets[r];
  for (const auto& [t, r] : alias_tensors) plan.tensors[static_cast<size_t>(t)].offset = offsets[static_cast<size_t>(r)];

  Status st = validate_plan(plan);
  if (!st.ok()) return internal_error("planner produced an invalid plan: " + st.message());
  return plan;
}

}  // namespace ingot
