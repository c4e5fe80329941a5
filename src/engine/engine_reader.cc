// The engine reader (runtime library): rebuilds a Plan from untrusted bytes.
// Order of checks: header (size, magic, version, section bounds), checksum,
// FlatBuffers Verifier over the metadata, field-by-field conversion (attributes
// decoded against the op's struct), then validate_plan(). Nothing is read
// before the check that makes reading it safe.
#include <cstring>
#include <optional>
#include <type_traits>
#include <variant>

#include <flatbuffers/flatbuffers.h>

#include "engine/engine_format.h"
#include "engine/engine_format_generated.h"

namespace ingot {

namespace {

Status bad(const std::string& m) { return corrupt("engine file is corrupt: " + m); }

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// Copies bytes rather than reading elements in place: the Verifier only checks
// a vector's 4-byte length alignment, so a hostile file can place 8-byte
// elements at unaligned addresses. (FlatBuffers data is little-endian, as are
// the hosts ingot supports.)
template <typename T>
std::vector<T> vec(const flatbuffers::Vector<T>* v) {
  static_assert(std::is_arithmetic_v<T>);
  if (!v) return {};
  std::vector<T> out(v->size());
  if (!out.empty()) std::memcpy(out.data(), v->Data(), out.size() * sizeof(T));
  return out;
}

// Fills one attribute field from the next stored Attr, checking its kind and
// element count; the first failure is kept in `status`.
struct AttrDecoder {
  const flatbuffers::Vector<flatbuffers::Offset<fb::Attr>>* attrs;
  size_t next = 0;
  Status status;

  const fb::Attr* take(const char* name, fb::AttrKind kind) {
    if (!status.ok()) return nullptr;
    if (!attrs || next >= attrs->size()) {
      status = bad(std::string("attribute '") + name + "' is missing");
      return nullptr;
    }
    const fb::Attr* a = attrs->Get(static_cast<flatbuffers::uoffset_t>(next++));
    if (a->kind() != kind) {
      status = bad(std::string("attribute '") + name + "' has the wrong type");
      return nullptr;
    }
    return a;
  }
  // The single element of an Int, Bool or Float attribute.
  template <typename T>
  std::optional<T> scalar(const char* name, fb::AttrKind kind) {
    const fb::Attr* a = take(name, kind);
    if (!a) return std::nullopt;
    std::vector<T> values;
    if constexpr (std::is_same_v<T, double>) values = vec(a->floats());
    else values = vec(a->ints());
    if (values.size() != 1) {
      status = bad(std::string("attribute '") + name + "' must hold one value");
      return std::nullopt;
    }
    return values[0];
  }
  void operator()(const char* name, int64_t& v) {
    if (auto x = scalar<int64_t>(name, fb::AttrKind::Int)) v = *x;
  }
  void operator()(const char* name, bool& v) {
    if (auto x = scalar<int64_t>(name, fb::AttrKind::Bool)) {
      if (*x != 0 && *x != 1) {
        status = bad(std::string("attribute '") + name + "' is not a bool");
        return;
      }
      v = *x == 1;
    }
  }
  void operator()(const char* name, double& v) {
    if (auto x = scalar<double>(name, fb::AttrKind::Float)) v = *x;
  }
  void operator()(const char* name, std::vector<int64_t>& v) {
    if (const fb::Attr* a = take(name, fb::AttrKind::IntList)) v = vec(a->ints());
  }
  void operator()(const char* name, std::vector<double>& v) {
    if (const fb::Attr* a = take(name, fb::AttrKind::FloatList)) v = vec(a->floats());
  }
};

Result<PlanStep> read_step(const fb::Step* s, size_t index) {
  const std::string label = "step " + std::to_string(index);
  if (s->op() >= kNumOpKinds)
    return unsupported(label + " uses op kind " + std::to_string(s->op()) +
                       ", unknown to this ingot runtime; rebuild the engine with this version of ingot");
  PlanStep step;
  step.attrs = default_attrs(static_cast<OpKind>(s->op()));
  AttrDecoder decoder{s->attrs(), 0, Status()};
  std::visit(
      [&](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (!std::is_same_v<T, std::monostate>) visit_attrs(a, decoder);
      },
      step.attrs);
  if (!decoder.status.ok()) return decoder.status.with_context(label + " (" + op_name(op_kind(step.attrs)) + ")");
  size_t stored = s->attrs() ? s->attrs()->size() : 0;
  if (decoder.next != stored)
    return bad(label + " (" + op_name(op_kind(step.attrs)) + ") has " + std::to_string(stored) +
               " attributes, expected " + std::to_string(decoder.next));
  step.inputs = vec(s->inputs());
  step.outputs = vec(s->outputs());
  step.tactic = str(s->tactic());
  if (const fb::Source* src = s->source()) {
    step.source.node_name = str(src->node_name());
    step.source.aten_target = str(src->aten_target());
    step.source.location = str(src->location());
    step.source.code = str(src->code());
  }
  return step;
}

Result<Plan> read_metadata(const fb::Plan* root) {
  Plan plan;
  if (const fb::BuildInfo* b = root->build()) {
    BuildInfo& o = plan.build;
    o.ingot_version = str(b->ingot_version());
    o.model_file = str(b->model_file());
    o.model_hash = str(b->model_hash());
    o.torch_version = str(b->torch_version());
    o.ir_dialect = str(b->ir_dialect());
    if (b->options())
      for (const fb::KeyValue* kv : *b->options()) o.options.emplace_back(str(kv->key()), str(kv->value()));
    o.backend = str(b->backend());
    o.target = str(b->target());
    o.cuda_version = str(b->cuda_version());
    o.cublas_version = str(b->cublas_version());
    o.cudnn_version = str(b->cudnn_version());
  }
  if (root->tensors()) {
    plan.tensors.reserve(root->tensors()->size());
    for (const fb::Tensor* t : *root->tensors()) {
      PlanTensor& o = plan.tensors.emplace_back();
      o.name = str(t->name());
      // Out-of-range enum values are kept as they are; validate_plan rejects them.
      o.dtype = static_cast<DType>(t->dtype());
      o.shape = vec(t->shape());
      o.storage = static_cast<TensorStorage>(t->storage());
      o.offset = t->offset();
      o.nbytes = t->nbytes();
    }
  }
  if (root->steps()) {
    plan.steps.reserve(root->steps()->size());
    for (size_t i = 0; i < root->steps()->size(); ++i) {
      INGOT_ASSIGN_OR_RETURN(PlanStep step, read_step(root->steps()->Get(static_cast<flatbuffers::uoffset_t>(i)), i));
      plan.steps.push_back(std::move(step));
    }
  }
  plan.inputs = vec(root->inputs());
  plan.outputs = vec(root->outputs());
  if (root->symbols())
    for (const fb::Symbol* s : *root->symbols()) plan.symbols.push_back({str(s->name()), s->min(), s->max()});
  plan.arena_bytes = root->arena_bytes();
  plan.workspace_bytes = root->workspace_bytes();
  return plan;
}

}  // namespace

Result<Plan> deserialize_plan(const void* data, size_t size) {
  INGOT_ASSIGN_OR_RETURN(EngineHeader header, read_engine_header(data, size));
  const auto* bytes = static_cast<const uint8_t*>(data);

  const size_t body = size - kEngineChecksumSize;
  uint64_t stored = 0;
  for (size_t i = 0; i < kEngineChecksumSize; ++i) stored |= uint64_t{bytes[body + i]} << (8 * i);
  if (engine_checksum(bytes, body) != stored) return corrupt("engine file is corrupt: checksum mismatch");

  // FlatBuffers reads scalars in place; give it an 8-byte aligned copy when the
  // caller's buffer is not (load_memory accepts any pointer).
  const uint8_t* meta = bytes + header.metadata_offset;
  std::vector<uint64_t> aligned;
  if (reinterpret_cast<uintptr_t>(meta) % alignof(uint64_t) != 0) {
    aligned.resize((header.metadata_size + 7) / 8);
    std::memcpy(aligned.data(), meta, header.metadata_size);
    meta = reinterpret_cast<const uint8_t*>(aligned.data());
  }
  flatbuffers::Verifier verifier(meta, header.metadata_size, /*max_depth=*/64, /*max_tables=*/10'000'000);
  if (!fb::VerifyPlanBuffer(verifier)) return bad("metadata tables failed verification");

  INGOT_ASSIGN_OR_RETURN(Plan plan, read_metadata(fb::GetPlan(meta)));
  plan.constants.assign(bytes + header.constants_offset, bytes + header.constants_offset + header.constants_size);
  if (Status st = validate_plan(plan); !st.ok()) return st;
  return plan;
}

}  // namespace ingot
