// SPDX-License-Identifier: Apache-2.0
//
// Jobs (reference/comet.md §2.2, §2.5): devices report their jobs through user/web/job/*; admins
// read them through admin/get-job*. Reporting calls are ours (the product's client protocol is
// not public); their shapes are in docs/server.md. Every report a device makes (start, progress,
// log, finish) counts as a sign of life for the abandoning of silent jobs (JobStore::Report),
// and user/web/device/schedule-plan feeds the judging of missed backups.
#include "base/log.h"
#include "base/time.h"
#include "server/api_call.h"

namespace halley::server::api {
namespace {

constexpr const char* kFinalCounts[] = {"TotalDirectories", "TotalFiles", "TotalSize",
                                        "TotalChunks",      "UploadSize", "DownloadSize"};

Response Jobs(const Result<std::vector<Json>>& jobs) {
  if (!jobs) return ErrorReply(jobs.error());
  return Response::Json(Dump(*jobs));
}

// The jobs of the users the caller may see (a tenant admin: its organization's).
Response ScopedJobs(Call& c, Result<std::vector<Json>> jobs) {
  if (!jobs) return ErrorReply(jobs.error());
  auto scope = UserScope::Of(c);
  if (!scope) return ErrorReply(scope.error());
  std::erase_if(*jobs, [&](const Json& job) { return !scope->Sees(StringField(job, "Username")); });
  return Response::Json(Dump(*jobs));
}

Json EntryJson(const JobEntry& e) {
  return {{"Time", e.time}, {"Severity", e.severity}, {"Message", e.message}};
}

// JobStore::Report revives an abandoned job before the edit sees it, so an abandoned job that
// reports again is not finished.
bool Finished(const Json& job) { return job.value("EndTime", int64_t{0}) != 0; }

Result<void> NoChange(Json&) { return {}; }

}  // namespace

Response GetJobsForUser(Call& c) {
  auto user = c.Need("TargetUser");
  if (!user) return ErrorReply(user.error());
  return Jobs(c.app.Jobs().ForUser(*user));
}

Response GetJobsRecent(Call& c) { return ScopedJobs(c, c.app.Jobs().Recent()); }
Response GetJobsAll(Call& c) { return ScopedJobs(c, c.app.Jobs().All()); }

Response GetJobsForDateRange(Call& c) {
  auto start = c.Int("Start", 0);
  if (!start) return ErrorReply(start.error());
  auto end = c.Int("End", 0);
  if (!end) return ErrorReply(end.error());
  return ScopedJobs(c, c.app.Jobs().ForDateRange(*start, *end));
}

Response GetJobProperties(Call& c) {
  auto id = c.Need("JobID");
  if (!id) return ErrorReply(id.error());
  auto job = c.app.Jobs().Get(*id);
  if (!job) return ErrorReply(job.error());
  return Response::Json(Dump(*job));
}

Response GetJobLog(Call& c) {
  auto id = c.Need("JobID");
  if (!id) return ErrorReply(id.error());
  if (auto job = c.app.Jobs().Get(*id); !job) return ErrorReply(job.error());
  auto entries = c.app.Jobs().Entries(*id, "", "");
  if (!entries) return ErrorReply(entries.error());
  std::string text;
  for (const JobEntry& e : *entries) {
    text += FormatRfc3339Nano(Time::Utc(e.time)) + " " + e.severity + " " + e.message + "\n";
  }
  return Response::Text(200, std::move(text));
}

Response GetJobLogEntries(Call& c) {
  auto id = c.Need("JobID");
  if (!id) return ErrorReply(id.error());
  if (auto job = c.app.Jobs().Get(*id); !job) return ErrorReply(job.error());
  auto entries = c.app.Jobs().Entries(*id, c.GetOr("MinSeverity"), c.GetOr("MessageContains"));
  if (!entries) return ErrorReply(entries.error());
  Json out = Json::array();
  for (const JobEntry& e : *entries) out.push_back(EntryJson(e));
  return Response::Json(Dump(out));
}

// TargetUser, JobID: the job ends as abandoned (7007) now; 400 if it is not running.
Response AdminJobAbandon(Call& c) {
  auto user = c.Need("TargetUser");
  if (!user) return ErrorReply(user.error());
  auto id = c.Need("JobID");
  if (!id) return ErrorReply(id.error());
  auto job = c.app.Jobs().Abandon(*id, *user, "Marked abandoned by administrator '" + c.user + "'");
  if (!job) return ErrorReply(job.error());
  LogLine(LogLevel::kInfo, "job_abandoned", {{"user", *user}, {"job", *id}, {"admin", c.user}});
  return Ok();
}

Response UserGetJobs(Call& c) { return Jobs(c.app.Jobs().ForUser(c.user)); }

// Job: {Classification, SourceGUID, DestinationGUID, DeviceID, BackupRuleGUID, ClientVersion, ...}
Response UserJobStart(Call& c) {
  auto job = c.JsonParam("Job");
  if (!job) return ErrorReply(job.error());
  if (!job->is_object()) return Response::Message(400, "Job must be a JSON object");
  auto id = c.app.Jobs().Start(c.user, *job);
  if (!id) return ErrorReply(id.error());
  return Response::Json(Dump({{"Status", 200}, {"Message", "OK"}, {"JobID", *id}}));
}

// JobID, Progress: {Counter, BytesDone, ItemsDone, ItemsTotal, SentTime}. An older Counter than
// the last one seen is ignored (reports may arrive out of order).
Response UserJobProgress(Call& c) {
  auto id = c.Need("JobID");
  if (!id) return ErrorReply(id.error());
  auto progress = c.JsonParam("Progress");
  if (!progress) return ErrorReply(progress.error());
  if (!progress->is_object()) return Response::Message(400, "Progress must be a JSON object");
  const int64_t now = c.app.Jobs().Now();
  auto updated = c.app.Jobs().Report(*id, c.user, [&](Json& job) -> Result<void> {
    if (Finished(job)) return Fail(ErrorCode::kInvalidArgument, "the job has ended");
    Json& p = job["Progress"];
    if (!p.is_object()) p = Json::object();
    const int64_t counter = progress->value("Counter", int64_t{0});
    if (counter < p.value("Counter", int64_t{0})) return {};
    for (const char* k : {"Counter", "SentTime", "BytesDone", "ItemsDone", "ItemsTotal"}) {
      if (progress->contains(k) && (*progress)[k].is_number_integer()) p[k] = (*progress)[k];
    }
    p["RecievedTime"] = now;  // sic: the product's field name
    return {};
  });
  if (!updated) return ErrorReply(updated.error());
  return Ok();
}

// JobID, Entries: [{Time, Severity, Message}].
Response UserJobLog(Call& c) {
  auto id = c.Need("JobID");
  if (!id) return ErrorReply(id.error());
  auto entries = c.JsonParam("Entries");
  if (!entries) return ErrorReply(entries.error());
  if (!entries->is_array()) return Response::Message(400, "Entries must be a JSON array");
  std::vector<JobEntry> out;
  for (const Json& e : *entries) {
    if (!e.is_object() || !e.contains("Severity") || !e["Severity"].is_string() ||
        !e.contains("Message") || !e["Message"].is_string()) {
      return Response::Message(400, "each entry needs Severity and Message strings");
    }
    const int64_t time = e.contains("Time") && e["Time"].is_number_integer()
                             ? e["Time"].get<int64_t>()
                             : c.app.Jobs().Now();
    out.push_back({time, e["Severity"].get<std::string>(), e["Message"].get<std::string>()});
  }
  if (auto job = c.app.Jobs().Report(*id, c.user, NoChange); !job) return ErrorReply(job.error());
  if (auto r = c.app.Jobs().AddEntries(*id, out); !r) return ErrorReply(r.error());
  return Ok();
}

// JobID, Status (5000 or 7xxx), Job: {SnapshotID, TotalFiles, TotalSize, ...}.
Response UserJobFinish(Call& c) {
  auto id = c.Need("JobID");
  if (!id) return ErrorReply(id.error());
  auto status = c.Int("Status", 0);
  if (!status) return ErrorReply(status.error());
  if (*status != kJobStatusSuccess && (*status < 7000 || *status > 7007)) {
    return Response::Message(400, "Status must be 5000 or 7000-7007");
  }
  Json fields = Json::object();
  if (c.Get("Job")) {
    auto j = c.JsonParam("Job");
    if (!j || !j->is_object()) return Response::Message(400, "Job must be a JSON object");
    fields = *j;
  }
  const int64_t now = c.app.Jobs().Now();
  auto updated = c.app.Jobs().Report(*id, c.user, [&](Json& job) -> Result<void> {
    if (Finished(job)) return Fail(ErrorCode::kInvalidArgument, "the job has ended already");
    job["Status"] = *status;
    job["EndTime"] = now;
    for (const char* k : kFinalCounts) {
      if (fields.contains(k) && fields[k].is_number_integer()) job[k] = fields[k];
    }
    if (fields.contains("SnapshotID") && fields["SnapshotID"].is_string()) {
      job["SnapshotID"] = fields["SnapshotID"];
    }
    return {};
  });
  if (!updated) return ErrorReply(updated.error());
  c.app.DailyMaintenance();
  LogLine(LogLevel::kInfo, "job_finished",
          {{"user", c.user},
           {"job", *id},
           {"status", *status},
           {"classification", updated->value("Classification", 0)}});
  return Ok();
}

// DeviceID, Plan: {ruleID: {Source, Destination, Times: [unix seconds]}}, the device's next due
// times (at most 64 per rule, within 31 days); replaces the device's previous plan.
Response UserSchedulePlan(Call& c) {
  auto device = c.Need("DeviceID");
  if (!device) return ErrorReply(device.error());
  auto plan = c.JsonParam("Plan");
  if (!plan) return ErrorReply(plan.error());
  if (!plan->is_object()) return Response::Message(400, "Plan must be a JSON object");
  if (plan->size() > kMaxPlanRules) {
    return Response::Message(400, "Plan has more than " + std::to_string(kMaxPlanRules) + " rules");
  }
  std::vector<PlannedRule> rules;
  for (const auto& [rule_id, r] : plan->items()) {
    if (!r.is_object() || !r.contains("Source") || !r["Source"].is_string() ||
        !r.contains("Destination") || !r["Destination"].is_string() || !r.contains("Times") ||
        !r["Times"].is_array()) {
      return Response::Message(
          400, "each rule of the Plan needs Source and Destination strings and a Times array");
    }
    if (r["Times"].size() > kMaxPlanTimesPerRule) {
      return Response::Message(
          400, "a rule has more than " + std::to_string(kMaxPlanTimesPerRule) + " Times");
    }
    PlannedRule rule{
        rule_id, r["Source"].get<std::string>(), r["Destination"].get<std::string>(), {}};
    for (const Json& t : r["Times"]) {
      if (!t.is_number_integer()) {
        return Response::Message(400, "Times must be integers (unix seconds)");
      }
      rule.times.push_back(t.get<int64_t>());
    }
    rules.push_back(std::move(rule));
  }
  // Only a device of this account has a plan (a revoked device's plan is dropped later).
  auto profile = c.app.Users().Get(c.user);
  if (!profile) return ErrorReply(profile.error());
  const Json& devices = profile->profile.value("Devices", Json::object());
  if (!devices.is_object() || !devices.contains(*device)) {
    return Response::Message(404, "No device '" + *device + "' in this account");
  }
  if (auto r = c.app.Jobs().SetSchedulePlan(c.user, *device, rules); !r) {
    return ErrorReply(r.error());
  }
  return Ok();
}

}  // namespace halley::server::api
