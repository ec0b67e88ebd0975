// SPDX-License-Identifier: Apache-2.0
#include "managed_job.h"

#include <cstdlib>
#include <iostream>
#include <tuple>

#include "client/events.h"
#include "progress.h"

namespace halley::cli {
namespace {

constexpr std::chrono::seconds kProgressEvery{5};
// How much of each output stream of a before/after command goes into the job log. The rest is
// dropped with a note: the log is for reading, and the server takes at most 1 MiB per call.
constexpr size_t kCommandOutputBytes = 64 * 1024;
constexpr size_t kCommandOutputLines = 1000;

int StatusFor(int exit_code, ErrorCode error) {
  if (exit_code == kExitOk) return client::kJobSuccess;
  if (exit_code == kExitPartial) return client::kJobWarning;
  if (exit_code == kExitInterrupted) return client::kJobCancelled;
  if (error == ErrorCode::kNoSpace) return client::kJobQuotaExceeded;
  return client::kJobError;
}

std::string JobNoun(int classification) {
  switch (classification) {
    case client::kJobBackup:
      return "Backup job";
    case client::kJobRestore:
      return "Restore job";
    case client::kJobRetention:
      return "Retention pass";
    case client::kJobUnlock:
      return "Unlock job";
    case client::kJobDeleteCustom:
      return "Snapshot deletion";
    case client::kJobReindex:
      return "Rebuild indexes job";
    case client::kJobDeepVerify:
      return "Deep verify job";
    default:
      return "Job (" + std::to_string(classification) + ")";
  }
}

// Event 51's message and severity.
std::pair<std::string, char> StatusText(int status) {
  switch (status) {
    case client::kJobSuccess:
      return {"success", 'I'};
    case client::kJobWarning:
      return {"warning", 'W'};
    case client::kJobCancelled:
      return {"cancelled", 'W'};
    case client::kJobQuotaExceeded:
      return {"quota exceeded", 'E'};
    default:
      return {"error", 'E'};
  }
}

const char* PhaseCommand(client::HookPhase phase) {
  switch (phase) {
    case client::HookPhase::kPre:
      return "before-backup command";
    case client::HookPhase::kThaw:
      return "thaw command";
    case client::HookPhase::kPost:
      return "after-backup command";
  }
  return "command";
}

// The Description of profile[section][id], or the ID if it has none.
std::string EntryName(const Json& profile, const std::string& section, const std::string& id) {
  const auto s = profile.find(section);
  if (s == profile.end() || !s->is_object()) return id;
  const auto e = s->find(id);
  if (e == s->end()) return id;
  std::string name = client::StringField(*e, "Description");
  return name.empty() ? id : name;
}

// Why a command is a warning, for its warning line.
std::string WarningReason(const client::CommandResult& r) {
  if (r.cancelled) return "was stopped (the job was cancelled)";
  if (r.timed_out) return "was stopped (time limit)";
  std::string why;
  if (r.exit_code != 0) {
    why = "exited with code " + std::to_string(r.exit_code);
    if (r.exit_code == 127) why += " (command not found)";
    if (r.exit_code == 126) why += " (not executable)";
  }
  if (r.wrote_stderr) why += why.empty() ? "wrote to stderr" : " and wrote to stderr";
  return why;
}

}  // namespace

ManagedJob::ProgressScope ManagedJob::ReportProgress(std::function<Json()> fn) {
  std::lock_guard lock(mu_);
  progress_ = std::move(fn);
  return ProgressScope(*this);
}

ManagedJob::ProgressScope::~ProgressScope() {
  std::lock_guard lock(job_.mu_);
  if (job_.progress_) job_.last_progress_ = job_.progress_();
  job_.progress_ = nullptr;
}

Json ManagedJob::CurrentProgress() {
  std::lock_guard lock(mu_);
  return progress_ ? progress_() : last_progress_;
}

void ManagedJob::Log(const char* severity, std::string message) {
  if (managed_) client::JobEvent(client::kEventJobLog, severity[0], id_, message);
  if (report_) report_->Log(severity, std::move(message));
}

int RunAsJob(Cli& cli, int classification, const std::string& source_id,
             const std::function<int(ManagedJob&)>& body) {
  ManagedJob job;
  auto vault = cli.ManagedVault();
  if (!vault || !*vault) return body(job);  // not managed, or body reports why it cannot open
  auto account = cli.Account();
  Json detail = {{"Classification", classification},
                 {"SourceGUID", source_id},
                 {"DestinationGUID", (*vault)->id}};
  // A run of the daemon can be cancelled from the server (admin/job/cancel): the daemon knows
  // the run by this ID.
  if (const char* id = std::getenv("BACKUP_TOOL_CANCELLATION_ID"); id != nullptr && *id != '\0') {
    detail["CancellationID"] = id;
  }
  auto report = client::JobReport::Start(**account, std::move(detail), HALLEY_VERSION);
  if (report) {
    job.report_ = std::move(*report);
    job.id_ = job.report_->Id();
  }
  job.managed_ = true;
  const std::string noun = JobNoun(classification);
  client::JobEvent(client::kEventJobStarted, 'I', job.id_,
                   noun + " started (Storage Vault \"" + (*vault)->description + "\"" +
                       (source_id.empty() ? "" : ", Protected Item " + source_id) + ")",
                   {{"HALLEY_JOB_CLASSIFICATION", std::to_string(classification)},
                    {"HALLEY_VAULT_ID", (*vault)->id},
                    {"HALLEY_ITEM_ID", source_id}});
  // From here every warning and error the command prints is in the job's log and journal.
  ErrorCode last_error = ErrorCode::kUnknown;
  cli.report = [&](const char* severity, const std::string& text, ErrorCode code) {
    if (code != ErrorCode::kUnknown) last_error = code;
    job.Log(severity, text);
  };
  if (!report) {
    cli.Warn("Warning: the job could not be reported to the server: " + report.error().Message() +
             "\n");
  }
  bool warned = false;
  auto send_progress = [&] {
    // Before any progress (a before-backup command running) an empty report still tells the
    // server the job is alive, so that it is not marked abandoned.
    Json progress = job.CurrentProgress();
    if (progress.is_null()) progress = Json::object();
    if (auto sent = job.report_->Progress(std::move(progress)); !sent && !warned) {
      warned = true;  // once: the server may be down for the whole job
      cli.Warn("Warning: progress could not be reported: " + sent.error().Message() + "\n");
    }
  };
  int code;
  if (job.report_) {
    Ticker ticker(kProgressEvery, [&](double) { send_progress(); });
    code = body(job);
  } else {
    code = body(job);
  }
  cli.report = nullptr;
  const int status = StatusFor(code, last_error);
  if (job.report_) {
    send_progress();
    if (auto done = job.report_->Finish(status, job.totals_); !done) {
      const std::string text =
          "Warning: the job's end could not be reported: " + done.error().Message();
      cli.Warn(text + "\n");
      client::JobEvent(client::kEventJobLog, 'W', job.id_, text);
    }
  }
  const auto [status_text, severity] = StatusText(status);
  client::JobEvent(client::kEventJobFinished, severity, job.id_,
                   noun + " finished: " + status_text + " (" + std::to_string(status) + ")",
                   {{"HALLEY_JOB_STATUS", std::to_string(status)},
                    {"HALLEY_JOB_CLASSIFICATION", std::to_string(classification)}});
  return code;
}

bool RunJobCommands(Cli& cli, ManagedJob& job, const Json& profile, client::HookPhase phase,
                    const JobCommandTarget& target, int backup_exit_code) {
  const std::vector<client::JobCommand> commands =
      client::CommandsFor(profile, phase, target.schedule_id, target.vault_id, target.item_id);
  // PostExec undoes what PreExec did (a database started again, a mount released): a cancelled
  // job still runs it to its end.
  const std::stop_token stop =
      phase == client::HookPhase::kPost ? std::stop_token() : cli.StopToken();
  bool clean = true;
  for (const client::JobCommand& c : commands) {
    if (stop.stop_requested()) break;  // the job ends as cancelled
    const std::string what = std::string(PhaseCommand(phase)) + " (" +
                             std::string(client::SectionNoun(c.section)) + " \"" +
                             EntryName(profile, c.section, c.entry_id) + "\")";
    const std::string running = "Running " + what + ": " + c.command;
    job.Log("I", running);
    cli.Print(running + "\n");
    client::CommandOptions options;
    options.env = {{"HALLEY_PHASE", std::string(client::HookPhaseName(phase))},
                   {"HALLEY_JOB_ID", job.Id()},
                   {"HALLEY_SCHEDULE", target.schedule_id},
                   {"HALLEY_VAULT", target.vault_id},
                   {"HALLEY_VAULT_NAME", target.vault_name},
                   {"HALLEY_ITEM", target.item_id},
                   {"HALLEY_ITEM_NAME", target.item_name},
                   {"HALLEY_COMMAND_OF", std::string(client::SectionNoun(c.section))}};
    if (phase == client::HookPhase::kPost) {
      options.env.emplace_back("HALLEY_BACKUP_EXIT_CODE", std::to_string(backup_exit_code));
    }
    options.stop = stop;
    options.max_output_bytes = kCommandOutputBytes;
    options.max_output_lines = kCommandOutputLines;
    auto result = client::RunCommand(c.command, options);
    if (!result) {
      clean = false;
      cli.Warn("Warning: the " + what + " could not be started: " + result.error().Message() +
               "\n");
      continue;
    }
    for (client::OutputLine& line : result->lines) {
      if (line.stream == client::Stream::kStdout) {
        cli.Print(line.text + "\n");
        job.Log("I", std::move(line.text));
      } else {
        std::cerr << line.text << "\n" << std::flush;
        job.Log("W", std::move(line.text));
      }
    }
    if (result->output_left_open) {
      job.Log("I", "the " + what +
                       " left a process running that keeps its output open; it is not read "
                       "any further");
    }
    if (result->Warning()) {
      clean = false;
      cli.Warn("Warning: the " + what + " " + WarningReason(*result) + ": " + c.command + "\n");
    }
  }
  return clean;
}

void CommandFlags::Add(CLI::App* cmd) {
  // One command per flag: a command has spaces, and a path after it is not a second command.
  cmd->add_option("--pre-exec", pre,
                  "run this shell command before each backup (repeatable; output on stderr or a "
                  "non-zero exit makes the job a warning, 7001)")
      ->allow_extra_args(false);
  cmd->add_option("--thaw-exec", thaw,
                  "run this shell command after the --pre-exec ones, as reading starts "
                  "(repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--post-exec", post,
                  "run this shell command after each backup, even a failed or cancelled one "
                  "(repeatable)")
      ->allow_extra_args(false);
}

void CommandFlags::Store(Json& entry) const {
  entry["PreExec"] = pre;
  entry["ThawExec"] = thaw;
  entry["PostExec"] = post;
}

std::string ListCommands(const Json& entry, OrderedJson& j) {
  std::string text;
  for (const auto& [field, key, flag] : {std::tuple{"PreExec", "pre_exec", "pre-exec"},
                                         std::tuple{"ThawExec", "thaw_exec", "thaw-exec"},
                                         std::tuple{"PostExec", "post_exec", "post-exec"}}) {
    const std::vector<std::string> commands = client::CommandList(entry, field);
    for (const std::string& c : commands) text += std::string("    ") + flag + " " + c + "\n";
    j[key] = commands;
  }
  return text;
}

}  // namespace halley::cli
