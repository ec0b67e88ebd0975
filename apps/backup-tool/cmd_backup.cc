// SPDX-License-Identifier: Apache-2.0
#include <sstream>

#include "commands.h"
#include "engine/archiver.h"
#include "managed_job.h"
#include "progress.h"

namespace halley::cli {
namespace {

struct BackupFlags {
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  std::string host;
  std::vector<std::string> excludes;
  std::vector<std::string> exclude_files;
  std::vector<std::string> exclude_regexes;
  bool one_file_system = false;
  bool rescan_unchanged = false;
  std::string parent;
  bool force = false;
  std::string item;  // a Protected Item of the account: its paths, excludes and ID tag
  // With `item`: the account policy's mandatory exclusions (FileAndFolderMandatoryExclusions).
  std::vector<client::MandatoryExclusion> mandatory;
  // With `item`: the Schedule (BackupRules) this run belongs to, whose before/after commands
  // run as well. The daemon passes it.
  std::string schedule;
  int workers = 0;  // 0: one per core
};

std::vector<std::string> SplitTags(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& t : in) {
    std::stringstream ss(t);
    std::string part;
    while (std::getline(ss, part, ',')) {
      if (!part.empty()) out.push_back(part);
    }
  }
  return out;
}

std::string StatusText(const engine::BackupProgress& p, uint64_t added, double elapsed) {
  uint64_t files = p.files_done, bytes = p.bytes_done;
  uint64_t total_files = p.total_files, total_bytes = p.total_bytes;
  std::string s = "[" + FormatDuration(elapsed) + "] ";
  if (p.scan_finished && total_bytes > 0) {
    double pct = 100.0 * static_cast<double>(bytes) / static_cast<double>(total_bytes);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2f%%  ", std::min(pct, 100.0));
    s += buf;
  }
  s += std::to_string(files) + " files " + FormatBytes(bytes);
  if (total_files)
    s += ", total " + std::to_string(total_files) + " files " + FormatBytes(total_bytes);
  if (elapsed > 0)
    s += ", " + FormatBytes(static_cast<uint64_t>(static_cast<double>(p.bytes_read) / elapsed)) +
         "/s";
  s += ", added " + FormatBytes(added);
  s += ", " + std::to_string(p.errors.load()) + " errors";
  if (p.scan_finished && bytes > 0 && total_bytes > bytes && elapsed > 1) {
    double rate = static_cast<double>(bytes) / elapsed;
    s += " ETA " + FormatDuration(static_cast<double>(total_bytes - bytes) / rate);
  }
  return s;
}

int RunBackup(Cli& cli, const BackupFlags& f, ManagedJob& job) {
  if (f.paths.empty()) {
    return cli.Fatal(
        Error(ErrorCode::kInvalidArgument, "nothing to back up, please specify a path"));
  }
  engine::Filter filter;
  for (const auto& e : f.excludes) {
    if (auto r = filter.AddExcludeGlob(e); !r) return cli.Fatal(r.error());
  }
  for (const auto& e : f.exclude_files) {
    if (auto r = filter.AddExcludeFile(e); !r) return cli.Fatal(r.error());
  }
  for (const auto& e : f.exclude_regexes) {
    if (auto r = filter.AddExcludeRegex(e); !r) return cli.Fatal(r.error());
  }
  // An exclusion the administrator made mandatory that cannot be applied (a regular expression
  // this engine's syntax does not take, say) is not dropped silently: the job ends with a
  // warning (7001) that names it.
  bool mandatory_failed = false;
  for (const auto& m : f.mandatory) {
    auto r = m.regex ? filter.AddExcludeRegex(m.pattern) : filter.AddExcludeGlob(m.pattern);
    if (!r) {
      mandatory_failed = true;
      cli.Warn("Warning: the policy's mandatory exclusion " +
               std::string(m.regex ? "regex \"" : "\"") + m.pattern +
               "\" cannot be applied: " + r.error().Message() + "\n");
    }
  }
  if (!f.mandatory.empty()) {
    job.Log("I", "applying the account policy's " + std::to_string(f.mandatory.size()) +
                     " mandatory exclusion(s)");
  }
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, true, code);
  if (!v) return code;

  engine::BackupProgress progress;
  const auto progress_scope = job.ReportProgress([&] {
    return Json{{"BytesDone", progress.bytes_done.load()},
                {"ItemsDone", progress.files_done.load()},
                {"ItemsTotal", progress.total_files.load()}};
  });
  engine::BackupOptions o;
  o.paths = f.paths;
  o.tags = SplitTags(f.tags);
  o.hostname = f.host;
  o.filter = &filter;
  o.one_file_system = f.one_file_system;
  o.rescan_unchanged = f.rescan_unchanged;
  o.force_no_parent = f.force;
  o.workers = f.workers;
  if (!f.parent.empty()) {
    auto p = Id::FromHex(f.parent);
    if (!p)
      return cli.Fatal(Error(ErrorCode::kInvalidArgument, "--parent needs a full snapshot ID"));
    o.parent = *p;
  }
  o.program_version = ProgramVersion();
  o.lock = v->lock.get();
  o.progress = &progress;
  // Even with nobody watching the totals: the scanner walks ahead of the archiver and warms the
  // metadata it will lstat (1M files from a cold cache: 126 s with it, 157 s without).
  o.scan = true;
  o.stop = cli.StopToken();
  o.on_error = [&](const std::string& path, const Error& e) {
    if (cli.global.json) {
      OrderedJson j;
      j["message_type"] = "error";
      j["error"] = {{"message", e.Message()}};
      j["during"] = "archival";
      j["item"] = path;
      std::cerr << j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << "\n";
    } else {
      if (cli.ProgressWanted()) ClearStatusLine();
      cli.Warn("error: " + e.Message() + "\n");
    }
  };

  std::unique_ptr<Ticker> ticker;
  if (cli.ProgressWanted()) {
    ticker = std::make_unique<Ticker>(std::chrono::milliseconds(250), [&](double elapsed) {
      PrintStatusLine(StatusText(progress, v->repo->Stats().data_added, elapsed));
    });
  } else if (cli.global.json && !cli.global.quiet) {
    ticker = std::make_unique<Ticker>(std::chrono::seconds(1), [&](double elapsed) {
      OrderedJson j;
      j["message_type"] = "status";
      j["seconds_elapsed"] = static_cast<uint64_t>(elapsed);
      uint64_t tb = progress.total_bytes;
      j["percent_done"] =
          tb ? std::min(1.0, static_cast<double>(progress.bytes_done) / static_cast<double>(tb))
             : 0.0;
      j["total_files"] = progress.total_files.load();
      j["files_done"] = progress.files_done.load();
      j["total_bytes"] = tb;
      j["bytes_done"] = progress.bytes_done.load();
      j["error_count"] = progress.errors.load();
      cli.PrintJson(j);
    });
  }
  auto start = std::chrono::steady_clock::now();
  auto result = engine::Backup(*v->repo, o);
  if (ticker) ticker->Stop();
  if (cli.ProgressWanted()) ClearStatusLine();
  if (!result) return cli.Fatal(result.error());
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto& s = *result->snapshot.summary;
  job.SetTotals({{"TotalDirectories", s.dirs_new + s.dirs_changed + s.dirs_unmodified},
                 {"TotalFiles", s.total_files_processed},
                 {"TotalSize", s.total_bytes_processed},
                 {"TotalChunks", s.data_blobs + s.tree_blobs},
                 {"UploadSize", s.data_added_packed},
                 {"SnapshotID", result->snapshot_id.Hex()}});
  job.Log("I", "snapshot " + result->snapshot_id.Hex() +
                   " saved: " + std::to_string(s.total_files_processed) + " files, " +
                   FormatBytes(s.total_bytes_processed) + ", " + FormatBytes(s.data_added) +
                   " new (" + FormatBytes(s.data_added_packed) + " stored)");
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "summary";
    j["files_new"] = s.files_new;
    j["files_changed"] = s.files_changed;
    j["files_unmodified"] = s.files_unmodified;
    j["dirs_new"] = s.dirs_new;
    j["dirs_changed"] = s.dirs_changed;
    j["dirs_unmodified"] = s.dirs_unmodified;
    j["data_blobs"] = s.data_blobs;
    j["tree_blobs"] = s.tree_blobs;
    j["data_added"] = s.data_added;
    j["data_added_packed"] = s.data_added_packed;
    j["total_files_processed"] = s.total_files_processed;
    j["total_bytes_processed"] = s.total_bytes_processed;
    j["total_duration"] = elapsed;
    j["backup_start"] = FormatRfc3339Nano(s.backup_start);
    j["backup_end"] = FormatRfc3339Nano(s.backup_end);
    j["snapshot_id"] = result->snapshot_id.Hex();
    if (result->parent) j["parent"] = result->parent->Hex();
    j["error_count"] = result->errors.size();
    cli.PrintJson(j);
  } else {
    if (result->parent) {
      cli.Print("using parent snapshot " + result->parent->Short() + "\n");
    }
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "\nFiles:       %5llu new, %5llu changed, %5llu unmodified\n"
                  "Dirs:        %5llu new, %5llu changed, %5llu unmodified\n",
                  static_cast<unsigned long long>(s.files_new),
                  static_cast<unsigned long long>(s.files_changed),
                  static_cast<unsigned long long>(s.files_unmodified),
                  static_cast<unsigned long long>(s.dirs_new),
                  static_cast<unsigned long long>(s.dirs_changed),
                  static_cast<unsigned long long>(s.dirs_unmodified));
    cli.Print(buf);
    cli.Print("Added to the vault: " + FormatBytes(s.data_added) + " (" +
              FormatBytes(s.data_added_packed) + " stored)\n\n");
    cli.Print("processed " + std::to_string(s.total_files_processed) + " files, " +
              FormatBytes(s.total_bytes_processed) + " in " + FormatDuration(elapsed) + "\n");
    cli.Print("snapshot " + result->snapshot_id.Short() + " saved\n");
  }
  if (!result->errors.empty()) {
    if (!cli.global.json) {
      cli.Warn("Warning: at least one source file could not be read (" +
               std::to_string(result->errors.size()) + " errors):\n");
      for (const auto& [path, e] : result->errors) cli.Warn("  " + e.Message() + "\n");
    }
    return kExitPartial;
  }
  return mandatory_failed ? kExitPartial : kExitOk;
}

// With --item, the paths, excludes and options come from the account's Protected Item, and
// the snapshot is tagged with its ID. The before/after commands of the item, the vault and the
// --schedule run around the backup (docs/client.md "Before and after commands"):
//
//   PreExec   Schedule, Storage Vault, Protected Item
//   ThawExec  Schedule, Storage Vault, Protected Item (no disk snapshot here: right after)
//   the backup (skipped if the job was cancelled meanwhile)
//   PostExec  Protected Item, Storage Vault, Schedule: always, even after a failure or a cancel
//
// A command that warned makes a successful backup exit 3 (job status 7001, warning); a
// failed PreExec does not stop the backup, as in the product.
int RunBackupCommand(Cli& cli, BackupFlags f) {
  if (f.item.empty()) {
    if (!f.schedule.empty()) {
      return cli.Fatal(Error(ErrorCode::kInvalidArgument,
                             "--schedule needs --item: it names the Schedule of an item's run"));
    }
    return RunAsJob(cli, client::kJobBackup, "",
                    [&](ManagedJob& job) { return RunBackup(cli, f, job); });
  }
  if (cli.global.vault.empty()) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument,
                           "--item needs --vault: a Protected Item is backed up into one of the "
                           "account's Storage Vaults"));
  }
  if (!f.paths.empty()) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument,
                           "give either --item or paths: the item names its own paths"));
  }
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  auto profile = (*account)->GetProfile();
  if (!profile) return cli.Fatal(profile.error());
  auto id = client::FindEntry(profile->profile, "Sources", f.item);
  if (!id) return cli.Fatal(id.error());
  auto item = client::ReadFileItem(profile->profile, *id);
  if (!item) return cli.Fatal(item.error());
  // The vault is known before any command runs: an unknown one fails here, as it would in
  // RunBackup, but without running the item's commands first.
  auto vault = cli.ManagedVault();
  if (!vault) return cli.Fatal(vault.error());
  JobCommandTarget target{"", (*vault)->id, (*vault)->description, item->id, item->description};
  if (!f.schedule.empty()) {
    auto schedule = client::FindEntry(profile->profile, "BackupRules", f.schedule);
    if (!schedule) return cli.Fatal(schedule.error());
    target.schedule_id = *schedule;
  }
  f.paths = item->paths;
  f.excludes.insert(f.excludes.end(), item->excludes.begin(), item->excludes.end());
  f.rescan_unchanged = f.rescan_unchanged || item->rescan_unchanged;
  f.mandatory = client::MandatoryExclusions(profile->profile);
  f.tags.push_back(item->id);
  return RunAsJob(cli, client::kJobBackup, item->id, [&](ManagedJob& job) {
    job.Log("I", "backing up \"" + item->description + "\"");
    const Json& p = profile->profile;
    bool clean = RunJobCommands(cli, job, p, client::HookPhase::kPre, target);
    clean = RunJobCommands(cli, job, p, client::HookPhase::kThaw, target) && clean;
    int code =
        cli.StopToken().stop_requested()
            ? cli.Fatal(Error(ErrorCode::kCancelled, "interrupted before the backup started"))
            : RunBackup(cli, f, job);
    clean = RunJobCommands(cli, job, p, client::HookPhase::kPost, target, code) && clean;
    if (!clean && code == kExitOk) code = kExitPartial;
    return code;
  });
}

}  // namespace

void AddBackup(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<BackupFlags>();
  auto* cmd = app.add_subcommand("backup", "create a new snapshot of files and directories");
  cmd->add_option("paths", f->paths, "files and directories to back up");
  cmd->add_option("--tag", f->tags, "add tags to the snapshot (comma-separated, repeatable)");
  cmd->add_option("--host", f->host, "hostname to record (default: this host)");
  cmd->add_option("-e,--exclude", f->excludes, "exclude a glob pattern (repeatable)");
  cmd->add_option("--exclude-file", f->exclude_files, "read exclude patterns from a file");
  cmd->add_option("--exclude-regex", f->exclude_regexes,
                  "exclude paths matching a regular expression (repeatable)");
  cmd->add_flag("-x,--one-file-system", f->one_file_system, "do not cross filesystem boundaries");
  cmd->add_flag("--rescan-unchanged", f->rescan_unchanged,
                "read files even if size, mtime, ctime and inode are unchanged");
  cmd->add_option("--parent", f->parent, "use this snapshot (full ID) as the parent");
  cmd->add_flag("-f,--force", f->force, "read every file: do not use a parent snapshot");
  cmd->add_option("--item", f->item,
                  "back up this Protected Item of the logged-in account (with --vault)");
  cmd->add_option("--schedule", f->schedule,
                  "with --item: run as this Schedule of the account, with its before/after "
                  "commands (the daemon passes it)");
  cmd->add_option("--workers", f->workers,
                  "threads that hash, compress and pack (default: one per core; 1 with the "
                  "schedule option ReduceDiskConcurrency)")
      ->check(CLI::Range(1, 256));
  cmd->callback([&cli, f] { cli.exit_code = RunBackupCommand(cli, *f); });
}

}  // namespace halley::cli
