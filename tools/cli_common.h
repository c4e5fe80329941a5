// Shared plumbing of the `ingot` command: every subcommand lives in its own file
// (cmd_*.cc) and registers itself through one function declared here. main.cc
// builds the CLI11 app, calls each register function, parses, and runs the one
// action the user chose. Actions return the process exit code; they report
// errors as one clear line on stderr and never throw.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ingot/dtype.h"
#include "ingot/status.h"

namespace CLI { class App; }

namespace ingot {
struct TensorInfo;
}

namespace ingot::cli {

// The action the chosen subcommand sets; main() runs it after parsing.
using Action = std::function<int()>;

void register_check_command(CLI::App& app, Action& action);
void register_convert_command(CLI::App& app, Action& action);
void register_inspect_command(CLI::App& app, Action& action);
void register_verify_command(CLI::App& app, Action& action);
void register_run_command(CLI::App& app, Action& action);
void register_list_ops_command(CLI::App& app, Action& action);
void register_bench_command(CLI::App& app, Action& action);

// Prints "ingot: error: <status>" to stderr and returns exit code 1.
int report_error(const Status& status);
int report_error(const std::string& message);

// An input or output tensor held on the host.
struct HostTensor {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

int64_t numel(const std::vector<int64_t>& shape);
// A seeded random tensor of the engine's recorded shape and dtype, the same for
// `ingot run` and `ingot bench`: floats ~ N(0, 1); int32/int64 in [0, 100) so they
// are valid token ids for any vocabulary; other integers in [0, 10); bools coin flips.
HostTensor random_tensor(const TensorInfo& info, std::mt19937_64& rng);

// "[1, 3, 224, 224]"
std::string shape_to_string(const std::vector<int64_t>& shape);
// Reads element i of a tensor of any ingot dtype as a double (fp16/bf16 decoded).
double element_as_double(const void* data, DType dtype, size_t index);
// Stores v into element i, rounding to the dtype (fp16/bf16 encoded).
void store_element(void* data, DType dtype, size_t index, double v);

}  // namespace ingot::cli
