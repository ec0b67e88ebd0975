// SPDX-License-Identifier: Apache-2.0
#include "managed_job.h"

#include "progress.h"

namespace halley::cli {
namespace {

constexpr std::chrono::seconds kProgressEvery{5};

int StatusFor(int exit_code, ErrorCode error) {
  if (exit_code == kExitOk) return client::kJobSuccess;
  if (exit_code == kExitPartial) return client::kJobWarning;
  if (exit_code == kExitInterrupted) return client::kJobCancelled;
  if (error == ErrorCode::kNoSpace) return client::kJobQuotaExceeded;
  return client::kJobError;
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
  if (report_) report_->Log(severity, std::move(message));
}

int RunAsJob(Cli& cli, int classification, const std::string& source_id,
             const std::function<int(ManagedJob&)>& body) {
  ManagedJob job;
  auto vault = cli.ManagedVault();
  if (!vault || !*vault) return body(job);  // not managed, or body reports why it cannot open
  auto account = cli.Account();
  auto report = client::JobReport::Start(**account,
                                         {{"Classification", classification},
                                          {"SourceGUID", source_id},
                                          {"DestinationGUID", (*vault)->id}},
                                         HALLEY_VERSION);
  if (!report) {
    cli.Warn("Warning: the job could not be reported to the server: " + report.error().Message() +
             "\n");
    return body(job);
  }
  job.report_ = std::move(*report);
  ErrorCode last_error = ErrorCode::kUnknown;
  cli.report = [&](const char* severity, const std::string& text, ErrorCode code) {
    if (code != ErrorCode::kUnknown) last_error = code;
    job.Log(severity, text);
  };
  bool warned = false;
  auto send_progress = [&] {
    Json progress = job.CurrentProgress();
    if (progress.is_null()) return;
    if (auto sent = job.report_->Progress(std::move(progress)); !sent && !warned) {
      warned = true;  // once: the server may be down for the whole job
      cli.Warn("Warning: progress could not be reported: " + sent.error().Message() + "\n");
    }
  };
  int code;
  {
    Ticker ticker(kProgressEvery, [&](double) { send_progress(); });
    code = body(job);
  }
  cli.report = nullptr;
  send_progress();
  if (auto done = job.report_->Finish(StatusFor(code, last_error), job.totals_); !done) {
    cli.Warn("Warning: the job's end could not be reported: " + done.error().Message() + "\n");
  }
  return code;
}

}  // namespace halley::cli
