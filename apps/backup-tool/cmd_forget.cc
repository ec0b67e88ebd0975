// SPDX-License-Identifier: Apache-2.0
#include "commands.h"

namespace halley::cli {

void AddForget(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("forget", "(not implemented yet)");
  cmd->allow_extras();
  cmd->callback([&cli] {
    cli.exit_code = cli.Fatal(Error(ErrorCode::kNotSupported, "forget is not implemented yet"));
  });
}

}  // namespace halley::cli
