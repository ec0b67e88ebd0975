// SPDX-License-Identifier: Apache-2.0
#include "commands.h"

namespace halley::cli {

void AddUnlock(CLI::App& app, Cli& cli) {
  auto remove_all = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("unlock", "remove stale locks (or all locks with --remove-all)");
  cmd->add_flag("--remove-all,--unsafe", *remove_all,
                "remove all locks, even those of running processes (the product's AllowUnsafe): "
                "a backup or prune still running may then lose data");
  cmd->callback([&cli, remove_all] {
    int code = kExitOk;
    auto v = cli.Open(LockMode::kNone, false, code);
    if (!v) {
      cli.exit_code = code;
      return;
    }
    if (*remove_all) {
      cli.Warn(
          "Warning: removing every lock, including those of processes that may still be "
          "running.\nIf a backup or prune is running on another device, data can be lost: "
          "see \"Recovering from Unsafe Unlock Operations\" in docs/integrity.md.\n");
    }
    auto n = repo::RemoveLocks(*v->repo, *remove_all);
    if (!n) {
      cli.exit_code = cli.Fatal(n.error());
      return;
    }
    if (cli.global.json) {
      OrderedJson j;
      j["message_type"] = "unlock";
      j["removed"] = *n;
      cli.PrintJson(j);
    } else {
      cli.Print(*n ? "successfully removed " + std::to_string(*n) + " locks\n"
                   : "no stale locks found\n");
    }
    cli.exit_code = kExitOk;
  });
}

}  // namespace halley::cli
