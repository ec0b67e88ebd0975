// SPDX-License-Identifier: Apache-2.0
#include "server/jobs.h"

#include <gtest/gtest.h>

#include <set>

#include "base/test_util.h"
#include "db/db.h"

namespace halley::server {
namespace {

using testutil::FailsWith;
using testutil::Succeeds;
using testutil::TempDir;

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = JobStore::Open(dir_.Sub("j.db3"), clock_);
    ASSERT_TRUE(s);
    store_ = std::move(*s);
  }
  int64_t Now() const { return store_->Now(); }
  Result<void> Finish(const std::string& id, int status) {
    auto r = store_->Update(id, "", [&](Json& j) -> Result<void> {
      j["Status"] = status;
      j["EndTime"] = Now();
      return {};
    });
    if (!r) return Fail(r.error());
    return {};
  }
  Json Job(const std::string& id) { return *store_->Get(id); }
  int Status(const std::string& id) { return Job(id)["Status"].get<int>(); }
  Result<Json> Progress(const std::string& id) {
    return store_->Report(id, "alice", [](Json& j) -> Result<void> {
      Json& p = j["Progress"];
      p["Counter"] = p.is_object() ? p.value("Counter", 0) + 1 : 1;
      return {};
    });
  }
  // alice's backup job of item `src` to vault `dst`, started now.
  std::string Backup(const std::string& src = "item", const std::string& dst = "vault") {
    return *store_->Start(
        "alice", {{"Classification", 4001}, {"SourceGUID", src}, {"DestinationGUID", dst}});
  }
  std::vector<Json> Missed(const std::string& user = "alice") {
    std::vector<Json> out;
    auto jobs = store_->ForUser(user);
    for (Json& j : *jobs) {
      if (j["Status"] == kJobStatusMissed) out.push_back(std::move(j));
    }
    return out;
  }
  void Advance(int64_t seconds) { clock_.Advance(std::chrono::seconds(seconds)); }

  TempDir dir_;
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  std::unique_ptr<JobStore> store_;
};

TEST_F(JobStoreTest, StartKeepsOnlyReportedFieldsAndScopesJobsToTheirUser) {
  auto id = store_->Start("alice", {{"Classification", 4001},
                                    {"DeviceID", "d1"},
                                    {"Status", 5000},         // not the device's to set at start
                                    {"Username", "mallory"},  // nor this
                                    {"Bogus", 1}});
  ASSERT_TRUE(id);
  EXPECT_EQ(id->size(), 36u);
  auto job = store_->Get(*id, "alice");
  ASSERT_TRUE(job);
  EXPECT_EQ((*job)["Status"], kJobStatusRunning);
  EXPECT_EQ((*job)["Username"], "alice");
  EXPECT_EQ((*job)["Classification"], 4001);
  EXPECT_FALSE(job->contains("Bogus"));
  EXPECT_TRUE(FailsWith(store_->Get(*id, "bob"), ErrorCode::kNotFound));
  EXPECT_EQ(store_->ForUser("alice")->size(), 1u);
  EXPECT_TRUE(store_->ForUser("bob")->empty());
}

TEST_F(JobStoreTest, RecentRangeAndPrune) {
  auto old_job = store_->Start("alice", Json::object());
  ASSERT_TRUE(Finish(*old_job, kJobStatusSuccess));
  const int64_t old_end = Now();
  clock_.Advance(std::chrono::hours(24 * 100));
  auto running = store_->Start("alice", Json::object());
  auto done = store_->Start("bob", Json::object());
  ASSERT_TRUE(Finish(*done, kJobStatusWarning));

  auto recent = store_->Recent();
  ASSERT_TRUE(recent);
  EXPECT_EQ(recent->size(), 2u);  // the running one and today's
  auto open = store_->ForDateRange(0, 0);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0]["GUID"], *running);
  EXPECT_EQ(store_->ForDateRange(old_end + 10, old_end - 10)->size(), 1u);  // swapped bounds
  EXPECT_EQ(store_->All()->size(), 3u);

  ASSERT_TRUE(store_->AddEntries(*old_job, {{1, "I", "x"}}));
  EXPECT_EQ(*store_->PruneOlderThan(90), 1);
  EXPECT_EQ(store_->All()->size(), 2u);
  EXPECT_TRUE(store_->Entries(*old_job, "", "")->empty());  // entries went with the job
}

TEST_F(JobStoreTest, EntriesFilterBySeverityAndText) {
  auto id = store_->Start("alice", Json::object());
  ASSERT_TRUE(store_->AddEntries(*id, {{1, "D", "debug detail"},
                                       {2, "I", "Starting"},
                                       {3, "W", "cannot read /etc/shadow"},
                                       {4, "E", "upload failed"}}));
  EXPECT_EQ(store_->Entries(*id, "", "")->size(), 4u);
  auto warn = store_->Entries(*id, "W", "");
  ASSERT_EQ(warn->size(), 2u);
  EXPECT_EQ((*warn)[0].message, "cannot read /etc/shadow");
  EXPECT_EQ(store_->Entries(*id, "", "upload")->size(), 1u);
  EXPECT_TRUE(FailsWith(store_->Entries(*id, "Z", ""), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(store_->AddEntries(*id, {{5, "Q", "bad"}}), ErrorCode::kInvalidArgument));
  EXPECT_EQ(store_->Entries(*id, "", "")->size(), 4u);  // the bad batch left nothing
  ASSERT_TRUE(store_->DeleteForUser("alice"));
  EXPECT_TRUE(store_->All()->empty());
}

TEST_F(JobStoreTest, SilentJobsAreAbandonedAfterTheTimeoutNotBefore) {
  auto quiet = store_->Start("alice", Json::object());
  auto chatty = store_->Start("alice", Json::object());
  auto done = store_->Start("alice", Json::object());
  ASSERT_TRUE(Finish(*done, kJobStatusSuccess));
  Advance(400);
  ASSERT_TRUE(Progress(*chatty));
  Advance(199);
  EXPECT_TRUE(store_->AbandonSilent(600)->empty());  // 599 s of silence
  Advance(1);
  auto abandoned = store_->AbandonSilent(600);
  ASSERT_TRUE(abandoned);
  ASSERT_EQ(*abandoned, std::vector<std::string>{*quiet});
  Json job = Job(*quiet);
  EXPECT_EQ(job["Status"], kJobStatusAbandoned);
  EXPECT_EQ(job["EndTime"], Now());
  auto log = store_->Entries(*quiet, "E", "stopped reporting");
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].time, Now());
  EXPECT_EQ(Status(*chatty), kJobStatusRunning);
  EXPECT_EQ(Status(*done), kJobStatusSuccess);
  EXPECT_TRUE(store_->AbandonSilent(600)->empty());  // once
  // A log report counts as a sign of life as well.
  ASSERT_TRUE(store_->Report(*chatty, "alice", [](Json&) -> Result<void> { return {}; }));
  Advance(599);
  EXPECT_TRUE(store_->AbandonSilent(600)->empty());
  Advance(1);
  EXPECT_EQ(store_->AbandonSilent(600)->size(), 1u);
}

TEST_F(JobStoreTest, AnAbandonedJobThatReportsAgainIsRevived) {
  auto id = store_->Start("alice", Json::object());
  Advance(700);
  ASSERT_EQ(store_->AbandonSilent(600)->size(), 1u);
  ASSERT_TRUE(Progress(*id));
  auto revived = store_->Get(*id);
  EXPECT_EQ((*revived)["Status"], kJobStatusRevived);
  EXPECT_EQ((*revived)["EndTime"], 0);
  EXPECT_EQ(store_->Entries(*id, "I", "revived")->size(), 1u);
  // Revived jobs are running: silent again, they are abandoned again; and can finish.
  Advance(600);
  ASSERT_EQ(store_->AbandonSilent(600)->size(), 1u);
  auto finished = store_->Report(*id, "alice", [&](Json& j) -> Result<void> {
    EXPECT_EQ(j["Status"], kJobStatusRevived);
    j["Status"] = kJobStatusSuccess;
    j["EndTime"] = Now();
    return {};
  });
  ASSERT_TRUE(finished);
  EXPECT_EQ(Status(*id), kJobStatusSuccess);
  // Another user's report is refused and changes nothing.
  EXPECT_TRUE(FailsWith(store_->Report(*id, "bob", [](Json&) -> Result<void> { return {}; }),
                        ErrorCode::kNotFound));
}

TEST_F(JobStoreTest, AdminAbandonsOnlyRunningJobs) {
  auto id = store_->Start("alice", Json::object());
  EXPECT_TRUE(FailsWith(store_->Abandon(*id, "bob", "x"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(store_->Abandon("nope", "alice", "x"), ErrorCode::kNotFound));
  auto job = store_->Abandon(*id, "alice", "Marked abandoned by administrator 'admin'");
  ASSERT_TRUE(job);
  EXPECT_EQ((*job)["Status"], kJobStatusAbandoned);
  EXPECT_EQ(Status(*id), kJobStatusAbandoned);
  EXPECT_EQ(Job(*id)["EndTime"], Now());
  EXPECT_EQ(store_->Entries(*id, "E", "administrator")->size(), 1u);
  EXPECT_TRUE(FailsWith(store_->Abandon(*id, "alice", "x"), ErrorCode::kInvalidArgument));
  auto done = store_->Start("alice", Json::object());
  ASSERT_TRUE(Finish(*done, kJobStatusSuccess));
  EXPECT_TRUE(FailsWith(store_->Abandon(*done, "alice", "x"), ErrorCode::kInvalidArgument));
}

TEST_F(JobStoreTest, APlannedTimeWithoutAJobBecomesOneMissedJob) {
  const int64_t t = Now() + 3600;
  ASSERT_TRUE(store_->SetSchedulePlan(
      "alice", "dev", {{"rule-1", "item", "vault", {t}}, {"rule-2", "item", "vault", {t}}}));
  EXPECT_EQ(*store_->PlannedTimes("alice"), (std::vector<int64_t>{t, t}));
  MissedPolicy policy;  // grace 600
  Advance(3600 + 600);  // T + grace = now: not yet
  EXPECT_TRUE(store_->JudgeMissed(policy)->empty());
  Advance(1);
  auto missed = store_->JudgeMissed(policy);
  ASSERT_TRUE(missed);
  ASSERT_EQ(missed->size(), 1u);  // two rules of the same item and vault at one time: one job
  EXPECT_TRUE(store_->PlannedTimes("alice")->empty());
  EXPECT_TRUE(store_->JudgeMissed(policy)->empty());  // idempotent
  auto jobs = Missed();
  ASSERT_EQ(jobs.size(), 1u);
  const Json& j = jobs[0];
  EXPECT_EQ(j["GUID"], (*missed)[0]);
  EXPECT_EQ(j["Classification"], kJobClassificationBackup);
  EXPECT_EQ(j["StartTime"], t);
  EXPECT_EQ(j["EndTime"], t);
  EXPECT_EQ(j["SourceGUID"], "item");
  EXPECT_EQ(j["DestinationGUID"], "vault");
  EXPECT_EQ(j["DeviceID"], "dev");
  EXPECT_EQ(j["Username"], "alice");
  EXPECT_EQ(
      store_
          ->Entries(j["GUID"].get<std::string>(), "E", "Missed: the scheduled backup did not start")
          ->size(),
      1u);
  // A missed job is not running: nothing abandons it.
  Advance(86400);
  EXPECT_TRUE(store_->AbandonSilent(600)->empty());
}

TEST_F(JobStoreTest, AJobStartedWithinTheGraceIsOnTimeWhateverBecameOfIt) {
  const int64_t t = Now() + 1000;
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev",
                                      {{"late", "item", "vault", {t}},
                                       {"early", "item2", "vault", {t}},
                                       {"other-vault", "item", "vault2", {t}},
                                       {"too-late", "item3", "vault", {t}}}));
  MissedPolicy policy;
  policy.grace_seconds = 300;
  Advance(1000 - 300);
  auto early = Backup("item2");  // T - grace: in time
  ASSERT_TRUE(Finish(early, kJobStatusError));
  Advance(300 + 299);
  auto late = Backup("item");  // T + 299
  // Another classification does not count.
  ASSERT_TRUE(store_->Start(
      "alice", {{"Classification", 4002}, {"SourceGUID", "item3"}, {"DestinationGUID", "vault"}}));
  Advance(302);  // judged once T + grace < now
  auto missed = store_->JudgeMissed(policy);
  ASSERT_TRUE(missed);
  std::set<std::string> rules;
  for (const Json& j : Missed()) rules.insert(j["BackupRuleGUID"].get<std::string>());
  EXPECT_EQ(rules, (std::set<std::string>{"other-vault", "too-late"}));
  // Another user's job does not count for alice, and a job that started after the grace
  // does not either.
  const int64_t t2 = Now() + 100;
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", {t2}}}));
  Advance(100);
  ASSERT_TRUE(store_->Start(
      "bob", {{"Classification", 4001}, {"SourceGUID", "item"}, {"DestinationGUID", "vault"}}));
  Advance(301);
  Backup("item");
  EXPECT_EQ(store_->JudgeMissed(policy)->size(), 1u);
  (void)late;
}

TEST_F(JobStoreTest, MissedJobsFollowThePolicy) {
  const int64_t t1 = Now() + 100, t2 = Now() + 200;
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", {t1, t2}}}));
  Advance(1000);
  MissedPolicy off;
  off.generate = false;
  EXPECT_TRUE(store_->JudgeMissed(off)->empty());
  EXPECT_TRUE(store_->PlannedTimes("alice")->empty());  // judged and forgotten all the same
  EXPECT_TRUE(Missed().empty());

  const int64_t t3 = Now() + 100, t4 = Now() + 200;
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", {t3, t4}}}));
  Advance(1000);
  MissedPolicy not_before;
  not_before.not_before = t4;
  EXPECT_EQ(store_->JudgeMissed(not_before)->size(), 1u);
  ASSERT_EQ(Missed().size(), 1u);
  EXPECT_EQ(Missed()[0]["StartTime"], t4);

  // Times whose window began before the server started are dropped unjudged.
  const int64_t t5 = Now() + 100;
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", {t5}}}));
  Advance(1000);
  MissedPolicy restarted;
  restarted.grace_seconds = 50;
  restarted.judge_from = t5 - 49;
  EXPECT_TRUE(store_->JudgeMissed(restarted)->empty());
  EXPECT_TRUE(store_->PlannedTimes("alice")->empty());

  // The plan of a device the account no longer has is dropped whole, unjudged.
  const int64_t t6 = Now() + 100;
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "gone", {{"r", "item", "vault", {t6, t6 + 5000}}}));
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "kept", {{"r", "item", "vault", {t6}}}));
  Advance(1000);
  MissedPolicy revoked;
  revoked.device_exists = [](const std::string& user, const std::string& device) {
    EXPECT_EQ(user, "alice");
    return device == "kept";
  };
  EXPECT_EQ(store_->JudgeMissed(revoked)->size(), 1u);
  EXPECT_TRUE(store_->PlannedTimes("alice")->empty());
  EXPECT_EQ(Missed().size(), 2u);
}

TEST_F(JobStoreTest, ANewPlanReplacesTheDevicesFutureTimes) {
  const int64_t now = Now();
  ASSERT_TRUE(store_->SetSchedulePlan(
      "alice", "dev",
      {{"r", "item", "vault", {now + 100}}, {"gone", "item", "vault", {now + 150}}}));
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "laptop", {{"r", "item2", "vault", {now + 120}}}));
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", {now + 200}}}));
  EXPECT_EQ(*store_->PlannedTimes("alice"), (std::vector<int64_t>{now + 120, now + 200}));
  Advance(1000);
  MissedPolicy policy;
  policy.grace_seconds = 0;
  EXPECT_EQ(store_->JudgeMissed(policy)->size(), 2u);
  std::set<int64_t> times;
  for (const Json& j : Missed()) times.insert(j["StartTime"].get<int64_t>());
  EXPECT_EQ(times, (std::set<int64_t>{now + 120, now + 200}));

  // Times already due when a new plan comes are still judged; the new plan does not repeat
  // them.
  const int64_t t = Now() + 10;
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", {t}}}));
  Advance(20);
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {}));
  EXPECT_EQ(*store_->PlannedTimes("alice"), std::vector<int64_t>{t});
  EXPECT_EQ(store_->JudgeMissed(policy)->size(), 1u);

  // Deleting the user deletes the plans.
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", {Now() + 10}}}));
  ASSERT_TRUE(store_->DeleteForUser("alice"));
  EXPECT_TRUE(store_->PlannedTimes("alice")->empty());
}

TEST_F(JobStoreTest, PlansAreBounded) {
  const int64_t now = Now();
  auto fails = [&](std::vector<PlannedRule> rules, const std::string& device = "dev") {
    return FailsWith(store_->SetSchedulePlan("alice", device, rules), ErrorCode::kInvalidArgument);
  };
  ASSERT_TRUE(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", {now + 100}}}));
  EXPECT_TRUE(fails({{"r", "item", "vault", {now + 32 * 86400 + 1}}}));
  EXPECT_TRUE(fails({{"r", "item", "vault", {now - 86400 - 1}}}));
  EXPECT_TRUE(fails({{"", "item", "vault", {now}}}));
  EXPECT_TRUE(fails({{"r", "", "vault", {now}}}));
  EXPECT_TRUE(fails({{"r", "item", std::string(257, 'v'), {now}}}));
  EXPECT_TRUE(fails({{"r", "item", "vault", {now}}}, ""));
  std::vector<int64_t> many(kMaxPlanTimesPerRule + 1, now + 10);
  EXPECT_TRUE(fails({{"r", "item", "vault", many}}));
  std::vector<PlannedRule> rules(kMaxPlanRules + 1, PlannedRule{"r", "item", "vault", {}});
  EXPECT_TRUE(fails(rules));
  // A refused plan leaves the previous one.
  EXPECT_EQ(*store_->PlannedTimes("alice"), std::vector<int64_t>{now + 100});
  many.pop_back();
  for (size_t i = 0; i < many.size(); ++i) many[i] = now + 31 * 86400 - int64_t(i);
  EXPECT_TRUE(Succeeds(store_->SetSchedulePlan("alice", "dev", {{"r", "item", "vault", many}})));
  EXPECT_EQ(store_->PlannedTimes("alice")->size(), kMaxPlanTimesPerRule);
}

// A database of schema version 1 (before last report times and plans) is migrated: running
// jobs take their latest report as their last report time.
TEST_F(JobStoreTest, MigratesVersionOneDatabases) {
  const std::string path = dir_.Sub("v1.db3");
  {
    auto db = db::Database::Open(path);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Exec(R"sql(
      CREATE TABLE jobs (guid TEXT PRIMARY KEY, username TEXT NOT NULL, status INTEGER NOT NULL,
        start_time INTEGER NOT NULL, end_time INTEGER NOT NULL, detail TEXT NOT NULL);
      CREATE INDEX jobs_by_user ON jobs (username);
      CREATE INDEX jobs_by_start ON jobs (start_time);
      CREATE INDEX jobs_by_end ON jobs (end_time);
      CREATE TABLE job_entries (
        job_guid TEXT NOT NULL REFERENCES jobs (guid) ON DELETE CASCADE,
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, severity TEXT NOT NULL,
        message TEXT NOT NULL);
      CREATE INDEX job_entries_by_job ON job_entries (job_guid, seq);
      PRAGMA user_version = 1;)sql"));
    const int64_t now = Now();
    for (auto [guid, received] : {std::pair<std::string, int64_t>{"reported", now - 100},
                                  std::pair<std::string, int64_t>{"silent", 0}}) {
      Json detail = {{"GUID", guid},
                     {"Username", "alice"},
                     {"Status", 6001},
                     {"StartTime", now - 500},
                     {"EndTime", 0}};
      if (received) detail["Progress"] = {{"RecievedTime", received}};
      ASSERT_TRUE(db->Execute("INSERT INTO jobs VALUES (?, 'alice', 6001, ?, 0, ?)",
                              {guid, now - 500, detail.dump()}));
    }
  }
  auto store = JobStore::Open(path, clock_);
  ASSERT_TRUE(store);
  EXPECT_EQ(*(*store)->AbandonSilent(450), std::vector<std::string>{"silent"});
  Advance(350);
  EXPECT_EQ(*(*store)->AbandonSilent(450), std::vector<std::string>{"reported"});
  EXPECT_TRUE(Succeeds((*store)->SetSchedulePlan("alice", "d", {{"r", "i", "v", {Now() + 1}}})));
}

}  // namespace
}  // namespace halley::server
