// `ingot bench ENGINE`: measures an engine the way trtexec does. It loads the
// engine, creates one execution context, binds seeded random (or .npy) inputs,
// warms up for a fixed time, then runs for a duration or an iteration count and
// reports latency percentiles, throughput and, for CUDA engines, GPU compute time
// (CUDA events around each enqueue) next to host enqueue time (wall time of the
// enqueue call). CUDA inputs and outputs stay in device memory during timing
// (like trtexec --noDataTransfers), so the numbers are the engine's own work.
// --profile times every plan step through a separate backend context
// (BackendContext::profile_steps; on CUDA each step replayed in a CUDA graph of
// its own, so the steps add up to the engine's latency) and prints the steps
// sorted by time with the tactic the tuner chose. --json writes every number for scripts (bench/compare.py).
//
// Input loading duplicates a few lines of cmd_run.cc on purpose: those helpers
// are private to that file, and the two commands may diverge (bench needs device
// copies; run needs host outputs).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>

#ifdef INGOT_WITH_CUDA
#include <cuda_runtime.h>
#endif

#include "cli_common.h"
#include "core/npy.h"
#include "engine/plan.h"
#include "ingot/ingot.h"
#include "ir/ops.h"
#include "runtime/backend.h"
#include "runtime/engine_impl.h"

namespace ingot::cli {

void register_bench_command(CLI::App& app, Action& action);

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string engine;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  uint64_t seed = 0;
  double warmup_ms = 200;
  double duration_s = 3;
  int iterations = 0;  // > 0: exactly this many timed runs, ignoring --duration-s
  std::string batch_label;
  bool profile = false;
  int profile_iterations = 20;
  std::string json_path;
  bool no_graph = false;
};


// Summary statistics of one series of per-iteration times (milliseconds).
struct Stats {
  double min = 0, max = 0, mean = 0, median = 0, p90 = 0, p99 = 0;
  size_t count = 0;
};

Stats summarize(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  // Nearest-rank percentiles: always a measured value, never an interpolation.
  auto pct = [&](double p) {
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * double(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  s.count = v.size();
  s.min = v.front();
  s.max = v.back();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  s.p90 = pct(90);
  s.p99 = pct(99);
  return s;
}

nlohmann::json stats_json(const Stats& s) {
  return {{"min", s.min}, {"max", s.max}, {"mean", s.mean}, {"median", s.median},
          {"p90", s.p90}, {"p99", s.p99}, {"count", s.count}};
}



// Inputs in the engine's order (which is also the backend's order).
Result<std::vector<HostTensor>> load_inputs(const BenchArgs& args, const Engine& engine) {
  std::map<std::string, HostTensor> given;
  for (const std::string& spec : args.inputs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      return invalid_argument("--input expects NAME=FILE.npy, got '" + spec + "'");
    std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
    auto info = std::find_if(engine.inputs().begin(), engine.inputs().end(),
                             [&](const TensorInfo& t) { return t.name == name; });
    if (info == engine.inputs().end()) {
      std::string names;
      for (const auto& t : engine.inputs()) names += (names.empty() ? "" : ", ") + t.name;
      return not_found("the engine has no input named '" + name + "'; its inputs are: " + names);
    }
    if (given.count(name)) return invalid_argument("input '" + name + "' is given twice");
    Result<npy::Array> array = npy::read_file(file);
    if (!array.ok()) return array.status().with_context("input '" + name + "' (" + file + ")");
    if (array->dtype != info->dtype || array->shape != info->shape)
      return invalid_argument("input '" + name + "' (" + file + ") is " + dtype_name(array->dtype) +
                              shape_to_string(array->shape) + ", but the engine expects " + dtype_name(info->dtype) +
                              shape_to_string(info->shape));
    given[name] = HostTensor{array->dtype, array->shape, std::move(array->data)};
  }
  std::mt19937_64 rng(args.seed);
  std::vector<HostTensor> ordered;
  for (const TensorInfo& info : engine.inputs()) {
    auto it = given.find(info.name);
    ordered.push_back(it != given.end() ? std::move(it->second) : random_tensor(info, rng));
  }
  return ordered;
}

// Device memory for inputs/outputs and the bench's own stream. On a CPU engine
// (or a build without CUDA) everything here stays empty and host memory is used.
struct DeviceResources {
  bool active = false;
#ifdef INGOT_WITH_CUDA
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  std::vector<void*> buffers;
  ~DeviceResources() {
    for (void* p : buffers) cudaFree(p);
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    if (stream) cudaStreamDestroy(stream);
  }
#endif
  void* stream_ptr() const {
#ifdef INGOT_WITH_CUDA
    return stream;
#else
    return nullptr;
#endif
  }
};

#ifdef INGOT_WITH_CUDA
Status cuda_check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return {};
  return device_error(std::string(what) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}
#endif

// The views the engine runs on: device copies for CUDA engines, host buffers otherwise.
struct Bindings {
  std::vector<TensorView> inputs, outputs;
  std::vector<std::vector<uint8_t>> host_outputs;  // CPU engines only
};

Result<Bindings> make_bindings(const Engine& engine, std::vector<HostTensor>& inputs, DeviceResources& dev) {
  Bindings b;
  if (dev.active) {
#ifdef INGOT_WITH_CUDA
    for (size_t i = 0; i < inputs.size(); ++i) {
      void* p = nullptr;
      INGOT_RETURN_IF_ERROR(cuda_check(cudaMalloc(&p, std::max<size_t>(inputs[i].data.size(), 1)), "cudaMalloc"));
      dev.buffers.push_back(p);
      INGOT_RETURN_IF_ERROR(
          cuda_check(cudaMemcpy(p, inputs[i].data.data(), inputs[i].data.size(), cudaMemcpyHostToDevice), "cudaMemcpy"));
      b.inputs.push_back(TensorView::device(p, inputs[i].dtype, inputs[i].shape));
    }
    for (const TensorInfo& info : engine.outputs()) {
      void* p = nullptr;
      const size_t bytes = static_cast<size_t>(numel(info.shape)) * dtype_size(info.dtype);
      INGOT_RETURN_IF_ERROR(cuda_check(cudaMalloc(&p, std::max<size_t>(bytes, 1)), "cudaMalloc"));
      dev.buffers.push_back(p);
      b.outputs.push_back(TensorView::device(p, info.dtype, info.shape));
    }
    return b;
#endif
  }
  for (HostTensor& t : inputs) b.inputs.push_back(TensorView::host(t.data.data(), t.dtype, t.shape));
  b.host_outputs.resize(engine.outputs().size());
  for (size_t i = 0; i < engine.outputs().size(); ++i) {
    const TensorInfo& info = engine.outputs()[i];
    b.host_outputs[i].resize(std::max<size_t>(static_cast<size_t>(numel(info.shape)) * dtype_size(info.dtype), 1));
    b.outputs.push_back(TensorView::host(b.host_outputs[i].data(), info.dtype, info.shape));
  }
  return b;
}

struct IterationTimes {
  double latency_ms = 0;  // wall time from enqueue until the work is done
  double enqueue_ms = 0;  // wall time of the enqueue call alone
  double gpu_ms = -1;     // CUDA events around the enqueue; < 0 on CPU
};

Result<IterationTimes> run_once(ExecutionContext& ctx, DeviceResources& dev) {
  IterationTimes t;
  auto begin = Clock::now();
#ifdef INGOT_WITH_CUDA
  if (dev.active) {
    INGOT_RETURN_IF_ERROR(cuda_check(cudaEventRecord(dev.start, dev.stream), "cudaEventRecord"));
    Status s = ctx.enqueue(dev.stream);
    auto enqueued = Clock::now();
    if (!s.ok()) return s;
    INGOT_RETURN_IF_ERROR(cuda_check(cudaEventRecord(dev.stop, dev.stream), "cudaEventRecord"));
    INGOT_RETURN_IF_ERROR(cuda_check(cudaEventSynchronize(dev.stop), "cudaEventSynchronize"));
    auto done = Clock::now();
    float gpu = 0;
    INGOT_RETURN_IF_ERROR(cuda_check(cudaEventElapsedTime(&gpu, dev.start, dev.stop), "cudaEventElapsedTime"));
    t.enqueue_ms = std::chrono::duration<double, std::milli>(enqueued - begin).count();
    t.latency_ms = std::chrono::duration<double, std::milli>(done - begin).count();
    t.gpu_ms = gpu;
    return t;
  }
#endif
  INGOT_RETURN_IF_ERROR(ctx.run());
  t.latency_ms = t.enqueue_ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
  return t;
}

struct ProfileRow {
  size_t step;
  std::string op, tactic, node, location;
  double ms, percent;
};

Result<std::vector<ProfileRow>> profile(const Engine& engine, const Bindings& bindings, DeviceResources& dev,
                                        int iterations) {
  const Engine::Impl& impl = engine.impl();
  if (!impl.backend) return internal_error("the engine has no backend");
  INGOT_ASSIGN_OR_RETURN(std::unique_ptr<BackendContext> ctx, impl.backend->create_context());
  INGOT_ASSIGN_OR_RETURN(std::vector<double> ms,
                         ctx->profile_steps(bindings.inputs, bindings.outputs, dev.stream_ptr(), iterations));
  if (ms.size() != impl.plan.steps.size())
    return internal_error("profile_steps returned " + std::to_string(ms.size()) + " times for " +
                          std::to_string(impl.plan.steps.size()) + " steps");
  const double total = std::accumulate(ms.begin(), ms.end(), 0.0);
  std::vector<ProfileRow> rows;
  for (size_t s = 0; s < ms.size(); ++s) {
    const PlanStep& step = impl.plan.steps[s];
    rows.push_back({s, op_name(op_kind(step.attrs)), step.tactic, step.source.node_name, step.source.location, ms[s],
                    total > 0 ? 100.0 * ms[s] / total : 0.0});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const ProfileRow& a, const ProfileRow& b) { return a.ms > b.ms; });
  return rows;
}

std::string shorten(const std::string& s, size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 3) + "...";
}

void print_stats(const char* what, const Stats& s) {
  std::cout << std::fixed << std::setprecision(4) << "  " << std::left << std::setw(18) << what << std::right
            << "median " << s.median << "  p90 " << s.p90 << "  p99 " << s.p99 << "  min " << s.min << "  mean "
            << s.mean << "  max " << s.max << " ms\n";
}

void print_profile(const std::vector<ProfileRow>& rows, int iterations, bool cuda) {
  double total = 0;
  for (const auto& r : rows) total += r.ms;
  std::cout << "\nper-step profile (each step timed on its own" << (cuda ? ", replayed in a CUDA graph of its own" : "")
            << "; mean of " << iterations << " runs; sum " << std::fixed << std::setprecision(4) << total
            << " ms):\n";
  std::cout << std::left << std::setw(7) << "  step" << std::setw(18) << "op" << std::setw(22) << "tactic"
            << std::setw(40) << "source node" << std::right << std::setw(11) << "ms" << std::setw(9) << "%" << "\n";
  for (const auto& r : rows) {
    std::string node = r.node + (r.location.empty() ? "" : " (" + r.location + ")");
    std::cout << "  " << std::left << std::setw(5) << r.step << std::setw(18) << shorten(r.op, 17) << std::setw(22)
              << shorten(r.tactic.empty() ? "-" : r.tactic, 21) << std::setw(40) << shorten(node, 39) << std::right << std::setw(11) << std::setprecision(4) << r.ms << std::setw(8)
              << std::setprecision(1) << r.percent << "%\n";
  }
}

// Temporary file then rename, so a failed write leaves no partial JSON behind.
Status write_json(const std::string& path, const nlohmann::json& j) {
  const std::string temp = path + ".partial";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return io_error("cannot write '" + temp + "'");
    out << j.dump(2) << "\n";
    out.close();
    if (!out) {
      std::error_code ec;
      fs::remove(temp, ec);
      return io_error("failed writing '" + temp + "'");
    }
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    fs::remove(temp, ec);
    return io_error("cannot write '" + path + "': " + ec.message());
  }
  return {};
}

int bench_engine(const BenchArgs& args) {
  if (args.warmup_ms < 0) return report_error(invalid_argument("--warmup-ms must not be negative"));
  if (args.iterations < 0) return report_error(invalid_argument("--iterations must not be negative"));
  if (args.iterations == 0 && !(args.duration_s > 0))
    return report_error(invalid_argument("--duration-s must be positive (or give --iterations)"));
  if (args.profile_iterations < 1) return report_error(invalid_argument("--profile-iterations must be at least 1"));
  if (!args.json_path.empty()) {  // fail before minutes of measuring, not after
    fs::path parent = fs::path(args.json_path).parent_path();
    std::error_code ec;
    if (!parent.empty() && !fs::is_directory(parent, ec))
      return report_error(not_found("--json: directory '" + parent.string() + "' does not exist"));
  }
  // The CUDA context reads this when it decides whether to capture a graph.
  if (args.no_graph) setenv("INGOT_CUDA_GRAPHS", "0", 1);
  const char* graphs_env = std::getenv("INGOT_CUDA_GRAPHS");
  const bool graphs_on = !(graphs_env && std::string(graphs_env) == "0");

  Result<std::shared_ptr<const Engine>> loaded = Engine::load_file(args.engine);
  if (!loaded.ok()) return report_error(loaded.status());
  const Engine& engine = **loaded;
  const bool is_cuda = engine.info().backend == "cuda";
  Result<std::vector<HostTensor>> inputs = load_inputs(args, engine);
  if (!inputs.ok()) return report_error(inputs.status());

  DeviceResources dev;
  if (is_cuda) {
#ifdef INGOT_WITH_CUDA
    dev.active = true;
    for (auto [err, what] : {std::pair{cudaStreamCreateWithFlags(&dev.stream, cudaStreamNonBlocking), "cudaStreamCreate"},
                             std::pair{cudaEventCreate(&dev.start), "cudaEventCreate"},
                             std::pair{cudaEventCreate(&dev.stop), "cudaEventCreate"}}) {
      Status s = cuda_check(err, what);
      if (!s.ok()) return report_error(s);
    }
#else
    return report_error(unsupported("this ingot was built without CUDA and cannot time a CUDA engine"));
#endif
  }
  Result<Bindings> bindings = make_bindings(engine, *inputs, dev);
  if (!bindings.ok()) return report_error(bindings.status());

  Result<std::unique_ptr<ExecutionContext>> context = engine.create_context();
  if (!context.ok()) return report_error(context.status());
  ExecutionContext& ctx = **context;
  for (size_t i = 0; i < engine.inputs().size(); ++i) {
    Status s = ctx.bind_input(engine.inputs()[i].name, bindings->inputs[i]);
    if (!s.ok()) return report_error(s.with_context("binding input '" + engine.inputs()[i].name + "'"));
  }
  for (size_t i = 0; i < engine.outputs().size(); ++i) {
    Status s = ctx.bind_output(engine.outputs()[i].name, bindings->outputs[i]);
    if (!s.ok()) return report_error(s.with_context("binding output '" + engine.outputs()[i].name + "'"));
  }

  // Warm-up: at least two runs, because a CUDA context runs eagerly first and
  // captures its graph on the second run; then until --warmup-ms has passed.
  int warmup_runs = 0;
  const auto warmup_start = Clock::now();
  while (warmup_runs < 2 ||
         std::chrono::duration<double, std::milli>(Clock::now() - warmup_start).count() < args.warmup_ms) {
    Result<IterationTimes> t = run_once(ctx, dev);
    if (!t.ok()) return report_error(t.status().with_context("warm-up run " + std::to_string(warmup_runs)));
    ++warmup_runs;
  }

  std::vector<double> latency, enqueue, gpu;
  const auto timed_start = Clock::now();
  for (;;) {
    const double elapsed_s = std::chrono::duration<double>(Clock::now() - timed_start).count();
    if (args.iterations > 0 ? latency.size() >= size_t(args.iterations)
                            : (elapsed_s >= args.duration_s && latency.size() >= 10))
      break;
    Result<IterationTimes> t = run_once(ctx, dev);
    if (!t.ok()) return report_error(t.status().with_context("timed run " + std::to_string(latency.size())));
    latency.push_back(t->latency_ms);
    enqueue.push_back(t->enqueue_ms);
    if (t->gpu_ms >= 0) gpu.push_back(t->gpu_ms);
  }
  const double wall_s = std::chrono::duration<double>(Clock::now() - timed_start).count();

  const Stats latency_stats = summarize(latency), enqueue_stats = summarize(enqueue), gpu_stats = summarize(gpu);
  const double qps = wall_s > 0 ? double(latency.size()) / wall_s : 0;
  // Samples per inference: the leading dimension of the first input (the batch
  // for the models ingot targets); 1 for scalar or input-less engines.
  int64_t batch = 1;
  if (!engine.inputs().empty() && !engine.inputs()[0].shape.empty()) batch = engine.inputs()[0].shape[0];

  std::optional<std::vector<ProfileRow>> rows;
  if (args.profile) {
    Result<std::vector<ProfileRow>> r = profile(engine, *bindings, dev, args.profile_iterations);
    if (!r.ok()) return report_error(r.status().with_context("--profile"));
    rows = std::move(*r);
  }

  const EngineInfo& info = engine.info();
  std::cout << "engine: " << args.engine << " (" << info.backend << (info.target.empty() ? "" : ", " + info.target)
            << ", " << info.num_steps << " steps)\n";
  if (!args.batch_label.empty()) std::cout << "label: " << args.batch_label << "\n";
  std::cout << "inputs:";
  for (const TensorInfo& t : engine.inputs()) std::cout << " " << t.name << ":" << dtype_name(t.dtype) << shape_to_string(t.shape);
  std::cout << "\n";
  if (is_cuda)
    std::cout << "cuda graphs: " << (graphs_on ? "on" : "off") << "; inputs and outputs stay in GPU memory\n";
  std::cout << "warm-up: " << warmup_runs << " runs; timed: " << latency.size() << " runs in " << std::fixed
            << std::setprecision(3) << wall_s << " s\n";
  std::cout << std::setprecision(2) << "throughput: " << qps << " inferences/s (" << qps * double(batch)
            << " samples/s at batch " << batch << ")\n";
  print_stats("latency", latency_stats);
  if (is_cuda) print_stats("gpu compute", gpu_stats);
  print_stats(is_cuda ? "host enqueue" : "host run call", enqueue_stats);
  if (rows) print_profile(*rows, args.profile_iterations, is_cuda);

  if (!args.json_path.empty()) {
    nlohmann::json j;
    j["engine"] = args.engine;
    j["backend"] = info.backend;
    j["target"] = info.target;
    j["label"] = args.batch_label;
    j["batch"] = batch;
    j["num_steps"] = info.num_steps;
    j["cuda_graphs"] = is_cuda ? nlohmann::json(graphs_on) : nlohmann::json(nullptr);
    j["warmup_runs"] = warmup_runs;
    j["iterations"] = latency.size();
    j["wall_s"] = wall_s;
    j["throughput_qps"] = qps;
    j["throughput_samples_per_s"] = qps * double(batch);
    j["latency_ms"] = stats_json(latency_stats);
    j["enqueue_ms"] = stats_json(enqueue_stats);
    j["gpu_compute_ms"] = is_cuda ? stats_json(gpu_stats) : nlohmann::json(nullptr);
    j["inputs"] = nlohmann::json::array();
    for (const TensorInfo& t : engine.inputs())
      j["inputs"].push_back({{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}});
    nlohmann::json options = nlohmann::json::object();
    for (const auto& [k, v] : info.options) options[k] = v;
    j["build_options"] = options;
    if (rows) {
      j["profile_iterations"] = args.profile_iterations;
      j["profile"] = nlohmann::json::array();
      for (const ProfileRow& r : *rows)
        j["profile"].push_back({{"step", r.step}, {"op", r.op}, {"tactic", r.tactic}, {"node", r.node}, {"location", r.location},
                                {"ms", r.ms}, {"percent", r.percent}});
    }
    Status s = write_json(args.json_path, j);
    if (!s.ok()) return report_error(s);
    std::cout << "wrote " << args.json_path << "\n";
  }
  return 0;
}
}  // namespace

void register_bench_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("bench", "Benchmark an engine (latency, throughput, GPU vs host time)");
  auto args = std::make_shared<BenchArgs>();
  cmd->add_option("engine", args->engine, "engine file")->required();
  cmd->add_option("-i,--input", args->inputs, "NAME=FILE.npy (repeatable); missing inputs are seeded random");
  cmd->add_option("--seed", args->seed, "seed for random inputs")->capture_default_str();
  cmd->add_option("--warmup-ms", args->warmup_ms, "warm-up time before timing (at least 2 runs)")->capture_default_str();
  cmd->add_option("--duration-s", args->duration_s, "timed duration (at least 10 runs)")->capture_default_str();
  cmd->add_option("--iterations", args->iterations, "exactly this many timed runs (overrides --duration-s)");
  cmd->add_option("--batch-label", args->batch_label, "free-text label recorded in the report and JSON");
  cmd->add_flag("--profile", args->profile, "time every step on its own (CUDA: each replayed in a graph of its own) and print them sorted by time");
  cmd->add_option("--profile-iterations", args->profile_iterations, "runs averaged by --profile")->capture_default_str();
  cmd->add_option("--json", args->json_path, "write all numbers to this JSON file");
  cmd->add_flag("--no-graph", args->no_graph, "CUDA: run eagerly, without capturing a CUDA graph");
  cmd->callback([&action, args] { action = [args]() -> int { return bench_engine(*args); }; });
}

}  // namespace ingot::cli
