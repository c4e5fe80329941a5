// Graph-building helpers shared by the IR and pass tests (tests/cpp/test_ir.cc,
// test_passes.cc, test_lower_precision.cc, test_fuse_*.cc, test_layout.cc): inputs,
// op nodes with a fresh output value, float32 constants (given or seeded random),
// outputs and op counts. Test files pull them in with `using namespace ingot::test;`.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace ingot::test {

inline ValueId add_input(Graph& g, const std::string& name, DType dt, std::vector<int64_t> shape) {
  Value v;
  v.name = name;
  v.dtype = dt;
  v.shape = std::move(shape);
  ValueId id = g.add_value(std::move(v));
  g.inputs.push_back(id);
  return id;
}
inline ValueId add_input(Graph& g, const std::string& name, std::vector<int64_t> shape,
                         DType dt = DType::kFloat32) {
  return add_input(g, name, dt, std::move(shape));
}

// One node writing a new value (named after node_name, else "v<id>").
inline ValueId add_op(Graph& g, OpAttrs attrs, std::vector<ValueId> inputs, DType dt, std::vector<int64_t> shape,
                      const std::string& node_name = "", const std::string& location = "") {
  Value v;
  v.name = node_name.empty() ? "v" + std::to_string(g.num_values()) : node_name;
  v.dtype = dt;
  v.shape = std::move(shape);
  ValueId out = g.add_value(std::move(v));
  Node n;
  n.attrs = std::move(attrs);
  n.inputs = std::move(inputs);
  n.outputs = {out};
  n.source.node_name = node_name;
  n.source.location = location;
  g.add_node(std::move(n));
  return out;
}
inline ValueId add_op(Graph& g, OpAttrs attrs, std::vector<ValueId> inputs, std::vector<int64_t> shape,
                      DType dt = DType::kFloat32) {
  return add_op(g, std::move(attrs), std::move(inputs), dt, std::move(shape));
}

inline ValueId add_f32_constant(Graph& g, const std::string& name, std::vector<int64_t> shape,
                                const std::vector<float>& data) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(data.size() * sizeof(float));
  std::memcpy(bytes->data(), data.data(), bytes->size());
  return g.add_constant(name, DType::kFloat32, std::move(shape), bytes);
}

inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A float32 constant of uniform values in [-1, 1) from `seed`.
inline ValueId add_constant(Graph& g, const std::string& name, std::vector<int64_t> shape, uint32_t seed) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return add_f32_constant(g, name, std::move(shape), random_floats(static_cast<size_t>(n), seed));
}

// Float32 bytes of uniform values in [-1, 1) for each graph input (seeds seed, seed+1, ...).
inline std::vector<std::vector<uint8_t>> random_input_bytes(const Graph& g, uint32_t seed = 100) {
  std::vector<std::vector<uint8_t>> in;
  for (ValueId id : g.inputs) {
    std::vector<float> v = random_floats(static_cast<size_t>(g.value(id).numel()), seed++);
    std::vector<uint8_t> b(v.size() * sizeof(float));
    std::memcpy(b.data(), v.data(), b.size());
    in.push_back(std::move(b));
  }
  return in;
}

inline std::vector<float> floats_of(const std::vector<uint8_t>& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

inline void set_output(Graph& g, ValueId v) {
  g.outputs.push_back(v);
  g.output_names.push_back("output." + std::to_string(g.outputs.size() - 1));
}

inline size_t count_ops(const Graph& g, OpKind kind) {
  size_t n = 0;
  for (const Node& node : g.nodes()) n += node.kind() == kind;
  return n;
}

}  // namespace ingot::test
