// SPDX-License-Identifier: Apache-2.0
//
// rebuild-index: a new index from the pack headers. With --vault it is a job of the account,
// classification 4009 (reference/comet.md §2.5 REINDEX, the product's "Rebuild indexes").
#include "commands.h"
#include "engine/maintenance.h"
#include "managed_job.h"

namespace halley::cli {
namespace {

int RunRebuildIndex(Cli& cli, bool read_all, ManagedJob& job) {
  int code = kExitOk;
  auto v = cli.Open(LockMode::kExclusive, false, code);
  if (!v) return code;
  engine::RebuildIndexOptions o;
  o.read_all_packs = read_all;
  o.stop = cli.StopToken();
  o.log = [&](const std::string& line) { cli.Print(line + "\n"); };
  auto r = engine::RebuildIndex(*v->repo, o);
  if (!r) return cli.Fatal(r.error());
  // Packs are no BackupJobDetail count (TotalChunks counts blobs): they go into the job log.
  job.Log("I", std::to_string(r->packs) + " packs indexed (" + std::to_string(r->headers_read) +
                   " headers read)");
  if (r->unreadable_packs) {
    job.Log("E", std::to_string(r->unreadable_packs) +
                     " packs could not be read and are left out of the index");
  }
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "summary";
    j["packs"] = r->packs;
    j["headers_read"] = r->headers_read;
    j["invalid_index_files"] = r->invalid_index_files;
    j["missing_packs_dropped"] = r->missing_packs_dropped;
    j["unreadable_packs"] = r->unreadable_packs;
    j["index_files_written"] = r->index_files_written;
    j["index_files_removed"] = r->index_files_removed;
    cli.PrintJson(j);
  } else {
    cli.Print("done: " + std::to_string(r->packs) + " packs indexed (" +
              std::to_string(r->headers_read) + " headers read)\n");
  }
  return r->unreadable_packs ? kExitFailure : kExitOk;
}

}  // namespace

void AddRebuildIndex(CLI::App& app, Cli& cli) {
  auto read_all = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "rebuild-index", "rebuild the index from the pack headers (the spec's \"Rebuild indexes\")");
  cmd->alias("repair-index");
  cmd->add_flag("--read-all-packs", *read_all,
                "ignore the existing index and read every pack's header");
  cmd->callback([&cli, read_all] {
    cli.exit_code = RunAsJob(cli, client::kJobReindex, "",
                             [&](ManagedJob& job) { return RunRebuildIndex(cli, *read_all, job); });
  });
}

}  // namespace halley::cli
