// SPDX-License-Identifier: Apache-2.0
//
// unlock: removes stale locks (all locks with --remove-all). With --vault it is a job of the
// account, classification 4004 (reference/comet.md §2.5, "cleans up exclusive lockfiles").
#include "commands.h"
#include "managed_job.h"

namespace halley::cli {
namespace {

int RunUnlock(Cli& cli, bool remove_all, ManagedJob& job) {
  int code = kExitOk;
  auto v = cli.Open(LockMode::kNone, false, code);
  if (!v) return code;
  if (remove_all) {
    cli.Warn(
        "Warning: removing every lock, including those of processes that may still be "
        "running.\nIf a backup or prune is running on another device, data can be lost: "
        "see \"Recovering from Unsafe Unlock Operations\" in docs/integrity.md.\n");
  }
  auto n = repo::RemoveLocks(*v->repo, remove_all);
  if (!n) return cli.Fatal(n.error());
  // The number of locks fits no BackupJobDetail count: it goes into the job log.
  job.Log("I", "removed " + std::to_string(*n) + (remove_all ? " locks" : " stale locks"));
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "unlock";
    j["removed"] = *n;
    cli.PrintJson(j);
  } else {
    cli.Print(*n ? "successfully removed " + std::to_string(*n) + " locks\n"
                 : "no stale locks found\n");
  }
  return kExitOk;
}

}  // namespace

void AddUnlock(CLI::App& app, Cli& cli) {
  auto remove_all = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("unlock", "remove stale locks (or all locks with --remove-all)");
  cmd->add_flag("--remove-all,--unsafe", *remove_all,
                "remove all locks, even those of running processes (the product's AllowUnsafe): "
                "a backup or prune still running may then lose data");
  cmd->callback([&cli, remove_all] {
    cli.exit_code = RunAsJob(cli, client::kJobUnlock, "",
                             [&](ManagedJob& job) { return RunUnlock(cli, *remove_all, job); });
  });
}

}  // namespace halley::cli
