// Structural validation of a Plan. The writer runs it to catch compiler bugs
// before they reach a file; the reader runs it on every loaded engine, so that
// backends can index tensors, sections and attributes without re-checking.
// Every size computation here is overflow-checked: the plan may be hostile.
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <variant>

#include "engine/plan.h"

namespace ingot {

namespace {

// Larger than any real arena, small enough that sums of a few never overflow
// and that a hostile file cannot make a context try to allocate exabytes.
constexpr uint64_t kMaxSectionBytes = uint64_t{1} << 40;  // 1 TiB
constexpr size_t kMaxRank = 16;

Status bad(const std::string& m) { return corrupt("invalid engine plan: " + m); }

std::string tensor_label(const Plan& plan, int32_t id) {
  return "tensor " + std::to_string(id) + " '" + plan.tensors[static_cast<size_t>(id)].name + "'";
}

std::string step_label(const PlanStep& step, size_t index) {
  std::string s = "step " + std::to_string(index) + " (" + op_name(op_kind(step.attrs)) + ")";
  if (!step.source.node_name.empty()) s += " node '" + step.source.node_name + "'";
  return s;
}

// Element count with overflow checks; nullopt when negative dims or overflow.
std::optional<uint64_t> checked_numel(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

Status validate_tensor(const Plan& plan, size_t id) {
  const PlanTensor& t = plan.tensors[id];
  const std::string label = "tensor " + std::to_string(id) + " '" + t.name + "'";
  if (static_cast<int>(t.dtype) >= kNumDTypes)
    return bad(label + " has invalid dtype " + std::to_string(static_cast<int>(t.dtype)));
  if (t.shape.size() > kMaxRank)
    return bad(label + " has rank " + std::to_string(t.shape.size()) + " (at most " +
               std::to_string(kMaxRank) + " supported)");
  auto numel = checked_numel(t.shape);
  uint64_t expected = 0;
  if (!numel || __builtin_mul_overflow(*numel, static_cast<uint64_t>(dtype_size(t.dtype)), &expected))
    return bad(label + " has a negative or overflowing shape");
  if (t.nbytes != expected)
    return bad(label + " has nbytes " + std::to_string(t.nbytes) + " but its shape and dtype need " +
               std::to_string(expected));
  switch (t.storage) {
    case TensorStorage::kArena:
      if (t.offset > plan.arena_bytes || t.nbytes > plan.arena_bytes - t.offset)
        return bad(label + " [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                   ") lies outside the " + std::to_string(plan.arena_bytes) + "-byte arena");
      break;
    case TensorStorage::kConstant:
      if (t.offset > plan.constants.size() || t.nbytes > plan.constants.size() - t.offset)
        return bad(label + " [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                   ") lies outside the " + std::to_string(plan.constants.size()) + "-byte constants section");
      if (t.offset % kConstantAlignment != 0)
        return bad(label + " constant offset " + std::to_string(t.offset) + " is not " +
                   std::to_string(kConstantAlignment) + "-byte aligned");
      break;
    case TensorStorage::kInput: {
      if (t.offset >= plan.inputs.size())
        return bad(label + " claims to be input " + std::to_string(t.offset) + " of " +
                   std::to_string(plan.inputs.size()));
      // Input i's own tensor, or another view of its bytes (a reshape): same dtype and size.
      const int32_t own = plan.inputs[t.offset];
      if (own != static_cast<int32_t>(id)) {
        if (own < 0 || static_cast<size_t>(own) >= plan.tensors.size() ||
            plan.tensors[static_cast<size_t>(own)].storage != TensorStorage::kInput ||
            plan.tensors[static_cast<size_t>(own)].dtype != t.dtype ||
            plan.tensors[static_cast<size_t>(own)].nbytes != t.nbytes)
          return bad(label + " claims to view input " + std::to_string(t.offset) +
                     " but differs from it in dtype or size");
      }
      break;
    }
    case TensorStorage::kOutput:
      if (t.offset >= plan.outputs.size() || plan.outputs[t.offset] != static_cast<int32_t>(id))
        return bad(label + " claims to be output " + std::to_string(t.offset) +
                   " but the plan's output list disagrees");
      break;
    default:
      return bad(label + " has invalid storage " + std::to_string(static_cast<int>(t.storage)));
  }
  return {};
}

// How many inputs an op takes; required inputs may not be -1.
struct Arity {
  size_t min, max;
};

Arity input_arity(const OpAttrs& attrs) {
  switch (op_kind(attrs)) {
    case OpKind::kConcat: return {1, 1u << 16};
    case OpKind::kGather:
    case OpKind::kIndexSelect:
    case OpKind::kSliceScatter:
    case OpKind::kBinary:
    case OpKind::kGridSample:
    case OpKind::kMatMul: return {2, 2};
    case OpKind::kIndex: {
      size_t n = 1 + std::get<IndexAttrs>(attrs).indexed_dims.size();
      return {n, n};
    }
    case OpKind::kWhere: return {3, 3};
    case OpKind::kLayerNorm: return {1, 5};  // x, weight, bias, residual, input bias
    case OpKind::kGroupNorm: return {1, 3};
    case OpKind::kRmsNorm: return {1, 2};
    case OpKind::kBatchNorm: return {5, 5};
    case OpKind::kGemm:
    case OpKind::kConv: return {2, 4};
    case OpKind::kPointwise: return {1, 1u << 16};
    case OpKind::kAttention: return {3, 4};
    default: return {1, 1};
  }
}

bool input_is_optional(OpKind kind, size_t position) {
  switch (kind) {
    case OpKind::kLayerNorm:
    case OpKind::kGroupNorm:
    case OpKind::kRmsNorm: return position >= 1;
    case OpKind::kBatchNorm: return position == 1 || position == 2;
    case OpKind::kGemm:
    case OpKind::kConv: return position == 2 || position == 3;
    case OpKind::kAttention: return position == 3;
    default: return false;
  }
}

bool in_range(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

// Enumerated attributes must hold a value the backends know.
Status validate_attr_values(const OpAttrs& attrs, const std::string& label) {
  auto fail = [&](const char* field, int64_t v) {
    return bad(label + ": invalid " + field + " value " + std::to_string(v));
  };
  switch (op_kind(attrs)) {
    case OpKind::kUnary: {
      auto fn = std::get<UnaryAttrs>(attrs).fn;
      if (!unary_fn_valid(fn)) return fail("unary fn", fn);
      break;
    }
    case OpKind::kBinary: {
      auto fn = std::get<BinaryAttrs>(attrs).fn;
      if (!binary_fn_valid(fn)) return fail("binary fn", fn);
      break;
    }
    case OpKind::kReduce: {
      auto fn = std::get<ReduceAttrs>(attrs).fn;
      if (!reduce_fn_valid(fn)) return fail("reduce fn", fn);
      break;
    }
    case OpKind::kArgReduce: {
      auto fn = std::get<ArgReduceAttrs>(attrs).fn;
      if (!in_range(fn, 0, 1)) return fail("arg_reduce fn", fn);
      break;
    }
    case OpKind::kCumulative: {
      auto fn = std::get<CumulativeAttrs>(attrs).fn;
      if (!in_range(fn, 0, 1)) return fail("cumulative fn", fn);
      break;
    }
    case OpKind::kPad: {
      auto mode = std::get<PadAttrs>(attrs).mode;
      if (!in_range(mode, 0, 3)) return fail("pad mode", mode);
      break;
    }
    case OpKind::kPool: {
      auto kind = std::get<PoolAttrs>(attrs).kind;
      if (!in_range(kind, 0, 1)) return fail("pool kind", kind);
      break;
    }
    case OpKind::kAdaptivePool: {
      auto kind = std::get<AdaptivePoolAttrs>(attrs).kind;
      if (!in_range(kind, 0, 1)) return fail("adaptive_pool kind", kind);
      break;
    }
    case OpKind::kUpsample: {
      auto mode = std::get<UpsampleAttrs>(attrs).mode;
      if (!in_range(mode, 0, 3)) return fail("upsample mode", mode);
      break;
    }
    case OpKind::kGridSample: {
      const auto& g = std::get<GridSampleAttrs>(attrs);
      if (!in_range(g.mode, 0, 2)) return fail("grid_sample mode", g.mode);
      if (!in_range(g.padding_mode, 0, 2)) return fail("grid_sample padding_mode", g.padding_mode);
      break;
    }
    default: break;
  }
  return {};
}

Status validate_step(const Plan& plan, size_t index) {
  const PlanStep& step = plan.steps[index];
  if (step.attrs.index() >= static_cast<size_t>(kNumOpKinds))
    return bad("step " + std::to_string(index) + " has no op");
  const std::string label = step_label(step, index);
  const auto num_tensors = static_cast<int64_t>(plan.tensors.size());
  const OpKind kind = op_kind(step.attrs);

  Arity arity = input_arity(step.attrs);
  if (step.inputs.size() < arity.min || step.inputs.size() > arity.max)
    return bad(label + " has " + std::to_string(step.inputs.size()) + " inputs, expected " +
               (arity.min == arity.max ? std::to_string(arity.min)
                                       : std::to_string(arity.min) + " to " + std::to_string(arity.max)));
  for (size_t i = 0; i < step.inputs.size(); ++i) {
    int32_t id = step.inputs[i];
    if (id == -1 && input_is_optional(kind, i)) continue;
    if (id < 0 || id >= num_tensors)
      return bad(label + " input " + std::to_string(i) + " refers to tensor " + std::to_string(id) + " of " +
                 std::to_string(num_tensors));
  }
  if (step.outputs.size() != 1)
    return bad(label + " has " + std::to_string(step.outputs.size()) + " outputs, expected 1");
  for (int32_t id : step.outputs) {
    if (id < 0 || id >= num_tensors)
      return bad(label + " output refers to tensor " + std::to_string(id) + " of " + std::to_string(num_tensors));
    auto storage = plan.tensors[static_cast<size_t>(id)].storage;
    if (storage == TensorStorage::kConstant || storage == TensorStorage::kInput)
      return bad(label + " writes " + tensor_label(plan, id) + ", which is a constant or a user input");
  }
  INGOT_RETURN_IF_ERROR(validate_attr_values(step.attrs, label));

  // Ops that keep the element count: a cheap check that stops a hostile plan from
  // sending a kernel past a buffer's end.
  if (kind == OpKind::kReshape || kind == OpKind::kUnary || kind == OpKind::kCast) {
    const auto& in = plan.tensors[static_cast<size_t>(step.inputs[0])];
    const auto& out = plan.tensors[static_cast<size_t>(step.outputs[0])];
    if (*checked_numel(in.shape) != *checked_numel(out.shape))
      return bad(label + " maps " + std::to_string(*checked_numel(in.shape)) + " elements to " +
                 std::to_string(*checked_numel(out.shape)));
  }
  return {};
}

Status validate_io(const Plan& plan, const std::vector<int32_t>& ids, TensorStorage storage, const char* what) {
  std::set<std::string> names;
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    if (id < 0 || static_cast<size_t>(id) >= plan.tensors.size())
      return bad(std::string(what) + " " + std::to_string(i) + " refers to tensor " + std::to_string(id) + " of " +
                 std::to_string(plan.tensors.size()));
    const PlanTensor& t = plan.tensors[static_cast<size_t>(id)];
    if (t.storage != storage || t.offset != i)
      return bad(std::string(what) + " " + std::to_string(i) + " (" + tensor_label(plan, id) +
                 ") is not stored as " + what + " " + std::to_string(i));
    // Bound by name at run time, so names must be unique.
    if (!names.insert(t.name).second)
      return bad(std::string(what) + " name '" + t.name + "' appears twice");
  }
  return {};
}

// The writer stores every string as a C string, so a NUL byte would cut it short
// and the engine would read back other names than it was given (two names that
// differ after the NUL would become one, which the checks above cannot see).
Status validate_strings(const Plan& plan) {
  auto check = [](const std::string& value, const std::string& what) -> Status {
    if (value.find('\0') != std::string::npos) return bad(what + " holds a NUL byte");
    return {};
  };
  for (size_t i = 0; i < plan.tensors.size(); ++i)
    INGOT_RETURN_IF_ERROR(check(plan.tensors[i].name, "the name of tensor " + std::to_string(i)));
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& step = plan.steps[i];
    const std::string label = "step " + std::to_string(i) + "'s ";
    INGOT_RETURN_IF_ERROR(check(step.tactic, label + "tactic"));
    for (const std::string* field : {&step.source.node_name, &step.source.aten_target, &step.source.location,
                                     &step.source.code})
      INGOT_RETURN_IF_ERROR(check(*field, label + "source record"));
  }
  for (const PlanSymbol& symbol : plan.symbols) INGOT_RETURN_IF_ERROR(check(symbol.name, "a symbol's name"));
  const BuildInfo& b = plan.build;
  for (const std::string* field : {&b.ingot_version, &b.model_file, &b.model_hash, &b.torch_version, &b.ir_dialect,
                                   &b.backend, &b.target, &b.cuda_version, &b.cublas_version, &b.cudnn_version})
    INGOT_RETURN_IF_ERROR(check(*field, "the build record"));
  for (const auto& [key, value] : b.options) {
    INGOT_RETURN_IF_ERROR(check(key, "a build option's name"));
    INGOT_RETURN_IF_ERROR(check(value, "build option '" + key + "'"));
  }
  return {};
}

}  // namespace

int64_t PlanTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Status validate_plan(const Plan& plan) {
  if (plan.arena_bytes > kMaxSectionBytes || plan.workspace_bytes > kMaxSectionBytes)
    return bad("arena of " + std::to_string(plan.arena_bytes) + " bytes or workspace of " +
               std::to_string(plan.workspace_bytes) + " bytes is implausibly large");
  if (plan.tensors.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return bad("too many tensors");
  if (plan.outputs.empty()) return bad("the plan has no outputs");
  INGOT_RETURN_IF_ERROR(validate_strings(plan));
  // Tensors first: steps rely on validated shapes.
  for (size_t i = 0; i < plan.tensors.size(); ++i) INGOT_RETURN_IF_ERROR(validate_tensor(plan, i));
  INGOT_RETURN_IF_ERROR(validate_io(plan, plan.inputs, TensorStorage::kInput, "input"));
  INGOT_RETURN_IF_ERROR(validate_io(plan, plan.outputs, TensorStorage::kOutput, "output"));
  for (size_t i = 0; i < plan.steps.size(); ++i) INGOT_RETURN_IF_ERROR(validate_step(plan, i));
  for (const PlanSymbol& s : plan.symbols)
    if (s.min > s.max || s.min < 0)
      return bad("symbol '" + s.name + "' has range [" + std::to_string(s.min) + ", " + std::to_string(s.max) + "]");
  return {};
}

}  // namespace ingot
