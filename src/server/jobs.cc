// SPDX-License-Identifier: Apache-2.0
#include "server/jobs.h"

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
};

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
  const std::string guid = job["GUID"];
  HALLEY_RETURN_IF_ERROR(db_.Execute(
      "INSERT INTO jobs (guid, username, status, start_time, end_time, detail) "
      "VALUES (?, ?, ?, ?, 0, ?)",
      {guid, username, int64_t{kJobStatusRunning}, job["StartTime"].get<int64_t>(), Dump(job)}));
  return guid;
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
    HALLEY_RETURN_IF_ERROR(db_.Execute(
        "UPDATE jobs SET status = ?, end_time = ?, detail = ? WHERE guid = ?",
        {job.value("Status", int64_t{0}), job.value("EndTime", int64_t{0}), Dump(job), guid}));
    return job;
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
  return db_.Transaction([&](db::Database& db) -> Result<void> {
    for (const JobEntry& e : entries) {
      if (SeverityRank(e.severity) < 0) {
        return Fail(ErrorCode::kInvalidArgument, "log severity must be D, I, W or E");
      }
      HALLEY_RETURN_IF_ERROR(db.Execute(
          "INSERT INTO job_entries (job_guid, time, severity, message) VALUES (?, ?, ?, ?)",
          {guid, e.time, e.severity, e.message.substr(0, 64 * 1024)}));
    }
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
  HALLEY_RETURN_IF_ERROR(db_.Execute("DELETE FROM jobs WHERE username = ?", {username}));
  return {};
}

Result<int64_t> JobStore::PruneOlderThan(int days) {
  return db_.Execute("DELETE FROM jobs WHERE end_time != 0 AND end_time < ?",
                     {Now() - int64_t{days} * 86400});
}

}  // namespace halley::server
