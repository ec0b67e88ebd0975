// SPDX-License-Identifier: Apache-2.0
//
// Job history of the Authentication Role (halley-jobs.db3): one BackupJobDetail per job
// (reference/comet.md §2.5: GUID, Username, Classification 4xxx, Status 5000/6xxx/7xxx, times,
// counts, Progress) and its log entries {Time, Severity D/I/W/E, Message}. Devices report their
// jobs through the user API; admins read them. Thread-safe.
//
// The server also generates job states itself (docs/server.md "Server-generated jobs"): a
// running job whose device stopped reporting becomes abandoned (7007), and a device's schedule
// plan (its upcoming due times, which only the device can compute: they are in its time zone)
// lets the server record a backup that did not start on time as missed (7004).
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
inline constexpr int kJobStatusMissed = 7004;
inline constexpr int kJobStatusCancelled = 7005;
inline constexpr int kJobStatusAbandoned = 7007;

inline constexpr int kJobClassificationBackup = 4001;

// Bounds of a schedule plan (SetSchedulePlan).
inline constexpr size_t kMaxPlanRules = 1000;
inline constexpr size_t kMaxPlanTimesPerRule = 64;
inline constexpr size_t kMaxPlanIdBytes = 256;
inline constexpr int64_t kMaxPlanAheadSeconds = 32 * 86400;  // 31 days and a day of clock skew
inline constexpr int64_t kMaxPlanBehindSeconds = 86400;

struct JobEntry {
  int64_t time = 0;
  std::string severity;  // "D", "I", "W" or "E"
  std::string message;
};

// One schedule (BackupRule) of a device's plan: the due times of its next runs.
struct PlannedRule {
  std::string rule_id;         // the BackupRule's ID; recorded as a missed job's BackupRuleGUID
  std::string source;          // Protected Item ID (a job's SourceGUID)
  std::string destination;     // Storage Vault ID (a job's DestinationGUID)
  std::vector<int64_t> times;  // unix seconds, random delay included
};

// How JudgeMissed judges planned times (AuthenticationRole keys, docs/server.md).
struct MissedPolicy {
  bool generate = true;         // GenerateMissedBackupEvents: false judges without recording
  int64_t not_before = 0;       // NoMissedBackupEventsBefore: earlier times are not recorded
  int64_t grace_seconds = 600;  // MissedBackupGraceSeconds
  // Times whose window [T - grace, T + grace] began before this are dropped unjudged: reports
  // could not reach a server that was not running (the App passes its start time).
  int64_t judge_from = 0;
  // Whether `device_id` is still one of `username`'s devices; the plan of one that is not (a
  // revoked device, a deleted user) is dropped unjudged. Null: every device is. Called inside
  // the job database's transaction, so it must not use this JobStore.
  std::function<bool(const std::string& username, const std::string& device_id)> device_exists;
};

class JobStore {
 public:
  static Result<std::unique_ptr<JobStore>> Open(const std::string& path, Clock& clock);

  // Records a new running job for `username` from the reported fields of `detail` (known
  // BackupJobDetail fields only) and returns its GUID.
  Result<std::string> Start(const std::string& username, const Json& detail);
  // kNotFound if there is no such job, or it belongs to another user when `username` is set.
  Result<Json> Get(const std::string& guid, const std::string& username = "");
  // Applies `edit` to the job's detail in one transaction. An error from `edit` changes
  // nothing and is returned.
  Result<Json> Update(const std::string& guid, const std::string& username,
                      const std::function<Result<void>(Json&)>& edit);
  // A report from the job's device (progress, log, finish): like Update, and also records now
  // as the job's last report time. An abandoned job (7007) is revived first (6002, EndTime 0,
  // an "I" log entry saying so), then `edit` sees it running.
  Result<Json> Report(const std::string& guid, const std::string& username,
                      const std::function<Result<void>(Json&)>& edit);
  // Marks a running job (6001, 6002) abandoned (7007) now, with an "E" log entry `message`.
  // kNotFound as Get; kInvalidArgument if the job is not running.
  Result<Json> Abandon(const std::string& guid, const std::string& username,
                       const std::string& message);
  // Marks abandoned every running job whose device has not reported for `silent_seconds` or
  // more, and returns their GUIDs.
  Result<std::vector<std::string>> AbandonSilent(int64_t silent_seconds);

  // Replaces the plan of `username`'s device `device_id` by `rules`. Times already due (not
  // after now) of the previous plan are kept to be judged; its later times are dropped.
  // kInvalidArgument beyond the kMaxPlan* bounds, for an empty or overlong ID, or a time more
  // than a day in the past or 32 days ahead; nothing changes then.
  Result<void> SetSchedulePlan(const std::string& username, const std::string& device_id,
                               const std::vector<PlannedRule>& rules);
  // The planned times of `username` not judged yet, in ascending order.
  Result<std::vector<int64_t>> PlannedTimes(const std::string& username);
  // Judges every planned time T with T + grace < now, then forgets it: unless a backup job
  // (4001) of that user with the same SourceGUID and DestinationGUID started within
  // [T - grace, T + grace] (whatever became of it), records a missed job (7004, StartTime =
  // EndTime = T) with an "E" log entry, subject to `policy`. Returns the new jobs' GUIDs.
  // Judging the same time twice cannot happen (it is forgotten in the same transaction), and
  // a rule planned twice for one time gives one missed job.
  Result<std::vector<std::string>> JudgeMissed(const MissedPolicy& policy);

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

  // Deletes the user's jobs, their entries and the user's schedule plans.
  Result<void> DeleteForUser(const std::string& username);
  // Deletes jobs (and their entries) that ended more than `days` days ago; returns how many.
  Result<int64_t> PruneOlderThan(int days);

  int64_t Now() const;

 private:
  JobStore(db::Database db, Clock& clock) : db_(std::move(db)), clock_(clock) {}
  Result<std::vector<Json>> Select(std::string_view where, std::initializer_list<db::Value> params);
  Result<void> Insert(const Json& job, int64_t last_report);
  // Writes `job` back (its status, end time and detail); with `reported`, now becomes its last
  // report time. Callers hold a transaction.
  Result<void> Store(const Json& job, bool reported);
  Result<void> InsertEntry(const std::string& guid, const JobEntry& e);
  // The abandoning of one running job; callers hold a transaction.
  Result<void> MarkAbandoned(Json& job, const std::string& message);

  db::Database db_;
  Clock& clock_;
};

}  // namespace halley::server
