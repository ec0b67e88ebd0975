// SPDX-License-Identifier: Apache-2.0
//
// Job history of the Authentication Role (halley-jobs.db3): one BackupJobDetail per job
// (reference/comet.md §2.5: GUID, Username, Classification 4xxx, Status 5000/6xxx/7xxx, times,
// counts, Progress) and its log entries {Time, Severity D/I/W/E, Message}. Devices report their
// jobs through the user API; admins read them. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "base/json.h"
#include "db/db.h"

namespace halley::server {

inline constexpr int kJobStatusSuccess = 5000;
inline constexpr int kJobStatusRunning = 6001;
inline constexpr int kJobStatusRevived = 6002;
inline constexpr int kJobStatusWarning = 7001;
inline constexpr int kJobStatusError = 7002;
inline constexpr int kJobStatusCancelled = 7005;
inline constexpr int kJobStatusAbandoned = 7007;

struct JobEntry {
  int64_t time = 0;
  std::string severity;  // "D", "I", "W" or "E"
  std::string message;
};

class JobStore {
 public:
  static Result<std::unique_ptr<JobStore>> Open(const std::string& path, Clock& clock);

  // Records a new running job for `username` from the reported fields of `detail` (known
  // BackupJobDetail fields only) and returns its GUID.
  Result<std::string> Start(const std::string& username, const Json& detail);
  // kNotFound if there is no such job, or it belongs to another user when `username` is set.
  Result<Json> Get(const std::string& guid, const std::string& username = "");
  // Applies `edit` to the job's detail in one transaction (progress, finish).
  Result<Json> Update(const std::string& guid, const std::string& username,
                      const std::function<Result<void>(Json&)>& edit);

  Result<std::vector<Json>> ForUser(const std::string& username);
  Result<std::vector<Json>> All();
  // Jobs started in the last 24 hours, and every job still running.
  Result<std::vector<Json>> Recent();
  // Jobs that started or ended within [start, end] (swapped if start > end); 0,0 gives the
  // jobs that have not ended.
  Result<std::vector<Json>> ForDateRange(int64_t start, int64_t end);

  // Appends log entries (at most 10,000 per call; messages cut at 64 KiB).
  Result<void> AddEntries(const std::string& guid, const std::vector<JobEntry>& entries);
  // Entries of at least `min_severity` ("" = all) whose message contains `contains`.
  Result<std::vector<JobEntry>> Entries(const std::string& guid, const std::string& min_severity,
                                        const std::string& contains);

  Result<void> DeleteForUser(const std::string& username);
  // Deletes jobs (and their entries) that ended more than `days` days ago; returns how many.
  Result<int64_t> PruneOlderThan(int days);

  int64_t Now() const;

 private:
  JobStore(db::Database db, Clock& clock) : db_(std::move(db)), clock_(clock) {}
  Result<std::vector<Json>> Select(std::string_view where, std::initializer_list<db::Value> params);

  db::Database db_;
  Clock& clock_;
};

}  // namespace halley::server
