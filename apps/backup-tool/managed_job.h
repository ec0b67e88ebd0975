// SPDX-License-Identifier: Apache-2.0
//
// A command run against a managed vault (--vault) is a job of the account: the server sees it
// start (6001), its progress every few seconds, its log (every warning and error the command
// prints) and its end with a status from the exit code (5000 success, 7001 warnings, 7002
// error, 7003 out of space, 7005 cancelled) and totals. The same start, log lines and end go to
// the system journal as events 50, 52 and 51 (client/events.h), even when the server cannot be
// told. Without --vault nothing is reported.
//
// A backup job of a Protected Item also runs the before/after commands of its Schedule, Storage
// Vault and Protected Item (RunJobCommands; docs/client.md "Before and after commands").
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "cli.h"
#include "client/account.h"
#include "client/hooks.h"

namespace halley::cli {

class ManagedJob {
 public:
  // Makes `fn` the job's progress, polled from another thread every few seconds while the
  // returned scope lives. The scope's end takes a last reading and stops the polling, so `fn`
  // may read counters that die with the scope: declare it after them.
  class ProgressScope {
   public:
    ~ProgressScope();
    ProgressScope(const ProgressScope&) = delete;
    ProgressScope& operator=(const ProgressScope&) = delete;

   private:
    friend class ManagedJob;
    explicit ProgressScope(ManagedJob& job) : job_(job) {}
    ManagedJob& job_;
  };
  [[nodiscard]] ProgressScope ReportProgress(std::function<Json()> fn);
  void SetTotals(Json totals) { totals_ = std::move(totals); }
  // A line of the job's log: severity "D", "I", "W" or "E". Thread-safe.
  void Log(const char* severity, std::string message);
  // The server's job ID; "" when nothing is reported or the server could not be told.
  const std::string& Id() const { return id_; }

 private:
  friend int RunAsJob(Cli&, int, const std::string&, const std::function<int(ManagedJob&)>&);
  // The current reading, or the last one once the scope ended; null before any.
  Json CurrentProgress();

  // Both set before the body runs, read-only afterwards.
  bool managed_ = false;  // a job of the account: its log also goes to the journal
  std::string id_;
  std::unique_ptr<client::JobReport> report_;
  std::mutex mu_;
  std::function<Json()> progress_;  // Guarded by mu_.
  Json last_progress_;              // Guarded by mu_.
  Json totals_ = Json::object();
};

// Runs `body` (which returns the exit code) as a job of class `classification` for the
// Protected Item `source_id` ("" for none). Reporting problems are printed as warnings and never
// change the exit code.
int RunAsJob(Cli& cli, int classification, const std::string& source_id,
             const std::function<int(ManagedJob&)>& body);

// What a backup job's before/after commands run for; they get it in their environment as
// HALLEY_SCHEDULE, HALLEY_VAULT, HALLEY_VAULT_NAME, HALLEY_ITEM and HALLEY_ITEM_NAME.
struct JobCommandTarget {
  std::string schedule_id;  // "" for a backup not started by a Schedule
  std::string vault_id, vault_name;
  std::string item_id, item_name;
};

// Runs the `phase` commands of the job's Schedule, Storage Vault and Protected Item in
// `profile` (client::CommandsFor gives the order), one after the other. Each start ("Running
// before-backup command (...): CMD") and each line of output (stdout as I, stderr as W) goes to
// the job log and to this terminal; a command that warned (stderr output, a non-zero exit, or
// it could not be started) adds a warning line. PreExec and ThawExec commands are stopped by
// the command's stop request (SIGINT/SIGTERM), and the rest of the phase is then skipped;
// PostExec commands always run to their end. `backup_exit_code` (PostExec) is passed as
// HALLEY_BACKUP_EXIT_CODE. Returns false if any command warned.
bool RunJobCommands(Cli& cli, ManagedJob& job, const Json& profile, client::HookPhase phase,
                    const JobCommandTarget& target, int backup_exit_code = -1);

// The before/after commands a command line gives for a profile entry (`item add`, `vault
// add|request`): --pre-exec, --thaw-exec and --post-exec, each repeatable with one command.
struct CommandFlags {
  std::vector<std::string> pre, thaw, post;

  void Add(CLI::App* cmd);
  bool Empty() const { return pre.empty() && thaw.empty() && post.empty(); }
  // Sets the entry's PreExec, ThawExec and PostExec to these.
  void Store(Json& entry) const;
};

// A profile entry's commands for `list`: "    pre-exec CMD" lines to print, and the arrays
// pre_exec, thaw_exec and post_exec in `j`.
std::string ListCommands(const Json& entry, OrderedJson& j);

}  // namespace halley::cli
