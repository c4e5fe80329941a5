// `ingot convert MODEL.pt2 -o OUT.engine`: builds an engine file. Progress goes to
// stderr (for cuda, one line per tuned step and the memory the engine needs); on failure the message is printed and no output file is left behind
// (build_engine_file writes through a temporary file and a rename).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli_common.h"
#include "ingot/compiler.h"

namespace ingot::cli {

namespace {
struct ConvertArgs {
  std::string model, output;
  BuildOptions options;
  std::vector<std::string> input_shapes;  // "x=8x3x224x224"
  bool quiet = false;
};

// "x=8x3x224x224" (also "x:8,3,224,224" as trtexec writes it) -> name and dims.
Status parse_input_shape(const std::string& text, BuildOptions& options) {
  const size_t eq = text.find_first_of("=:");
  auto bad = [&](const std::string& why) {
    return invalid_argument("--input-shape '" + text + "': " + why + " (expected NAME=D0xD1x..., e.g. x=8x3x224x224)");
  };
  if (eq == std::string::npos || eq == 0) return bad("no input name");
  const std::string name = text.substr(0, eq);
  std::vector<int64_t> dims;
  std::string rest = text.substr(eq + 1);
  size_t pos = 0;
  while (pos <= rest.size() && !rest.empty()) {
    const size_t end = rest.find_first_of("x,", pos);
    const std::string part = rest.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (part.empty() || part.size() > 12 || part.find_first_not_of("0123456789") != std::string::npos)
      return bad("'" + part + "' is not a size");
    dims.push_back(std::stoll(part));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  if (options.input_shapes.count(name)) return bad("input '" + name + "' is given twice");
  options.input_shapes[name] = dims;
  return Status::ok_status();
}
}  // namespace

void register_convert_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("convert", "Compile a .pt2 model into an engine file");
  auto args = std::make_shared<ConvertArgs>();
  cmd->add_option("model", args->model, "torch.export archive (.pt2)")->required();
  cmd->add_option("-o,--output", args->output, "engine file to write")->required();
  cmd->add_option("--backend", args->options.backend, "target backend")
      ->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--precision", args->options.precision, "lowest precision kernels may use")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}))->capture_default_str();
  cmd->add_flag("--allow-tf32", args->options.allow_tf32, "let fp32 GEMMs/convolutions use TF32 tensor cores");
  cmd->add_flag("--exact-gelu", args->options.exact_gelu,
                "fp16/bf16 cuda: never run an exact gelu as the fused tanh-approximated GEMM epilogue");
  cmd->add_option("--cuda-arch", args->options.cuda_arch,
                  "GPU architecture to build for (sm_80, sm_90, ...); default: this machine's GPU, else sm_90");
  cmd->add_option("--optimization-level", args->options.optimization_level,
                  "0 (fastest build) .. 5; cuda kernel tuning: 0-1 off (default kernels), 2 quick, 3 normal, "
                  "4-5 every candidate, more launches")
      ->check(CLI::Range(0, 5))->capture_default_str();
  cmd->add_option("--timing-cache", args->options.timing_cache,
                  "JSON file of kernel timings: read before tuning, updated after (created if missing); "
                  "builds sharing it choose the same kernels and write identical engines");
  cmd->add_option("--workspace-limit", args->options.workspace_limit,
                  "most scratch memory (bytes) a cuda step may use; kernels needing more are not chosen (0 = none)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--input-shape", args->input_shapes,
                  "NAME=D0xD1x...: build for this shape of input NAME, for a model exported with dynamic dims "
                  "(torch.export.Dim); repeatable. Static dims must match, dynamic ones lie in the exported range")
      ->allow_extra_args(false);  // one shape a flag, so a model path after it is not taken for a second shape
  cmd->add_option("--disable-pass", args->options.disabled_passes,
                  "skip this optimizer pass (fuse_gemm, hoist_slices, fold_gemm_bias_into_norm, ...: "
                  "docs/optimizer.md); repeatable; recorded in the engine")
      ->allow_extra_args(false)
      ->delimiter(',');
  cmd->add_flag("-q,--quiet", args->quiet, "print nothing but errors");
  cmd->callback([&action, args] {
    // A malformed --input-shape is a bad command line (exit 2), like CLI11's own errors.
    for (const std::string& shape : args->input_shapes)
      if (Status s = parse_input_shape(shape, args->options); !s.ok()) throw CLI::ValidationError(s.message());
    action = [args]() -> int {
      BuildOptions options = args->options;
      if (!args->quiet) options.progress = [](const std::string& line) { std::cerr << line << "\n"; };
      Status status = build_engine_file(args->model, args->output, options);
      if (!status.ok()) return report_error(status);
      if (!args->quiet) std::cerr << "wrote " << args->output << "\n";
      return 0;
    };
  });
}

}  // namespace ingot::cli
