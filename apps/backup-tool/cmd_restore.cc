// SPDX-License-Identifier: Apache-2.0
#include <unistd.h>

#include "commands.h"
#include "engine/restorer.h"
#include "engine/snapshots.h"
#include "managed_job.h"
#include "progress.h"
#include "snapshot_ref.h"

namespace halley::cli {
namespace {

struct RestoreFlags {
  std::string snapshot;
  std::string target;
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  std::string overwrite = "always";
  engine::SnapshotFilter filter;
};

int RunRestore(Cli& cli, const RestoreFlags& f, ManagedJob& job) {
  if (f.target.empty()) {
    return cli.Fatal(
        Error(ErrorCode::kInvalidArgument, "please specify a directory to restore to (--target)"));
  }
  auto overwrite = engine::ParseOverwrite(f.overwrite);
  if (!overwrite) return cli.Fatal(overwrite.error());
  engine::RestoreOptions o;
  o.target = f.target;
  o.overwrite = *overwrite;
  for (const auto& p : f.includes) {
    auto g = engine::GlobPattern::Parse(p);
    if (!g) return cli.Fatal(g.error());
    o.includes.push_back(*g);
  }
  for (const auto& p : f.excludes) {
    auto g = engine::GlobPattern::Parse(p);
    if (!g) return cli.Fatal(g.error());
    o.excludes.push_back(*g);
  }
  SnapshotRef ref = ParseSnapshotRef(f.snapshot);
  o.path = ref.path.empty() ? "/" : ref.path;

  if (auto unlocked = cli.UnlockContents(); !unlocked) return cli.Fatal(unlocked.error());
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, true, code);
  if (!v) return code;
  const engine::SnapshotFilter& filter = f.filter;
  auto snap = engine::FindSnapshot(*v->repo, ref.id, filter);
  if (!snap) return cli.Fatal(snap.error());
  o.restore_ownership = ::geteuid() == 0;
  o.stop = cli.StopToken();
  engine::RestoreProgress progress;
  o.progress = &progress;
  const auto progress_scope = job.ReportProgress([&] {
    return Json{{"BytesDone", progress.bytes_done.load()},
                {"ItemsDone", progress.files_done.load()},
                {"ItemsTotal", progress.total_files.load()}};
  });
  o.on_error = [&](const std::string& path, const Error& e) {
    if (cli.global.json) {
      OrderedJson j;
      j["message_type"] = "error";
      j["error"] = {{"message", e.Message()}};
      j["during"] = "restore";
      j["item"] = path;
      std::cerr << j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << "\n";
    } else {
      if (cli.ProgressWanted()) ClearStatusLine();
      cli.Warn("ignoring error for " + path + ": " + e.Message() + "\n");
    }
  };
  cli.Print("restoring <Snapshot " + snap->id.Short() + " of [" +
            [&] {
              std::string s;
              for (size_t i = 0; i < snap->snapshot.paths.size(); ++i) {
                s += (i ? " " : "") + snap->snapshot.paths[i];
              }
              return s;
            }() +
            "] at " + FormatHuman(snap->snapshot.time) + " by " + snap->snapshot.username + "@" +
            snap->snapshot.hostname + "> to " + f.target + "\n");

  std::unique_ptr<Ticker> ticker;
  if (cli.ProgressWanted()) {
    ticker = std::make_unique<Ticker>(std::chrono::milliseconds(250), [&](double elapsed) {
      uint64_t tb = progress.total_bytes, bd = progress.bytes_done;
      char pct[16] = "";
      if (tb)
        std::snprintf(pct, sizeof pct, "%.2f%%  ",
                      100.0 * static_cast<double>(bd) / static_cast<double>(tb));
      PrintStatusLine("[" + FormatDuration(elapsed) + "] " + pct +
                      std::to_string(progress.files_done.load()) + " files " + FormatBytes(bd) +
                      ", total " + std::to_string(progress.total_files.load()) + " files " +
                      FormatBytes(tb));
    });
  }
  auto start = std::chrono::steady_clock::now();
  auto r = engine::Restore(*v->repo, snap->snapshot.tree, o);
  if (ticker) ticker->Stop();
  if (cli.ProgressWanted()) ClearStatusLine();
  if (!r) return cli.Fatal(r.error());
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  job.SetTotals({{"TotalDirectories", r->dirs},
                 {"TotalFiles", r->files},
                 {"TotalSize", r->bytes},
                 {"DownloadSize", r->bytes},
                 {"SnapshotID", snap->id.Hex()}});
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "summary";
    j["seconds_elapsed"] = elapsed;
    j["files_restored"] = r->files;
    j["dirs_restored"] = r->dirs;
    j["other_restored"] = r->other;
    j["files_skipped"] = r->skipped;
    j["bytes_restored"] = r->bytes;
    j["error_count"] = r->errors.size();
    j["snapshot_id"] = snap->id.Hex();
    cli.PrintJson(j);
  } else {
    cli.Print("Summary: Restored " + std::to_string(r->files + r->dirs + r->other) +
              " files/dirs (" + FormatBytes(r->bytes) + ") in " + FormatDuration(elapsed) +
              (r->skipped ? ", skipped " + std::to_string(r->skipped) + " existing" : "") + "\n");
  }
  if (!r->errors.empty()) {
    return cli.Fatal(Error(ErrorCode::kIoError, "There were " + std::to_string(r->errors.size()) +
                                                    " errors while restoring"));
  }
  return kExitOk;
}

}  // namespace

void AddRestore(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<RestoreFlags>();
  auto* cmd = app.add_subcommand("restore", "restore a snapshot (SNAPSHOT or SNAPSHOT:PATH)");
  cmd->add_option("snapshot", f->snapshot, "snapshot ID, prefix or \"latest\", optionally :PATH")
      ->required();
  cmd->add_option("-t,--target", f->target, "directory to restore to")->required();
  cmd->add_option("-i,--include", f->includes, "restore only paths matching a pattern");
  cmd->add_option("-e,--exclude", f->excludes, "do not restore paths matching a pattern");
  cmd->add_option("--overwrite", f->overwrite,
                  "existing files: always, if-newer, if-different or never");
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/true);
  cmd->callback([&cli, f] {
    cli.exit_code = RunAsJob(cli, client::kJobRestore, "",
                             [&](ManagedJob& job) { return RunRestore(cli, *f, job); });
  });
}

}  // namespace halley::cli
