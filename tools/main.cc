// The `ingot` command: check, convert, inspect, verify and run engines from the
// shell. Each subcommand lives in its own cmd_*.cc file; this file only wires them
// into one CLI11 app and turns parse errors into a clear message and exit code.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "cli_common.h"
#include "ingot/ingot.h"

int main(int argc, char** argv) {
  CLI::App app{"ingot: compile torch.export .pt2 models into standalone inference engines and run them"};
  app.set_version_flag("--version", std::string("ingot ") + ingot::version_string());
  app.require_subcommand(1);
  app.fallthrough(false);

  ingot::cli::Action action;
  ingot::cli::register_check_command(app, action);
  ingot::cli::register_convert_command(app, action);
  ingot::cli::register_inspect_command(app, action);
  ingot::cli::register_verify_command(app, action);
  ingot::cli::register_run_command(app, action);
  ingot::cli::register_list_ops_command(app, action);
  ingot::cli::register_bench_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here too and exit 0; usage errors print CLI11's
    // message and exit 2, the usual status for a bad command line.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!action) return ingot::cli::report_error("no subcommand given (see ingot --help)");
  try {
    return action();
  } catch (const std::exception& e) {
    // The library reports errors as Status values; this is a last guard so that a
    // stray exception (e.g. std::bad_alloc) still ends with a message, not abort().
    return ingot::cli::report_error(std::string("unexpected failure: ") + e.what());
  }
}
