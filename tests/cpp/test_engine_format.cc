// Engine file format: deterministic round trips, and hostile bytes (truncation,
// bit flips, wrong version, bad magic, random data) that must be refused with a
// clear message and without crashing. The last tests run tiny engines end to
// end through the runtime (Engine, ExecutionContext, CPU backend) and compare
// with hand-computed results.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/engine_format.h"
#include "ingot/ingot.h"

namespace ingot {
namespace {

void put_floats(std::vector<uint8_t>& bytes, uint64_t offset, const std::vector<float>& values) {
  if (bytes.size() < offset + values.size() * 4) bytes.resize(offset + values.size() * 4);
  std::memcpy(bytes.data() + offset, values.data(), values.size() * 4);
}

PlanTensor tensor(std::string name, std::vector<int64_t> shape, TensorStorage storage, uint64_t offset,
                  DType dtype = DType::kFloat32) {
  PlanTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.storage = storage;
  t.offset = offset;
  t.nbytes = static_cast<uint64_t>(t.numel()) * dtype_size(dtype);
  return t;
}

PlanStep step(OpAttrs attrs, std::vector<int32_t> inputs, std::vector<int32_t> outputs, std::string node) {
  PlanStep s;
  s.attrs = std::move(attrs);
  s.inputs = std::move(inputs);
  s.outputs = std::move(outputs);
  s.source = {node, "aten." + node + ".default", "model.py:" + std::to_string(node.size()), "y = f(x)"};
  return s;
}

// y = relu(x + w); s = sum(y, dim 1). x: input [2,3], w: constant [2,3].
Plan small_plan() {
  Plan p;
  p.build.ingot_version = "0.1.0";
  p.build.model_file = "tiny.pt2";
  p.build.model_hash = "0123456789abcdef0123456789abcdef";
  p.build.torch_version = "2.10.0";
  p.build.ir_dialect = "TRAINING";
  p.build.options = {{"precision", "fp32"}, {"tune", "off"}};
  p.build.backend = "cpu";
  p.build.target = "x86_64";
  p.tensors = {
      tensor("x", {2, 3}, TensorStorage::kInput, 0),
      tensor("w", {2, 3}, TensorStorage::kConstant, 0),
      tensor("t", {2, 3}, TensorStorage::kArena, 0),
      tensor("y", {2, 3}, TensorStorage::kOutput, 0),
      tensor("s", {2}, TensorStorage::kOutput, 1),
  };
  p.inputs = {0};
  p.outputs = {3, 4};
  p.arena_bytes = 64;
  p.workspace_bytes = 0;
  p.constants.assign(kConstantAlignment, 0);
  put_floats(p.constants, 0, {0.5f, 0.5f, 0.5f, -1.0f, -1.0f, -1.0f});
  p.steps.push_back(step(BinaryAttrs{static_cast<int64_t>(BinaryFn::kAdd)}, {0, 1}, {2}, "add"));
  p.steps.push_back(step(UnaryAttrs{static_cast<int64_t>(UnaryFn::kRelu), 0.0, 0.0}, {2}, {3}, "relu"));
  ReduceAttrs sum;
  sum.fn = static_cast<int64_t>(ReduceFn::kSum);
  sum.dims = {1};
  sum.keepdim = false;
  sum.correction = 0.25;  // unused by sum; checks that doubles survive
  p.steps.push_back(step(sum, {3}, {4}, "sum"));
  p.steps[1].tactic = "vectorized";
  p.symbols = {{"batch", 1, 8}};
  return p;
}

// A plan that exercises every attribute type (FloatList, IntList, Bool, ...).
Plan attr_plan() {
  Plan p = small_plan();
  p.tensors.push_back(tensor("u", {2, 3}, TensorStorage::kArena, 32));  // id 5
  UpsampleAttrs up;
  up.mode = 1;
  up.align_corners = true;
  up.scales = {1.0, 1.5};
  p.steps.push_back(step(up, {2}, {5}, "upsample"));
  ConvAttrs conv;
  conv.stride = {2, 2};
  conv.padding = {1, -1};
  conv.dilation = {};
  conv.groups = 3;
  conv.transposed = true;
  p.steps.push_back(step(conv, {2, 1, -1}, {5}, "conv"));
  return p;
}

void expect_same_plan(const Plan& a, const Plan& b) {
  const BuildInfo &x = a.build, &y = b.build;
  EXPECT_EQ(x.ingot_version, y.ingot_version);
  EXPECT_EQ(x.model_file, y.model_file);
  EXPECT_EQ(x.model_hash, y.model_hash);
  EXPECT_EQ(x.torch_version, y.torch_version);
  EXPECT_EQ(x.ir_dialect, y.ir_dialect);
  EXPECT_EQ(x.options, y.options);
  EXPECT_EQ(x.backend, y.backend);
  EXPECT_EQ(x.target, y.target);
  EXPECT_EQ(x.cuda_version, y.cuda_version);
  EXPECT_EQ(x.cublas_version, y.cublas_version);
  EXPECT_EQ(x.cudnn_version, y.cudnn_version);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].dtype, b.tensors[i].dtype);
    EXPECT_EQ(a.tensors[i].shape, b.tensors[i].shape);
    EXPECT_EQ(a.tensors[i].storage, b.tensors[i].storage);
    EXPECT_EQ(a.tensors[i].offset, b.tensors[i].offset);
    EXPECT_EQ(a.tensors[i].nbytes, b.tensors[i].nbytes);
  }
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_TRUE(a.steps[i].attrs == b.steps[i].attrs) << "step " << i << ": " << attrs_to_string(a.steps[i].attrs)
                                                      << " vs " << attrs_to_string(b.steps[i].attrs);
    EXPECT_EQ(a.steps[i].inputs, b.steps[i].inputs);
    EXPECT_EQ(a.steps[i].outputs, b.steps[i].outputs);
    EXPECT_EQ(a.steps[i].tactic, b.steps[i].tactic);
    EXPECT_EQ(a.steps[i].source.node_name, b.steps[i].source.node_name);
    EXPECT_EQ(a.steps[i].source.aten_target, b.steps[i].source.aten_target);
    EXPECT_EQ(a.steps[i].source.location, b.steps[i].source.location);
    EXPECT_EQ(a.steps[i].source.code, b.steps[i].source.code);
  }
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.outputs, b.outputs);
  ASSERT_EQ(a.symbols.size(), b.symbols.size());
  for (size_t i = 0; i < a.symbols.size(); ++i) {
    EXPECT_EQ(a.symbols[i].name, b.symbols[i].name);
    EXPECT_EQ(a.symbols[i].min, b.symbols[i].min);
    EXPECT_EQ(a.symbols[i].max, b.symbols[i].max);
  }
  EXPECT_EQ(a.arena_bytes, b.arena_bytes);
  EXPECT_EQ(a.workspace_bytes, b.workspace_bytes);
  EXPECT_EQ(a.constants, b.constants);
}

std::vector<uint8_t> serialize_or_die(const Plan& plan) {
  auto bytes = serialize_plan(plan);
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  return bytes.ok() ? bytes.value() : std::vector<uint8_t>{};
}

// Recomputes the trailing checksum after a deliberate edit, so that the checks
// behind it (version, verifier, validate_plan) are the ones exercised.
void reseal(std::vector<uint8_t>& file) {
  const size_t body = file.size() - kEngineChecksumSize;
  uint64_t sum = engine_checksum(file.data(), body);
  for (size_t i = 0; i < 8; ++i) file[body + i] = static_cast<uint8_t>(sum >> (8 * i));
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void expect_rejected(const std::vector<uint8_t>& file, const std::string& substring, const std::string& what) {
  auto plan = deserialize_plan(file.data(), file.size());
  ASSERT_FALSE(plan.ok()) << what << " was accepted";
  EXPECT_TRUE(contains(plan.status().message(), substring))
      << what << ": message '" << plan.status().message() << "' lacks '" << substring << "'";
  EXPECT_TRUE(plan.status().code() == StatusCode::kCorrupt || plan.status().code() == StatusCode::kUnsupported)
      << what << ": " << plan.status().to_string();
}

TEST(EngineFormat, RoundTripIsDeterministicAndLossless) {
  for (const Plan& plan : {small_plan(), attr_plan()}) {
    std::vector<uint8_t> first = serialize_or_die(plan);
    std::vector<uint8_t> second = serialize_or_die(plan);
    ASSERT_FALSE(first.empty());
    EXPECT_EQ(first, second);

    auto header = read_engine_header(first.data(), first.size());
    ASSERT_TRUE(header.ok()) << header.status().to_string();
    EXPECT_EQ(header->format_major, kEngineFormatMajor);
    EXPECT_EQ(header->constants_offset % 256, 0u);
    EXPECT_EQ(header->constants_size, plan.constants.size());
    EXPECT_EQ(header->file_size, first.size());
    EXPECT_EQ(std::memcmp(first.data(), "INGOTENG", 8), 0);

    auto loaded = deserialize_plan(first.data(), first.size());
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    expect_same_plan(plan, loaded.value());
    // A loaded plan serializes to the very same bytes.
    EXPECT_EQ(serialize_or_die(loaded.value()), first);
  }
}

TEST(EngineFormat, UnalignedBufferLoads) {
  std::vector<uint8_t> file = serialize_or_die(small_plan());
  std::vector<uint8_t> shifted(file.size() + 1);
  std::memcpy(shifted.data() + 1, file.data(), file.size());
  auto loaded = deserialize_plan(shifted.data() + 1, file.size());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  expect_same_plan(small_plan(), loaded.value());
}

TEST(EngineFormat, WriterRejectsInvalidPlans) {
  {
    Plan p = small_plan();
    p.steps[0].inputs[1] = 99;
    auto r = serialize_plan(p);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInternal);
    EXPECT_TRUE(contains(r.status().message(), "refers to tensor 99")) << r.status().message();
  }
  {
    Plan p = small_plan();
    p.tensors[2].nbytes = 20;
    auto r = serialize_plan(p);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.status().message(), "nbytes 20")) << r.status().message();
  }
  {
    Plan p = small_plan();
    std::get<UnaryAttrs>(p.steps[1].attrs).fn = 1000;
    auto r = serialize_plan(p);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.status().message(), "invalid unary fn value 1000")) << r.status().message();
  }
  {
    Plan p = small_plan();
    p.tensors[2].offset = 48;  // 24 bytes at 48 overruns the 64-byte arena
    auto r = serialize_plan(p);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.status().message(), "outside the 64-byte arena")) << r.status().message();
  }
  {
    Plan p = small_plan();
    p.tensors[1].shape = {int64_t{1} << 62, 4};
    auto r = serialize_plan(p);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.status().message(), "overflowing")) << r.status().message();
  }
  {
    Plan p = small_plan();
    p.steps[2].inputs.push_back(0);
    auto r = serialize_plan(p);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.status().message(), "has 2 inputs, expected 1")) << r.status().message();
  }
  // Strings are stored as C strings: one with a NUL byte would come back cut short
  // (two output names differing after the NUL read back as one: found by the fuzzer).
  for (int field = 0; field < 3; ++field) {
    Plan p = small_plan();
    std::string* target = field == 0 ? &p.tensors[p.outputs[0]].name
                          : field == 1 ? &p.steps[0].tactic
                                       : &p.build.model_file;
    target->push_back('\0');
    target->push_back('x');
    auto r = serialize_plan(p);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_TRUE(contains(r.status().message(), "holds a NUL byte")) << r.status().message();
  }
}

TEST(EngineFormat, TruncatedAtEveryLength) {
  std::vector<uint8_t> file = serialize_or_die(small_plan());
  expect_rejected({}, "not an ingot engine", "empty file");
  for (size_t len = 1; len < file.size(); ++len) {
    std::vector<uint8_t> cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(len));
    expect_rejected(cut, "truncated", "truncated to " + std::to_string(len));
  }
  std::vector<uint8_t> cut(file.begin(), file.end() - 1);
  expect_rejected(cut, "truncated: expected " + std::to_string(file.size()) + " bytes, got " +
                           std::to_string(file.size() - 1),
                  "one byte short");
  std::vector<uint8_t> longer = file;
  longer.push_back(0);
  expect_rejected(longer, "corrupt", "one byte too long");
}

TEST(EngineFormat, EveryHeaderBitFlipIsRejected) {
  const std::vector<uint8_t> file = serialize_or_die(small_plan());
  for (size_t bit = 0; bit < kEngineHeaderSize * 8; ++bit) {
    std::vector<uint8_t> bad = file;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto plan = deserialize_plan(bad.data(), bad.size());
    ASSERT_FALSE(plan.ok()) << "header bit " << bit << " flip was accepted";
    EXPECT_TRUE(plan.status().code() == StatusCode::kCorrupt || plan.status().code() == StatusCode::kUnsupported);
    if (bit < 64) {
      EXPECT_TRUE(contains(plan.status().message(), "bad magic")) << plan.status().message();
    }
  }
}

TEST(EngineFormat, BitFlipsInBodyFailTheChecksum) {
  const std::vector<uint8_t> file = serialize_or_die(small_plan());
  auto header = read_engine_header(file.data(), file.size()).value();
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    size_t byte = kEngineHeaderSize + rng() % (file.size() - kEngineHeaderSize);
    std::vector<uint8_t> bad = file;
    bad[byte] ^= static_cast<uint8_t>(1u << (rng() % 8));
    expect_rejected(bad, byte < file.size() - 8 ? "checksum mismatch" : "checksum mismatch",
                    "flip at byte " + std::to_string(byte));
  }
  // Constants specifically.
  std::vector<uint8_t> bad = file;
  bad[header.constants_offset + 3] ^= 0x10;
  expect_rejected(bad, "engine file is corrupt: checksum mismatch", "constants flip");
}

// With the checksum recomputed, every single-bit flip of the metadata must be
// caught by the Verifier or validate_plan, or give a plan that still validates;
// never a crash (run under ASan/UBSan in the fuzz build).
TEST(EngineFormat, ResealedMetadataBitFlipsNeverCrash) {
  const std::vector<uint8_t> file = serialize_or_die(attr_plan());
  auto header = read_engine_header(file.data(), file.size()).value();
  size_t rejected = 0, total = 0;
  for (size_t byte = header.metadata_offset; byte < header.metadata_offset + header.metadata_size; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = file;
      bad[byte] ^= static_cast<uint8_t>(1u << bit);
      reseal(bad);
      auto plan = deserialize_plan(bad.data(), bad.size());
      ++total;
      if (!plan.ok()) {
        ++rejected;
        EXPECT_TRUE(plan.status().code() == StatusCode::kCorrupt || plan.status().code() == StatusCode::kUnsupported)
            << plan.status().to_string();
      } else {
        EXPECT_TRUE(validate_plan(plan.value()).ok());
      }
    }
  }
  EXPECT_GT(rejected, total / 4) << "the verifier and validate_plan should catch most structural flips";
}

TEST(EngineFormat, WrongMajorVersionNamesBothVersions) {
  std::vector<uint8_t> file = serialize_or_die(small_plan());
  file[8] = 2;  // major = 2
  file[10] = 3;  // minor = 3
  reseal(file);
  expect_rejected(file, "format version 2.3 is not supported by this ingot runtime (format 1.0)", "major 2");
  expect_rejected(file, "rebuild the engine", "major 2");
  auto plan = deserialize_plan(file.data(), file.size());
  EXPECT_EQ(plan.status().code(), StatusCode::kUnsupported);

  // A newer minor version of the same major loads.
  std::vector<uint8_t> minor = serialize_or_die(small_plan());
  minor[10] = 7;
  reseal(minor);
  EXPECT_TRUE(deserialize_plan(minor.data(), minor.size()).ok());
}

TEST(EngineFormat, BadMagicAndRandomBytes) {
  std::vector<uint8_t> file = serialize_or_die(small_plan());
  file[0] = 'X';
  expect_rejected(file, "not an ingot engine (bad magic)", "bad magic");

  std::mt19937 rng(1234);
  for (int i = 0; i < 500; ++i) {
    std::vector<uint8_t> junk(rng() % 2048);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    expect_rejected(junk, "not an ingot engine", "random bytes");
    // Random bytes behind a valid magic.
    if (junk.size() >= 8) {
      std::memcpy(junk.data(), "INGOTENG", 8);
      auto plan = deserialize_plan(junk.data(), junk.size());
      EXPECT_FALSE(plan.ok());
    }
  }
  std::string text = "PK\x03\x04 this is a zip, not an engine, and it is long enough to hold a header......";
  expect_rejected(std::vector<uint8_t>(text.begin(), text.end()), "not an ingot engine (bad magic)", "zip");
}

TEST(EngineFormat, UnknownOpKindIsUnsupported) {
  Plan p = small_plan();
  std::vector<uint8_t> file = serialize_or_die(p);
  // Patch the first Unary step's op field (a little-endian ushort, stored
  // because of ForceDefaults) to a value past the op list.
  auto header = read_engine_header(file.data(), file.size()).value();
  bool patched = false;
  for (size_t i = header.metadata_offset; i + 1 < header.metadata_offset + header.metadata_size; ++i) {
    std::vector<uint8_t> bad = file;
    if (bad[i] == static_cast<uint8_t>(OpKind::kUnary) && bad[i + 1] == 0) {
      bad[i] = 0xff;
      bad[i + 1] = 0x7f;
      reseal(bad);
      auto plan = deserialize_plan(bad.data(), bad.size());
      if (!plan.ok() && contains(plan.status().message(), "unknown to this ingot runtime")) {
        EXPECT_EQ(plan.status().code(), StatusCode::kUnsupported);
        patched = true;
        break;
      }
    }
  }
  EXPECT_TRUE(patched) << "could not find the op field to patch";
}

// ---------------------------------------------------------------- runtime

std::vector<float> read_floats(const TensorView& view) {
  std::vector<float> out(static_cast<size_t>(view.numel()));
  std::memcpy(out.data(), view.data, out.size() * sizeof(float));
  return out;
}

TEST(EngineRuntime, RunsSmallPlanEndToEnd) {
  std::vector<uint8_t> file = serialize_or_die(small_plan());
  auto engine = Engine::load_memory(file.data(), file.size());
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const Engine& e = *engine.value();
  ASSERT_EQ(e.inputs().size(), 1u);
  EXPECT_EQ(e.inputs()[0].name, "x");
  EXPECT_EQ(e.inputs()[0].shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(e.outputs().size(), 2u);
  EXPECT_EQ(e.outputs()[1].name, "s");
  EXPECT_EQ(e.info().format_version, "1.0");
  EXPECT_EQ(e.info().model_hash, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(e.info().backend, "cpu");
  EXPECT_EQ(e.info().num_steps, 3u);
  EXPECT_EQ(e.info().constants_bytes, 256u);
  EXPECT_EQ(e.info().options.size(), 2u);

  auto ctx = e.create_context();
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  ExecutionContext& c = *ctx.value();

  // Missing binding, unknown name, wrong shape: clear errors.
  Status st = c.run();
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "input 'x' is not bound")) << st.message();
  std::vector<float> x = {-1.0f, 2.0f, -3.0f, 4.0f, 0.5f, 1.5f};
  st = c.bind_input("nope", TensorView::host(x.data(), DType::kFloat32, {2, 3}));
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(st.message(), "its inputs are: x")) << st.message();
  st = c.bind_input("x", TensorView::host(x.data(), DType::kFloat32, {3, 2}));
  EXPECT_TRUE(contains(st.message(), "input 'x': expected float32[2,3], got float32[3,2]")) << st.message();
  st = c.bind_input("x", TensorView::host(x.data(), DType::kFloat16, {2, 3}));
  EXPECT_TRUE(contains(st.message(), "expected float32[2,3], got float16[2,3]")) << st.message();
  EXPECT_FALSE(c.output(0).ok());  // nothing ran yet

  // Bind y ourselves (poisoned with NaN so an unwritten element fails); s is context-owned.
  std::vector<float> y(6, std::nanf(""));
  ASSERT_TRUE(c.bind_input("x", TensorView::host(x.data(), DType::kFloat32, {2, 3})).ok());
  ASSERT_TRUE(c.bind_output("y", TensorView::host(y.data(), DType::kFloat32, {2, 3})).ok());
  st = c.run();
  ASSERT_TRUE(st.ok()) << st.to_string();
  // relu(x + [.5,.5,.5,-1,-1,-1]) and row sums, exact in fp32.
  EXPECT_EQ(y, (std::vector<float>{0.0f, 2.5f, 0.0f, 3.0f, 0.0f, 0.5f}));
  auto s = c.output("s");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(read_floats(s.value()), (std::vector<float>{2.5f, 3.5f}));
  auto y_view = c.output(0);
  ASSERT_TRUE(y_view.ok());
  EXPECT_EQ(y_view->data, y.data());
  EXPECT_FALSE(c.output(5).ok());
}

TEST(EngineRuntime, FileRoundTripGivesBitIdenticalOutputs) {
  std::vector<uint8_t> bytes = serialize_or_die(small_plan());
  auto dir = std::filesystem::temp_directory_path() / ("ingot_engine_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "tiny.engine").string();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto from_file = Engine::load_file(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().to_string();
  auto from_memory = Engine::load_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(from_memory.ok());

  std::vector<float> x = {0.25f, -7.0f, 1e-3f, 3.0f, 1.0f, 2.0f};
  std::vector<std::vector<float>> results;
  for (const auto& engine : {from_file.value(), from_memory.value()}) {
    auto ctx = engine->create_context().value();
    ASSERT_TRUE(ctx->bind_input("x", TensorView::host(x.data(), DType::kFloat32, {2, 3})).ok());
    ASSERT_TRUE(ctx->run().ok());
    std::vector<float> all = read_floats(ctx->output(0).value());
    auto s = read_floats(ctx->output(1).value());
    all.insert(all.end(), s.begin(), s.end());
    results.push_back(all);
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4), 0);

  auto missing = Engine::load_file((dir / "missing.engine").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(missing.status().message(), "missing.engine")) << missing.status().message();

  bytes.resize(bytes.size() - 10);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto truncated = Engine::load_file(path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_TRUE(contains(truncated.status().message(), "tiny.engine")) << truncated.status().message();
  EXPECT_TRUE(contains(truncated.status().message(), "truncated")) << truncated.status().message();
  std::filesystem::remove_all(dir);
}

TEST(EngineRuntime, CudaEngineWithoutCudaIsRefused) {
#ifndef INGOT_WITH_CUDA
  Plan p = small_plan();
  p.build.backend = "cuda";
  p.build.target = "sm_90";
  std::vector<uint8_t> bytes = serialize_or_die(p);
  auto engine = Engine::load_memory(bytes.data(), bytes.size());
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(engine.status().message(),
                       "this engine targets cuda (sm_90) but this ingot runtime was built without CUDA"))
      << engine.status().message();
#else
  GTEST_SKIP() << "built with CUDA";
#endif
}

}  // namespace
}  // namespace ingot
