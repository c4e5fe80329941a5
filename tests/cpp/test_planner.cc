// Tests of the memory planner: no two simultaneously live activations overlap
// in the arena (checked by brute force over every pair), IO and constant
// storage, alignment, output copies, and determinism.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "engine/plan.h"
#include "ir/graph.h"
#include "planner/planner.h"

namespace ingot {
namespace {

ValueId add_input(Graph& g, const std::string& name, std::vector<int64_t> shape) {
  Value v;
  v.name = name;
  v.shape = std::move(shape);
  ValueId id = g.add_value(std::move(v));
  g.inputs.push_back(id);
  return id;
}

ValueId add_op(Graph& g, OpAttrs attrs, std::vector<ValueId> inputs, std::vector<int64_t> shape) {
  Value v;
  v.name = "v" + std::to_string(g.num_values());
  v.shape = std::move(shape);
  ValueId out = g.add_value(std::move(v));
  Node n;
  n.attrs = std::move(attrs);
  n.inputs = std::move(inputs);
  n.outputs = {out};
  n.source.node_name = "node_" + std::to_string(g.num_nodes());
  g.add_node(std::move(n));
  return out;
}

ValueId add_constant(Graph& g, const std::string& name, std::vector<int64_t> shape, float fill) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> data(static_cast<size_t>(n), fill);
  auto bytes = std::make_shared<std::vector<uint8_t>>(data.size() * sizeof(float));
  std::memcpy(bytes->data(), data.data(), bytes->size());
  return g.add_constant(name, DType::kFloat32, std::move(shape), bytes);
}

OpAttrs relu() { return UnaryAttrs{.fn = static_cast<int64_t>(UnaryFn::kRelu)}; }
OpAttrs add() { return BinaryAttrs{.fn = static_cast<int64_t>(BinaryFn::kAdd)}; }

BuildInfo info() {
  BuildInfo b;
  b.backend = "cpu";
  b.target = "x86_64";
  return b;
}

// Lifetimes derived from the plan itself (first write .. last read), then every
// pair of arena tensors with overlapping lifetimes must occupy disjoint bytes.
// Whether step s reads tensor `in` and writes tensor `out` (an in-place step).
bool in_place_step(const Plan& plan, size_t in, size_t out, int s) {
  const PlanStep& step = plan.steps[size_t(s)];
  bool reads = false, writes = false;
  for (int32_t t : step.inputs) reads |= t == int32_t(in);
  for (int32_t t : step.outputs) writes |= t == int32_t(out);
  return reads && writes;
}

void expect_no_live_overlap(const Plan& plan) {
  const size_t n = plan.tensors.size();
  std::vector<int> first(n, INT32_MAX), last(n, -1);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    for (int32_t t : plan.steps[s].outputs) {
      first[size_t(t)] = std::min(first[size_t(t)], int(s));
      last[size_t(t)] = std::max(last[size_t(t)], int(s));
    }
    for (int32_t t : plan.steps[s].inputs)
      if (t >= 0) last[size_t(t)] = std::max(last[size_t(t)], int(s));
  }
  for (size_t a = 0; a < n; ++a) {
    const PlanTensor& ta = plan.tensors[a];
    if (ta.storage != TensorStorage::kArena) continue;
    ASSERT_NE(first[a], INT32_MAX) << "arena tensor " << a << " is never written";
    EXPECT_EQ(ta.offset % kArenaAlignment, 0u);
    EXPECT_LE(ta.offset + ta.nbytes, plan.arena_bytes);
    for (size_t b = a + 1; b < n; ++b) {
      const PlanTensor& tb = plan.tensors[b];
      if (tb.storage != TensorStorage::kArena || ta.nbytes == 0 || tb.nbytes == 0) continue;
      bool live_together = !(last[a] < first[b] || last[b] < first[a]);
      // In place: b is written by the step that reads a for the last time, over a's bytes.
      const bool handover = ta.offset == tb.offset && ta.nbytes == tb.nbytes &&
                            ((last[a] == first[b] && in_place_step(plan, a, b, first[b])) ||
                             (last[b] == first[a] && in_place_step(plan, b, a, first[a])));
      if (handover) continue;
      bool overlap = ta.offset < tb.offset + tb.nbytes && tb.offset < ta.offset + ta.nbytes;
      EXPECT_FALSE(live_together && overlap) << "tensors " << a << " and " << b << " overlap while both live";
    }
  }
}

TEST(Planner, ChainReusesMemoryAndSetsStorage) {
  Graph g;
  ValueId x = add_input(g, "x", {256});
  ValueId w = add_constant(g, "w", {256}, 2.0f);
  ValueId v = add_op(g, add(), {x, w}, {256});
  for (int i = 0; i < 6; ++i) v = add_op(g, relu(), {v}, {256});
  g.outputs = {v};
  g.output_names = {"y"};
  auto plan = build_plan(g, info());
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  ASSERT_TRUE(validate_plan(*plan).ok());
  EXPECT_EQ(plan->steps.size(), 7u);
  // Every relu writes over its input (the input's last use): one activation buffer.
  EXPECT_EQ(plan->arena_bytes, 1u * 1024);
  expect_no_live_overlap(*plan);
  const PlanTensor& in = plan->tensors[size_t(plan->inputs[0])];
  EXPECT_EQ(in.storage, TensorStorage::kInput);
  EXPECT_EQ(in.offset, 0u);
  EXPECT_EQ(in.name, "x");
  const PlanTensor& out = plan->tensors[size_t(plan->outputs[0])];
  EXPECT_EQ(out.storage, TensorStorage::kOutput);
  EXPECT_EQ(out.name, "y");
  EXPECT_EQ(plan->steps.back().outputs[0], plan->outputs[0]);
  const PlanTensor& wt = plan->tensors[size_t(plan->steps[0].inputs[1])];
  EXPECT_EQ(wt.storage, TensorStorage::kConstant);
  EXPECT_EQ(wt.offset % kConstantAlignment, 0u);
  float first;
  std::memcpy(&first, plan->constants.data() + wt.offset, 4);
  EXPECT_EQ(first, 2.0f);
  EXPECT_EQ(plan->steps[0].source.node_name, "node_0");
}

TEST(Planner, ConstantsAlignedInFirstUseOrderAndShared) {
  Graph g;
  ValueId x = add_input(g, "x", {3});
  ValueId c_late = add_constant(g, "late", {3}, 1.0f);   // declared first, used second
  ValueId c_early = add_constant(g, "early", {3}, 5.0f);
  Value tied = g.value(c_early);                          // same bytes, another value
  tied.name = "tied";
  ValueId c_tied = g.add_value(tied);
  ValueId a = add_op(g, add(), {x, c_early}, {3});
  ValueId b = add_op(g, add(), {a, c_late}, {3});
  ValueId c = add_op(g, add(), {b, c_tied}, {3});
  g.outputs = {c};
  auto plan = build_plan(g, info());
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  const PlanTensor& early = plan->tensors[size_t(plan->steps[0].inputs[1])];
  const PlanTensor& late = plan->tensors[size_t(plan->steps[1].inputs[1])];
  const PlanTensor& tied_t = plan->tensors[size_t(plan->steps[2].inputs[1])];
  EXPECT_EQ(early.offset, 0u);
  EXPECT_EQ(late.offset, 256u);
  EXPECT_EQ(tied_t.offset, early.offset);  // shared bytes stored once
  EXPECT_EQ(plan->constants.size(), 256u + 12u);
}

TEST(Planner, OutputsThatAliasGetCopySteps) {
  // Outputs: the input itself, a constant, the same activation twice.
  Graph g;
  ValueId x = add_input(g, "x", {4});
  ValueId k = add_constant(g, "k", {4}, 3.0f);
  ValueId r = add_op(g, relu(), {x}, {4});
  g.outputs = {x, k, r, r};
  g.output_names = {"same_as_input", "constant", "relu", "relu"};
  auto plan = build_plan(g, info());
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  ASSERT_TRUE(validate_plan(*plan).ok());
  ASSERT_EQ(plan->outputs.size(), 4u);
  // relu writes output 2 directly; outputs 0, 1 and 3 are copies.
  EXPECT_EQ(plan->steps.size(), 4u);
  std::vector<int> writers(plan->tensors.size(), 0);
  for (const PlanStep& s : plan->steps) {
    for (int32_t t : s.outputs) ++writers[size_t(t)];
  }
  for (size_t j = 0; j < 4; ++j) {
    const PlanTensor& t = plan->tensors[size_t(plan->outputs[j])];
    EXPECT_EQ(t.storage, TensorStorage::kOutput);
    EXPECT_EQ(t.offset, j);
    EXPECT_EQ(writers[size_t(plan->outputs[j])], 1) << "output " << j;
  }
  EXPECT_EQ(plan->steps[0].outputs[0], plan->outputs[2]);
  EXPECT_EQ(op_kind(plan->steps[1].attrs), OpKind::kReshape);
  EXPECT_EQ(plan->steps[1].inputs[0], plan->inputs[0]);
  // Duplicate names are made unique (outputs are bound by name).
  EXPECT_NE(plan->tensors[size_t(plan->outputs[2])].name, plan->tensors[size_t(plan->outputs[3])].name);
}

TEST(Planner, ReshapedInputsAreViewsOfTheBoundInput) {
  // x reshaped, then read by a step: no copy step, the step reads a tensor
  // stored as input 0 with the reshaped shape. A reshaped input returned as an
  // output still gets its copy.
  Graph g;
  ValueId x = add_input(g, "x", {2, 6});
  ValueId v = add_op(g, ReshapeAttrs{.shape = {3, 4}}, {x}, {3, 4});
  ValueId r = add_op(g, relu(), {v}, {3, 4});
  ValueId w = add_op(g, ReshapeAttrs{.shape = {12}}, {x}, {12});
  g.outputs = {r, w};
  g.output_names = {"relu", "flat"};
  auto plan = build_plan(g, info());
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  ASSERT_TRUE(validate_plan(*plan).ok()) << validate_plan(*plan).to_string();
  ASSERT_EQ(plan->steps.size(), 2u);
  EXPECT_EQ(op_kind(plan->steps[0].attrs), OpKind::kUnary);
  const PlanTensor& view = plan->tensors[size_t(plan->steps[0].inputs[0])];
  EXPECT_EQ(view.storage, TensorStorage::kInput);
  EXPECT_EQ(view.offset, 0u);
  EXPECT_EQ(view.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_NE(plan->steps[0].inputs[0], plan->inputs[0]);
  EXPECT_EQ(op_kind(plan->steps[1].attrs), OpKind::kReshape);  // the output copy
  // A view that differs from its input in size is a corrupt plan.
  Plan bad = *plan;
  bad.tensors[size_t(bad.steps[0].inputs[0])].shape = {3, 5};
  bad.tensors[size_t(bad.steps[0].inputs[0])].nbytes = 60;
  const Status st = validate_plan(bad);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.to_string().find("differs from it in dtype or size"), std::string::npos) << st.to_string();
}

TEST(Planner, RandomDagsNeverOverlapAndAreDeterministic) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 30; ++trial) {
    Graph g;
    std::vector<ValueId> pool = {add_input(g, "x", {64})};
    const int nodes = 10 + int(rng() % 40);
    for (int i = 0; i < nodes; ++i) {
      // Sizes vary so best fit has gaps to choose from; shapes are not checked by the planner.
      int64_t len = 1 + int64_t(rng() % 700);
      ValueId a = pool[rng() % pool.size()];
      ValueId b = pool[rng() % pool.size()];
      pool.push_back(rng() % 2 ? add_op(g, relu(), {a}, g.value(a).shape) : add_op(g, add(), {a, b}, {len}));
    }
    g.outputs = {pool.back(), pool[pool.size() / 2]};
    auto p1 = build_plan(g, info());
    ASSERT_TRUE(p1.ok()) << p1.status().to_string();
    expect_no_live_overlap(*p1);
    auto p2 = build_plan(g, info());
    ASSERT_TRUE(p2.ok());
    ASSERT_EQ(p1->tensors.size(), p2->tensors.size());
    for (size_t t = 0; t < p1->tensors.size(); ++t) {
      EXPECT_EQ(p1->tensors[t].offset, p2->tensors[t].offset);
      EXPECT_EQ(p1->tensors[t].storage, p2->tensors[t].storage);
    }
    EXPECT_EQ(p1->arena_bytes, p2->arena_bytes);
  }
}

TEST(PackArena, BruteForceNoOverlapAndBounds) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<ArenaRequest> req;
    const int n = 1 + int(rng() % 60);
    uint64_t total = 0;
    for (int i = 0; i < n; ++i) {
      int32_t a = int32_t(rng() % 50), b = int32_t(rng() % 50);
      req.push_back({uint64_t(rng() % 5000), std::min(a, b), std::max(a, b)});
      total += (req.back().bytes + 255) / 256 * 256;
    }
    uint64_t arena = 0;
    auto off = pack_arena(req, &arena);
    EXPECT_LE(arena, total);
    // At least the largest set of simultaneously live buffers.
    uint64_t peak = 0;
    for (int32_t s = 0; s < 50; ++s) {
      uint64_t live = 0;
      for (const auto& r : req)
        if (r.first <= s && s <= r.last) live += (r.bytes + 255) / 256 * 256;
      peak = std::max(peak, live);
    }
    EXPECT_GE(arena, peak);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(off[size_t(i)] % 256, 0u);
      EXPECT_LE(off[size_t(i)] + req[size_t(i)].bytes, arena);
      for (int j = i + 1; j < n; ++j) {
        const auto &a = req[size_t(i)], &b = req[size_t(j)];
        if (a.bytes == 0 || b.bytes == 0 || a.last < b.first || b.last < a.first) continue;
        bool overlap = off[size_t(i)] < off[size_t(j)] + b.bytes && off[size_t(j)] < off[size_t(i)] + a.bytes;
        EXPECT_FALSE(overlap) << "trial " << trial << " requests " << i << ", " << j;
      }
    }
  }
}

}  // namespace
}  // namespace ingot
