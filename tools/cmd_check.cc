// `ingot check MODEL.pt2`: reports every operator the model uses that ingot cannot
// convert, with the user's source line. Exit 0 when the whole model converts.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli_common.h"
#include "ingot/compiler.h"

namespace ingot::cli {

void register_check_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("check", "List the operators of a .pt2 model that ingot cannot convert");
  auto model = std::make_shared<std::string>();
  cmd->add_option("model", *model, "torch.export archive (.pt2)")->required();
  cmd->callback([&action, model] {
    action = [model]() -> int {
      Result<SupportReport> report = check_model(*model);
      if (!report.ok()) return report_error(report.status());
      if (!report->ok()) {
        std::cout << report->to_string();
        size_t kinds = report->unsupported.size();
        std::cerr << "ingot: " << *model << ": " << kinds << " unsupported operator"
                  << (kinds == 1 ? "" : "s") << "; the model cannot be converted\n";
        return 1;
      }
      std::cout << *model << ": all " << report->num_nodes << " nodes (" << report->op_counts.size()
                << " distinct operators) are supported\n";
      return 0;
    };
  });
}

}  // namespace ingot::cli
