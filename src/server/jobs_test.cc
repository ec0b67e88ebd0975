// SPDX-License-Identifier: Apache-2.0
#include "server/jobs.h"

#include <gtest/gtest.h>

#include "base/test_util.h"

namespace halley::server {
namespace {

using testutil::FailsWith;
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

}  // namespace
}  // namespace halley::server
