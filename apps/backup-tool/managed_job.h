// SPDX-License-Identifier: Apache-2.0
//
// A command run against a managed vault (--vault) is a job of the account: the server sees it
// start (6001), its progress every few seconds, its log (every warning and error the command
// prints) and its end with a status from the exit code (5000 success, 7001 warnings, 7002
// error, 7003 out of space, 7005 cancelled) and totals. Without --vault nothing is reported.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "cli.h"
#include "client/account.h"

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
  void Log(const char* severity, std::string message);

 private:
  friend int RunAsJob(Cli&, int, const std::string&, const std::function<int(ManagedJob&)>&);
  // The current reading, or the last one once the scope ended; null before any.
  Json CurrentProgress();

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

}  // namespace halley::cli
