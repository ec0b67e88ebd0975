// SPDX-License-Identifier: Apache-2.0
#include "commands.h"

namespace halley::cli {

void AddCheck(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("check", "(not implemented yet)");
  cmd->allow_extras();
  cmd->callback([&cli] {
    cli.exit_code = cli.Fatal(Error(ErrorCode::kNotSupported, "check is not implemented yet"));
  });
}

}  // namespace halley::cli
