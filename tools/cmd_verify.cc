// `ingot verify ENGINE MODEL.pt2`: whether the engine was built from exactly this
// model (its recorded content hash). Exit 0 on a match, 1 otherwise.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli_common.h"
#include "ingot/compiler.h"

namespace ingot::cli {

void register_verify_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("verify", "Check that an engine was built from a given .pt2 model");
  auto engine = std::make_shared<std::string>();
  auto model = std::make_shared<std::string>();
  cmd->add_option("engine", *engine, "engine file")->required();
  cmd->add_option("model", *model, "torch.export archive (.pt2)")->required();
  cmd->callback([&action, engine, model] {
    action = [engine, model]() -> int {
      Result<VerifyResult> result = verify_engine_model(*engine, *model);
      if (!result.ok()) return report_error(result.status());
      if (result->match) {
        std::cout << "match: " << *engine << " was built from " << *model << " (hash " << result->model_hash
                  << ")\n";
        return 0;
      }
      std::cout << "MISMATCH: " << *engine << " records model hash " << result->engine_hash << ", but "
                << *model << " hashes to " << result->model_hash << "\n";
      if (!result->message.empty()) std::cout << result->message << "\n";
      return 1;
    };
  });
}

}  // namespace ingot::cli
