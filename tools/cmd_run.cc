// `ingot run ENGINE [--input NAME=FILE.npy]...`: runs an engine on .npy inputs (or
// seeded random ones of the recorded shape and dtype), writes DIR/output.<i>.npy in
// the model's output order and prints a one-line summary per output. Inputs are
// checked against the engine's signature before anything runs, and outputs are
// written through temporary files, so a failure leaves no half-written .npy.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>

#include "cli_common.h"
#include "core/npy.h"
#include "ingot/ingot.h"

namespace ingot::cli {

namespace {
namespace fs = std::filesystem;

struct RunArgs {
  std::string engine;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::string output_dir;
  uint64_t seed = 0;
  int iterations = 1;
};


std::string list_names(const std::vector<TensorInfo>& infos) {
  std::string s;
  for (const auto& t : infos) s += (s.empty() ? "" : ", ") + t.name;
  return s.empty() ? "(none)" : s;
}



Result<std::map<std::string, HostTensor>> load_inputs(const RunArgs& args, const Engine& engine) {
  std::map<std::string, HostTensor> given;
  for (const std::string& spec : args.inputs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      return invalid_argument("--input expects NAME=FILE.npy, got '" + spec + "'");
    std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
    auto info = std::find_if(engine.inputs().begin(), engine.inputs().end(),
                             [&](const TensorInfo& t) { return t.name == name; });
    if (info == engine.inputs().end())
      return not_found("the engine has no input named '" + name + "'; its inputs are: " + list_names(engine.inputs()));
    if (given.count(name)) return invalid_argument("input '" + name + "' is given twice");
    Result<npy::Array> array = npy::read_file(file);
    if (!array.ok()) return array.status().with_context("input '" + name + "' (" + file + ")");
    if (array->dtype != info->dtype)
      return invalid_argument("input '" + name + "' (" + file + ") has dtype " + dtype_name(array->dtype) +
                              ", but the engine expects " + dtype_name(info->dtype));
    if (array->shape != info->shape)
      return invalid_argument("input '" + name + "' (" + file + ") has shape " + shape_to_string(array->shape) +
                              ", but the engine expects " + shape_to_string(info->shape));
    given[name] = HostTensor{array->dtype, array->shape, std::move(array->data)};
  }
  std::mt19937_64 rng(args.seed);
  for (const TensorInfo& info : engine.inputs())  // engine order, so a seed always gives the same inputs
    if (!given.count(info.name)) given[info.name] = random_tensor(info, rng);
  return given;
}

void print_summary(const TensorInfo& info, const TensorView& view) {
  const size_t n = static_cast<size_t>(view.numel());
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  size_t nan_count = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = element_as_double(view.data, view.dtype, i);
    if (std::isnan(v)) { ++nan_count; continue; }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  std::cout << "  " << std::left << std::setw(20) << info.name << std::setw(9) << dtype_name(view.dtype)
            << std::setw(20) << shape_to_string(view.shape);
  if (n > nan_count)
    std::cout << std::setprecision(6) << "min " << lo << "  max " << hi << "  mean " << sum / double(n - nan_count);
  if (nan_count) std::cout << "  NaN x" << nan_count;
  std::cout << "\n";
}

// Writes every output to a temporary name first, then renames them all, so an
// error midway leaves neither partial files nor a mix of old and new outputs.
Status write_outputs(const std::string& dir, const std::vector<TensorView>& outputs) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error("cannot create output directory '" + dir + "': " + ec.message());
  std::vector<std::pair<fs::path, fs::path>> moves;
  auto cleanup = [&] { for (auto& m : moves) fs::remove(m.first, ec); };
  for (size_t i = 0; i < outputs.size(); ++i) {
    fs::path final_path = fs::path(dir) / ("output." + std::to_string(i) + ".npy");
    fs::path temp_path = fs::path(dir) / (".output." + std::to_string(i) + ".npy.partial");
    moves.emplace_back(temp_path, final_path);
    Status s = npy::write_file(temp_path.string(), outputs[i].dtype, outputs[i].shape, outputs[i].data);
    if (!s.ok()) { cleanup(); return s.with_context("writing " + final_path.string()); }
  }
  for (auto& [temp_path, final_path] : moves) {
    fs::rename(temp_path, final_path, ec);
    if (ec) { cleanup(); return io_error("cannot write " + final_path.string() + ": " + ec.message()); }
  }
  return Status();
}

int run_engine(const RunArgs& args) {
  if (args.iterations < 1) return report_error(invalid_argument("--iterations must be at least 1"));
  Result<std::shared_ptr<const Engine>> engine = Engine::load_file(args.engine);
  if (!engine.ok()) return report_error(engine.status());
  Result<std::map<std::string, HostTensor>> inputs = load_inputs(args, **engine);
  if (!inputs.ok()) return report_error(inputs.status());

  Result<std::unique_ptr<ExecutionContext>> context = (*engine)->create_context();
  if (!context.ok()) return report_error(context.status());
  ExecutionContext& ctx = **context;
  for (auto& [name, tensor] : *inputs) {
    Status s = ctx.bind_input(name, TensorView::host(tensor.data.data(), tensor.dtype, tensor.shape));
    if (!s.ok()) return report_error(s.with_context("binding input '" + name + "'"));
  }

  std::vector<double> times_ms;
  for (int i = 0; i < args.iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    Status s = ctx.run();
    auto stop = std::chrono::steady_clock::now();
    if (!s.ok()) return report_error(s);
    times_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }

  const auto& infos = (*engine)->outputs();
  std::vector<TensorView> outputs;
  for (size_t i = 0; i < infos.size(); ++i) {
    Result<TensorView> view = ctx.output(i);
    if (!view.ok()) return report_error(view.status());
    if (view->memory != MemoryKind::kHost)
      return report_error(unsupported("output '" + infos[i].name + "' is in device memory; `ingot run` reads host outputs only"));
    outputs.push_back(*view);
  }
  if (!args.output_dir.empty()) {
    Status s = write_outputs(args.output_dir, outputs);
    if (!s.ok()) return report_error(s);
  }

  std::cout << "outputs of " << args.engine << ":\n";
  for (size_t i = 0; i < outputs.size(); ++i) print_summary(infos[i], outputs[i]);
  std::vector<double> sorted = times_ms;
  std::sort(sorted.begin(), sorted.end());
  double total = 0;
  for (double t : times_ms) total += t;
  std::cout << std::setprecision(4) << "run time: " << total / double(times_ms.size()) << " ms mean, "
            << sorted[sorted.size() / 2] << " ms median over " << times_ms.size() << " iteration"
            << (times_ms.size() == 1 ? "" : "s") << "\n";
  if (!args.output_dir.empty()) std::cout << "wrote " << outputs.size() << " output(s) to " << args.output_dir << "\n";
  return 0;
}
}  // namespace

void register_run_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("run", "Run an engine on .npy or random inputs");
  auto args = std::make_shared<RunArgs>();
  cmd->add_option("engine", args->engine, "engine file")->required();
  cmd->add_option("-i,--input", args->inputs, "NAME=FILE.npy (repeatable); missing inputs are random");
  cmd->add_option("-d,--output-dir", args->output_dir, "write output.<i>.npy files here");
  cmd->add_option("--seed", args->seed, "seed for random inputs")->capture_default_str();
  cmd->add_option("--iterations", args->iterations, "how many times to run (timing)")->capture_default_str();
  cmd->callback([&action, args] { action = [args]() -> int { return run_engine(*args); }; });
}

}  // namespace ingot::cli
