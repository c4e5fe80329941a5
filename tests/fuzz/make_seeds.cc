// Writes seed inputs for the fuzzers: a small valid engine (three steps,
// constants, two outputs, every attribute type) and a few .npy files, so that
// fuzzing starts from bytes that get past the magic and the checksum.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/npy.h"
#include "engine/engine_format.h"

namespace {

ingot::PlanTensor tensor(const char* name, std::vector<int64_t> shape, ingot::TensorStorage storage, uint64_t offset) {
  ingot::PlanTensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.storage = storage;
  t.offset = offset;
  t.nbytes = static_cast<uint64_t>(t.numel()) * 4;
  return t;
}

ingot::Plan seed_plan() {
  using namespace ingot;
  Plan p;
  p.build = {"0.1.0", "seed.pt2", "00ff", "2.10.0", "TRAINING", {{"precision", "fp32"}}, "cpu", "x86_64", "", "", ""};
  p.tensors = {tensor("x", {2, 3}, TensorStorage::kInput, 0), tensor("w", {2, 3}, TensorStorage::kConstant, 0),
               tensor("t", {2, 3}, TensorStorage::kArena, 0), tensor("y", {2, 3}, TensorStorage::kOutput, 0),
               tensor("s", {2}, TensorStorage::kOutput, 1), tensor("u", {2, 3}, TensorStorage::kArena, 32)};
  p.inputs = {0};
  p.outputs = {3, 4};
  p.arena_bytes = 64;
  p.constants.assign(256, 0);
  auto add_step = [&](OpAttrs attrs, std::vector<int32_t> in, int32_t out) {
    PlanStep s;
    s.attrs = std::move(attrs);
    s.inputs = std::move(in);
    s.outputs = {out};
    s.source = {"node", "aten.op.default", "model.py:1", "y = f(x)"};
    p.steps.push_back(std::move(s));
  };
  add_step(BinaryAttrs{0}, {0, 1}, 2);
  add_step(UnaryAttrs{11, 0.0, 0.0}, {2}, 3);
  add_step(ReduceAttrs{0, {1}, false, 1.0}, {3}, 4);
  UpsampleAttrs up;
  up.scales = {1.0, 2.0};
  add_step(up, {2}, 5);
  ConvAttrs conv;
  conv.stride = {1, 1};
  conv.transposed = true;
  add_step(conv, {2, 1, -1}, 5);
  p.symbols = {{"batch", 1, 4}};
  return p;
}

bool write(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <engine corpus dir> <npy corpus dir>\n", argv[0]);
    return 2;
  }
  auto engine = ingot::serialize_plan(seed_plan());
  if (!engine.ok() || !write(std::string(argv[1]) + "/seed.engine", engine.value())) {
    std::fprintf(stderr, "cannot write the engine seed: %s\n", engine.status().to_string().c_str());
    return 1;
  }
  float values[6] = {1, 2, 3, 4, 5, 6};
  auto npy = ingot::npy::serialize(ingot::DType::kFloat32, {2, 3}, values);
  auto scalar = ingot::npy::serialize(ingot::DType::kInt64, {}, values);
  if (!npy.ok() || !scalar.ok() || !write(std::string(argv[2]) + "/seed.npy", npy.value()) ||
      !write(std::string(argv[2]) + "/scalar.npy", scalar.value()))
    return 1;
  return 0;
}
