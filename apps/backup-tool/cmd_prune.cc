// SPDX-License-Identifier: Apache-2.0
#include "commands.h"
#include "prune_command.h"

namespace halley::cli {

void AddPruneFlags(CLI::App* cmd, PruneFlags& flags) {
  cmd->add_option("--max-unused", flags.max_unused,
                  "tolerated unused space after prune: a percentage, a size or \"unlimited\"");
  cmd->add_option("--max-repack-size", flags.max_repack_size, "repack at most this much data");
}

int RunPruneOn(Cli& cli, OpenVault& vault, const PruneFlags& flags) {
  (void)vault;
  (void)flags;
  return cli.Fatal(Error(ErrorCode::kNotSupported, "prune is not implemented yet"));
}

void AddPrune(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<PruneFlags>();
  auto* cmd = app.add_subcommand("prune", "remove data no snapshot references");
  AddPruneFlags(cmd, *f);
  cmd->add_flag("-n,--dry-run", f->dry_run, "only show what would be done");
  cmd->callback([&cli, f] {
    int code = kExitOk;
    auto v = cli.Open(LockMode::kExclusive, true, code);
    if (!v) {
      cli.exit_code = code;
      return;
    }
    cli.exit_code = RunPruneOn(cli, *v, *f);
  });
}

}  // namespace halley::cli
