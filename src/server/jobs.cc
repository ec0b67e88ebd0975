// SPDX-License-Identifier: Apache-2.0
#include "server/jobs.h"

#include <algorithm>
#include <map>
#include <utility>

#include "base/encoding.h"
#include "crypto/random.h"

namespace halley::server {
namespace {

constexpr std::string_view kSchema[] = {
    R"sql(CREATE TABLE jobs (
            guid TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            status INTEGER NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER NOT NULL,
            detail TEXT NOT NULL);
          CREATE INDEX jobs_by_user ON jobs (username);
          CREATE INDEX jobs_by_start ON jobs (start_time);
          CREATE INDEX jobs_by_end ON jobs (end_time);
          CREATE TABLE job_entries (
            job_guid TEXT NOT NULL REFERENCES jobs (guid) ON DELETE CASCADE,
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            time INTEGER NOT NULL,
            severity TEXT NOT NULL,
            message TEXT NOT NULL);
          CREATE INDEX job_entries_by_job ON job_entries (job_guid, seq))sql",
    // 2: the last report time of a job (abandoning silent jobs) and the devices' schedule
    // plans (missed backups). Jobs from before take their latest known report time.
    R"sql(ALTER TABLE jobs ADD COLUMN last_report INTEGER NOT NULL DEFAULT 0;
          UPDATE jobs SET last_report = MAX(start_time, end_time,
              COALESCE(json_extract(detail, '$.Progress.RecievedTime'), 0));
          CREATE INDEX jobs_by_status ON jobs (status, last_report);
          CREATE TABLE schedule_plans (
            username TEXT NOT NULL,
            device_id TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            source_guid TEXT NOT NULL,
            destination_guid TEXT NOT NULL,
            due INTEGER NOT NULL,
            PRIMARY KEY (username, device_id, rule_id, due));
          CREATE INDEX schedule_plans_by_due ON schedule_plans (due))sql",
};

// Planned times judged per JudgeMissed call at most (the rest wait for the next call), so
// that one transaction stays short.
constexpr int64_t kMaxJudgedPerCall = 10000;

// The BackupJobDetail fields a device reports; anything else it sends is dropped.
constexpr const char* kReportedStrings[] = {
    "SourceGUID",     "DestinationGUID", "DeviceID",       "SnapshotID",
    "BackupRuleGUID", "ClientVersion",   "CancellationID", "Tags"};
constexpr const char* kReportedCounts[] = {
    "Classification", "RetryCount",      "TotalDirectories", "TotalFiles",
    "TotalSize",      "TotalChunks",     "UploadSize",       "DownloadSize",
    "TotalVmCount",   "TotalMailsCount", "TotalSitesCount",  "TotalAccountsCount"};

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

int SeverityRank(std::string_view s) {
  return s == "D" ? 0 : s == "I" ? 1 : s == "W" ? 2 : s == "E" ? 3 : -1;
}

bool Running(const Json& job) {
  const int status = job.value("Status", 0);
  return (status == kJobStatusRunning || status == kJobStatusRevived) &&
         job.value("EndTime", int64_t{0}) == 0;
}

Result<void> CheckPlanId(const std::string& id, const char* what) {
  if (id.empty() || id.size() > kMaxPlanIdBytes) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(what) + " must be 1-" + std::to_string(kMaxPlanIdBytes) + " bytes");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path, Clock& clock) {
  HALLEY_ASSIGN_OR_RETURN(db::Database db, db::Database::Open(path));
  HALLEY_RETURN_IF_ERROR(db.Migrate(kSchema));
  return std::unique_ptr<JobStore>(new JobStore(std::move(db), clock));
}

int64_t JobStore::Now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
}

Result<std::string> JobStore::Start(const std::string& username, const Json& detail) {
  Json job = {{"GUID", crypto::NewUuid()},   {"Username", username}, {"Classification", 4000},
              {"Status", kJobStatusRunning}, {"StartTime", Now()},   {"EndTime", 0}};
  for (const char* k : kReportedStrings) {
    if (detail.contains(k) && detail[k].is_string()) job[k] = detail[k];
  }
  for (const char* k : kReportedCounts) {
    if (detail.contains(k) && detail[k].is_number_integer()) job[k] = detail[k];
  }
  HALLEY_RETURN_IF_ERROR(Insert(job, job["StartTime"].get<int64_t>()));
  return job["GUID"].get<std::string>();
}

Result<void> JobStore::Insert(const Json& job, int64_t last_report) {
  HALLEY_RETURN_IF_ERROR(db_.Execute(
      "INSERT INTO jobs (guid, username, status, start_time, end_time, detail, last_report) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {job["GUID"].get<std::string>(), job["Username"].get<std::string>(),
       job.value("Status", int64_t{0}), job.value("StartTime", int64_t{0}),
       job.value("EndTime", int64_t{0}), Dump(job), last_report}));
  return {};
}

Result<void> JobStore::Store(const Json& job, bool reported) {
  const std::string guid = job["GUID"];
  const int64_t status = job.value("Status", int64_t{0});
  const int64_t end = job.value("EndTime", int64_t{0});
  if (reported) {
    HALLEY_RETURN_IF_ERROR(db_.Execute(
        "UPDATE jobs SET status = ?, end_time = ?, detail = ?, last_report = ? WHERE guid = ?",
        {status, end, Dump(job), Now(), guid}));
  } else {
    HALLEY_RETURN_IF_ERROR(
        db_.Execute("UPDATE jobs SET status = ?, end_time = ?, detail = ? WHERE guid = ?",
                    {status, end, Dump(job), guid}));
  }
  return {};
}

Result<void> JobStore::InsertEntry(const std::string& guid, const JobEntry& e) {
  if (SeverityRank(e.severity) < 0) {
    return Fail(ErrorCode::kInvalidArgument, "log severity must be D, I, W or E");
  }
  HALLEY_RETURN_IF_ERROR(
      db_.Execute("INSERT INTO job_entries (job_guid, time, severity, message) VALUES (?, ?, ?, ?)",
                  {guid, e.time, e.severity, e.message.substr(0, 64 * 1024)}));
  return {};
}

Result<std::vector<Json>> JobStore::Select(std::string_view where,
                                           std::initializer_list<db::Value> params) {
  HALLEY_ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT detail FROM jobs " + std::string(where) +
                                                   " ORDER BY start_time, guid",
                                               params));
  std::vector<Json> out;
  for (const auto& r : rows) {
    HALLEY_ASSIGN_OR_RETURN(Json j, ParseJson(r.Text(0)));
    out.push_back(std::move(j));
  }
  return out;
}

Result<Json> JobStore::Get(const std::string& guid, const std::string& username) {
  HALLEY_ASSIGN_OR_RETURN(auto jobs, Select("WHERE guid = ?", {guid}));
  if (jobs.empty() || (!username.empty() && jobs[0].value("Username", "") != username)) {
    return Fail(ErrorCode::kNotFound, "no job '" + guid + "'");
  }
  return jobs[0];
}

Result<Json> JobStore::Update(const std::string& guid, const std::string& username,
                              const std::function<Result<void>(Json&)>& edit) {
  return db_.Transaction([&](db::Database&) -> Result<Json> {
    HALLEY_ASSIGN_OR_RETURN(Json job, Get(guid, username));
    HALLEY_RETURN_IF_ERROR(edit(job));
    HALLEY_RETURN_IF_ERROR(Store(job, false));
    return job;
  });
}

Result<Json> JobStore::Report(const std::string& guid, const std::string& username,
                              const std::function<Result<void>(Json&)>& edit) {
  return db_.Transaction([&](db::Database&) -> Result<Json> {
    HALLEY_ASSIGN_OR_RETURN(Json job, Get(guid, username));
    if (job.value("Status", 0) == kJobStatusAbandoned) {
      job["Status"] = kJobStatusRevived;
      job["EndTime"] = 0;
      HALLEY_RETURN_IF_ERROR(
          InsertEntry(guid, {Now(), "I", "The device reports this job again: revived"}));
    }
    HALLEY_RETURN_IF_ERROR(edit(job));
    HALLEY_RETURN_IF_ERROR(Store(job, true));
    return job;
  });
}

Result<void> JobStore::MarkAbandoned(Json& job, const std::string& message) {
  const int64_t now = Now();
  job["Status"] = kJobStatusAbandoned;
  job["EndTime"] = now;
  HALLEY_RETURN_IF_ERROR(Store(job, false));
  return InsertEntry(job["GUID"].get<std::string>(), {now, "E", message});
}

Result<Json> JobStore::Abandon(const std::string& guid, const std::string& username,
                               const std::string& message) {
  return db_.Transaction([&](db::Database&) -> Result<Json> {
    HALLEY_ASSIGN_OR_RETURN(Json job, Get(guid, username));
    if (!Running(job)) {
      return Fail(ErrorCode::kInvalidArgument,
                  "the job is not running (status " + std::to_string(job.value("Status", 0)) + ")");
    }
    HALLEY_RETURN_IF_ERROR(MarkAbandoned(job, message));
    return job;
  });
}

Result<std::vector<std::string>> JobStore::AbandonSilent(int64_t silent_seconds) {
  const int64_t cutoff = Now() - silent_seconds;
  const std::string message = "The device stopped reporting this job (nothing for " +
                              std::to_string(silent_seconds) +
                              " seconds or more): marked abandoned";
  return db_.Transaction([&](db::Database&) -> Result<std::vector<std::string>> {
    HALLEY_ASSIGN_OR_RETURN(
        auto jobs, Select("WHERE status IN (?, ?) AND end_time = 0 AND last_report <= ?",
                          {int64_t{kJobStatusRunning}, int64_t{kJobStatusRevived}, cutoff}));
    std::vector<std::string> out;
    for (Json& job : jobs) {
      HALLEY_RETURN_IF_ERROR(MarkAbandoned(job, message));
      out.push_back(job["GUID"].get<std::string>());
    }
    return out;
  });
}

Result<void> JobStore::SetSchedulePlan(const std::string& username, const std::string& device_id,
                                       const std::vector<PlannedRule>& rules) {
  const int64_t now = Now();
  HALLEY_RETURN_IF_ERROR(CheckPlanId(device_id, "DeviceID"));
  if (rules.size() > kMaxPlanRules) {
    return Fail(ErrorCode::kInvalidArgument,
                "a plan has at most " + std::to_string(kMaxPlanRules) + " rules");
  }
  for (const PlannedRule& r : rules) {
    HALLEY_RETURN_IF_ERROR(CheckPlanId(r.rule_id, "a rule ID"));
    HALLEY_RETURN_IF_ERROR(CheckPlanId(r.source, "Source"));
    HALLEY_RETURN_IF_ERROR(CheckPlanId(r.destination, "Destination"));
    if (r.times.size() > kMaxPlanTimesPerRule) {
      return Fail(ErrorCode::kInvalidArgument,
                  "a rule has at most " + std::to_string(kMaxPlanTimesPerRule) + " planned times");
    }
    for (int64_t t : r.times) {
      if (t < now - kMaxPlanBehindSeconds || t > now + kMaxPlanAheadSeconds) {
        return Fail(
            ErrorCode::kInvalidArgument,
            "planned time " + std::to_string(t) + " is not between a day ago and 32 days from now");
      }
    }
  }
  return db_.Transaction([&](db::Database& db) -> Result<void> {
    HALLEY_RETURN_IF_ERROR(
        db.Execute("DELETE FROM schedule_plans WHERE username = ? AND device_id = ? AND due > ?",
                   {username, device_id, now}));
    for (const PlannedRule& r : rules) {
      for (int64_t t : r.times) {
        HALLEY_RETURN_IF_ERROR(
            db.Execute("INSERT OR IGNORE INTO schedule_plans (username, device_id, rule_id, "
                       "source_guid, destination_guid, due) VALUES (?, ?, ?, ?, ?, ?)",
                       {username, device_id, r.rule_id, r.source, r.destination, t}));
      }
    }
    return {};
  });
}

Result<std::vector<int64_t>> JobStore::PlannedTimes(const std::string& username) {
  HALLEY_ASSIGN_OR_RETURN(
      auto rows,
      db_.Query("SELECT due FROM schedule_plans WHERE username = ? ORDER BY due", {username}));
  std::vector<int64_t> out;
  for (const auto& r : rows) out.push_back(r.Int(0));
  return out;
}

Result<std::vector<std::string>> JobStore::JudgeMissed(const MissedPolicy& policy) {
  const int64_t now = Now();
  const int64_t grace = std::max<int64_t>(policy.grace_seconds, 0);
  const std::string message =
      grace > 0 ? "Missed: the scheduled backup did not start within " + std::to_string(grace) +
                      " seconds of its time (device offline?)"
                : "Missed: the scheduled backup did not start on time (device offline?)";
  return db_.Transaction([&](db::Database& db) -> Result<std::vector<std::string>> {
    HALLEY_ASSIGN_OR_RETURN(
        auto due, db.Query("SELECT username, device_id, rule_id, source_guid, destination_guid, "
                           "due FROM schedule_plans WHERE due < ? ORDER BY due LIMIT ?",
                           {now - grace, kMaxJudgedPerCall}));
    std::map<std::pair<std::string, std::string>, bool> devices;  // whether each still exists
    std::vector<std::string> out;
    for (const auto& row : due) {
      const std::string& user = row.Text(0);
      const std::string& device = row.Text(1);
      const std::string& source = row.Text(3);
      const std::string& destination = row.Text(4);
      const int64_t t = row.Int(5);
      auto known = devices.find({user, device});
      if (known == devices.end()) {
        const bool exists = !policy.device_exists || policy.device_exists(user, device);
        known = devices.emplace(std::pair(user, device), exists).first;
        if (!exists) {
          HALLEY_RETURN_IF_ERROR(db.Execute(
              "DELETE FROM schedule_plans WHERE username = ? AND device_id = ?", {user, device}));
        }
      }
      if (!known->second) continue;
      HALLEY_RETURN_IF_ERROR(db.Execute(
          "DELETE FROM schedule_plans WHERE username = ? AND device_id = ? AND rule_id = ? "
          "AND due = ?",
          {user, device, row.Text(2), t}));
      if (!policy.generate || t < policy.not_before || t - grace < policy.judge_from) continue;
      HALLEY_ASSIGN_OR_RETURN(auto near, Select("WHERE username = ? AND start_time BETWEEN ? AND ?",
                                                {user, t - grace, t + grace}));
      const bool started = std::any_of(near.begin(), near.end(), [&](const Json& j) {
        // A missed job is no run, but the one for this very time means it was judged.
        return j.value("Classification", 0) == kJobClassificationBackup &&
               j.value("SourceGUID", "") == source &&
               j.value("DestinationGUID", "") == destination &&
               (j.value("Status", 0) != kJobStatusMissed || j.value("StartTime", int64_t{0}) == t);
      });
      if (started) continue;
      Json job = {{"GUID", crypto::NewUuid()},
                  {"Username", user},
                  {"Classification", kJobClassificationBackup},
                  {"Status", kJobStatusMissed},
                  {"StartTime", t},
                  {"EndTime", t},
                  {"SourceGUID", source},
                  {"DestinationGUID", destination},
                  {"DeviceID", device},
                  {"BackupRuleGUID", row.Text(2)}};
      HALLEY_RETURN_IF_ERROR(Insert(job, t));
      HALLEY_RETURN_IF_ERROR(InsertEntry(job["GUID"].get<std::string>(), {now, "E", message}));
      out.push_back(job["GUID"].get<std::string>());
    }
    return out;
  });
}

Result<std::vector<Json>> JobStore::ForUser(const std::string& username) {
  return Select("WHERE username = ?", {username});
}

Result<std::vector<Json>> JobStore::All() { return Select("", {}); }

Result<std::vector<Json>> JobStore::Recent() {
  return Select("WHERE start_time >= ? OR end_time = 0", {Now() - 86400});
}

Result<std::vector<Json>> JobStore::ForDateRange(int64_t start, int64_t end) {
  if (start == 0 && end == 0) return Select("WHERE end_time = 0", {});
  if (start > end) std::swap(start, end);
  return Select("WHERE (start_time BETWEEN ? AND ?) OR (end_time BETWEEN ? AND ?)",
                {start, end, start, end});
}

Result<void> JobStore::AddEntries(const std::string& guid, const std::vector<JobEntry>& entries) {
  if (entries.size() > 10000) {
    return Fail(ErrorCode::kInvalidArgument, "at most 10000 log entries per call");
  }
  return db_.Transaction([&](db::Database&) -> Result<void> {
    for (const JobEntry& e : entries) HALLEY_RETURN_IF_ERROR(InsertEntry(guid, e));
    return {};
  });
}

Result<std::vector<JobEntry>> JobStore::Entries(const std::string& guid,
                                                const std::string& min_severity,
                                                const std::string& contains) {
  const int min_rank = min_severity.empty() ? 0 : SeverityRank(min_severity);
  if (min_rank < 0) return Fail(ErrorCode::kInvalidArgument, "MinSeverity must be D, I, W or E");
  HALLEY_ASSIGN_OR_RETURN(
      auto rows, db_.Query("SELECT time, severity, message FROM job_entries WHERE job_guid = ? "
                           "ORDER BY seq",
                           {guid}));
  std::vector<JobEntry> out;
  for (const auto& r : rows) {
    JobEntry e{r.Int(0), r.Text(1), r.Text(2)};
    if (SeverityRank(e.severity) < min_rank) continue;
    if (!contains.empty() && e.message.find(contains) == std::string::npos) continue;
    out.push_back(std::move(e));
  }
  return out;
}

Result<void> JobStore::DeleteForUser(const std::string& username) {
  return db_.Transaction([&](db::Database& db) -> Result<void> {
    HALLEY_RETURN_IF_ERROR(db.Execute("DELETE FROM jobs WHERE username = ?", {username}));
    HALLEY_RETURN_IF_ERROR(db.Execute("DELETE FROM schedule_plans WHERE username = ?", {username}));
    return {};
  });
}

Result<int64_t> JobStore::PruneOlderThan(int days) {
  return db_.Execute("DELETE FROM jobs WHERE end_time != 0 AND end_time < ?",
                     {Now() - int64_t{days} * 86400});
}

}  // namespace halley::server
