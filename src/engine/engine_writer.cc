// The engine writer (compiler library): lays a Plan out as an engine file
// (header, FlatBuffers metadata, 256-byte aligned constants, XXH3-64 checksum;
// see engine_format.h). Output is deterministic: the builder is fed in plan
// order, defaults are written explicitly (ForceDefaults) and nothing depends on
// time, addresses or hash-map order, so the same Plan gives the same bytes.
#include <cstring>
#include <type_traits>
#include <variant>

#include "engine/engine_format.h"
#include "engine/engine_format_generated.h"

namespace ingot {

namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// Serializes one attribute field; overloads follow the INGOT_ATTR types.
struct AttrEncoder {
  FlatBufferBuilder& fbb;
  std::vector<Offset<fb::Attr>>& out;

  void add(fb::AttrKind kind, const std::vector<int64_t>* ints, const std::vector<double>* floats) {
    auto ints_off = fbb.CreateVector(ints ? *ints : std::vector<int64_t>{});
    auto floats_off = fbb.CreateVector(floats ? *floats : std::vector<double>{});
    out.push_back(fb::CreateAttr(fbb, kind, ints_off, floats_off));
  }
  void operator()(const char*, const int64_t& v) {
    std::vector<int64_t> ints{v};
    add(fb::AttrKind::Int, &ints, nullptr);
  }
  void operator()(const char*, const double& v) {
    std::vector<double> floats{v};
    add(fb::AttrKind::Float, nullptr, &floats);
  }
  void operator()(const char*, const bool& v) {
    std::vector<int64_t> ints{v ? 1 : 0};
    add(fb::AttrKind::Bool, &ints, nullptr);
  }
  void operator()(const char*, const std::vector<int64_t>& v) { add(fb::AttrKind::IntList, &v, nullptr); }
  void operator()(const char*, const std::vector<double>& v) { add(fb::AttrKind::FloatList, nullptr, &v); }
};

Offset<fb::BuildInfo> write_build_info(FlatBufferBuilder& fbb, const BuildInfo& b) {
  std::vector<Offset<fb::KeyValue>> options;
  for (const auto& [key, value] : b.options)
    options.push_back(fb::CreateKeyValueDirect(fbb, key.c_str(), value.c_str()));
  return fb::CreateBuildInfoDirect(fbb, b.ingot_version.c_str(), b.model_file.c_str(), b.model_hash.c_str(),
                                   b.torch_version.c_str(), b.ir_dialect.c_str(), &options, b.backend.c_str(),
                                   b.target.c_str(), b.cuda_version.c_str(), b.cublas_version.c_str(),
                                   b.cudnn_version.c_str());
}

Offset<fb::Step> write_step(FlatBufferBuilder& fbb, const PlanStep& step) {
  std::vector<Offset<fb::Attr>> attrs;
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (!std::is_same_v<T, std::monostate>) visit_attrs(a, AttrEncoder{fbb, attrs});
      },
      step.attrs);
  auto source = fb::CreateSourceDirect(fbb, step.source.node_name.c_str(), step.source.aten_target.c_str(),
                                       step.source.location.c_str(), step.source.code.c_str());
  return fb::CreateStepDirect(fbb, static_cast<uint16_t>(step.attrs.index()), &attrs, &step.inputs, &step.outputs,
                              step.tactic.c_str(), source);
}

std::vector<uint8_t> build_metadata(const Plan& plan) {
  FlatBufferBuilder fbb(4096);
  fbb.ForceDefaults(true);  // every field present: the layout does not depend on values
  auto build = write_build_info(fbb, plan.build);

  std::vector<Offset<fb::Tensor>> tensors;
  tensors.reserve(plan.tensors.size());
  for (const PlanTensor& t : plan.tensors)
    tensors.push_back(fb::CreateTensorDirect(fbb, t.name.c_str(), static_cast<uint8_t>(t.dtype), &t.shape,
                                             static_cast<uint8_t>(t.storage), t.offset, t.nbytes));
  std::vector<Offset<fb::Step>> steps;
  steps.reserve(plan.steps.size());
  for (const PlanStep& s : plan.steps) steps.push_back(write_step(fbb, s));
  std::vector<Offset<fb::Symbol>> symbols;
  for (const PlanSymbol& s : plan.symbols) symbols.push_back(fb::CreateSymbolDirect(fbb, s.name.c_str(), s.min, s.max));

  auto root = fb::CreatePlanDirect(fbb, build, &tensors, &steps, &plan.inputs, &plan.outputs, &symbols,
                                   plan.arena_bytes, plan.workspace_bytes);
  fb::FinishPlanBuffer(fbb, root);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

Result<std::vector<uint8_t>> serialize_plan(const Plan& plan) {
  if (Status st = validate_plan(plan); !st.ok())
    return internal_error("the compiler produced an invalid plan: " + st.message());

  std::vector<uint8_t> metadata = build_metadata(plan);
  EngineHeader header;
  header.metadata_offset = kEngineHeaderSize;
  header.metadata_size = metadata.size();
  header.constants_offset = align_up(header.metadata_offset + header.metadata_size, kEngineSectionAlignment);
  header.constants_size = plan.constants.size();
  header.file_size = header.constants_offset + header.constants_size + kEngineChecksumSize;

  std::vector<uint8_t> file(header.file_size, 0);  // zero padding between sections
  encode_engine_header(header, file.data());
  std::memcpy(file.data() + header.metadata_offset, metadata.data(), metadata.size());
  if (!plan.constants.empty())
    std::memcpy(file.data() + header.constants_offset, plan.constants.data(), plan.constants.size());
  const size_t body = file.size() - kEngineChecksumSize;
  uint64_t sum = engine_checksum(file.data(), body);
  for (size_t i = 0; i < kEngineChecksumSize; ++i) file[body + i] = static_cast<uint8_t>(sum >> (8 * i));
  return file;
}

}  // namespace ingot
