// SPDX-License-Identifier: Apache-2.0
#include "repo/lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/host.h"
#include "base/test_util.h"
#include "storage/local_blob_store.h"
#include "storage/mem_blob_store.h"

namespace halley::repo {
namespace {

constexpr LockOptions kQuick{std::chrono::milliseconds(1), std::chrono::minutes(5)};

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions init;
    init.kdf = {1024, 8, 1};
    auto r = Repository::Init(store_, "pw", init);
    ASSERT_TRUE(r) << r.error().Message();
    repo_ = std::move(*r);
  }
  size_t LockCount() {
    size_t n = 0;
    EXPECT_TRUE(store_.List(storage::ObjectType::kLock, [&](const storage::ObjectInfo&) {
      ++n;
      return Result<void>{};
    }));
    return n;
  }

  storage::MemBlobStore store_;
  std::unique_ptr<Repository> repo_;
};

TEST(LockCodecTest, ResticFormat) {
  LockInfo l;
  l.time = *ParseRfc3339("2015-06-27T12:18:51.759239612+02:00");
  l.hostname = "kasimir";
  l.username = "fd0";
  l.pid = 13607;
  l.uid = 1000;
  l.gid = 100;
  std::string json = EncodeLock(l);
  EXPECT_EQ(
      json,
      R"({"time":"2015-06-27T12:18:51.759239612+02:00","exclusive":false,"hostname":"kasimir","username":"fd0","pid":13607,"uid":1000,"gid":100})");
  auto d = DecodeLock(json);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->pid, 13607);
  EXPECT_EQ(d->time, l.time);
  EXPECT_FALSE(DecodeLock(R"({"exclusive":false})"));
}

TEST(LockCodecTest, Staleness) {
  Time now = Time::Utc(1'000'000);
  LockInfo l;
  l.hostname = "elsewhere";
  l.pid = 1;
  l.time = Time::Utc(1'000'000 - 29 * 60);
  EXPECT_FALSE(IsStale(l, now, "here"));
  l.time = Time::Utc(1'000'000 - 31 * 60);
  EXPECT_TRUE(IsStale(l, now, "here"));
  l.time = now;
  l.hostname = "here";
  l.pid = getpid();
  EXPECT_FALSE(IsStale(l, now, "here"));
  l.pid = 0x7ffffff0;  // no such process
  EXPECT_TRUE(IsStale(l, now, "here"));
}

TEST_F(LockTest, NonExclusiveLocksCoexistExclusiveConflicts) {
  auto a = VaultLock::Acquire(*repo_, false, Clock::System(), kQuick);
  ASSERT_TRUE(a);
  auto b = VaultLock::Acquire(*repo_, false, Clock::System(), kQuick);
  ASSERT_TRUE(b);
  EXPECT_EQ(LockCount(), 2u);
  auto x = VaultLock::Acquire(*repo_, true, Clock::System(), kQuick);
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().Code(), ErrorCode::kLocked);
  EXPECT_NE(x.error().Message().find("repository is already locked by PID"), std::string::npos);
  EXPECT_NE(x.error().Message().find("the `unlock` command can be used"), std::string::npos);
  EXPECT_EQ(LockCount(), 2u) << "a failed attempt leaves no lock behind";
  a->reset();
  b->reset();
  EXPECT_EQ(LockCount(), 0u);
  auto e = VaultLock::Acquire(*repo_, true, Clock::System(), kQuick);
  ASSERT_TRUE(e);
  auto n = VaultLock::Acquire(*repo_, false, Clock::System(), kQuick);
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().Message().find("locked exclusively"), std::string::npos);
}

// backup-tool takes locks on local and SFTP vaults without restic's settle wait (cli.cc): where
// a listing shows every completed write, of two lockers the later writer sees the earlier lock.
// Two clients (each its own store and Repository on one directory) race for an exclusive lock,
// started together, round after round: never do both get it.
TEST(LockRaceTest, WithoutASettleTwoExclusiveLockersNeverBothWin) {
  testutil::TempDir dir;
  InitOptions init;
  init.kdf = {1024, 8, 1};
  std::unique_ptr<Repository> repos[2];
  storage::BlobStorePtr stores[2];
  for (int i = 0; i < 2; ++i) {
    auto store = storage::LocalBlobStore::Open(dir.Sub("vault"));
    ASSERT_TRUE(store);
    stores[i] = std::move(*store);
    auto r = i == 0 ? Repository::Init(*stores[i], "pw", init) : Repository::Open(*stores[i], "pw");
    ASSERT_TRUE(r) << r.error().Message();
    repos[i] = std::move(*r);
  }
  constexpr LockOptions kNoSettle{std::chrono::milliseconds(0), std::chrono::minutes(5)};
  int single = 0, none = 0;
  for (int round = 0; round < 300; ++round) {
    std::atomic<int> ready{0};
    Result<std::unique_ptr<VaultLock>> got[2] = {Fail(ErrorCode::kLocked, ""),
                                                 Fail(ErrorCode::kLocked, "")};
    auto client = [&](int i) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      got[i] = VaultLock::Acquire(*repos[i], true, Clock::System(), kNoSettle);
    };
    std::thread a(client, 0), b(client, 1);
    a.join();
    b.join();
    ASSERT_FALSE(got[0] && got[1]) << "both clients hold an exclusive lock in round " << round;
    for (auto& g : got) {
      if (!g) {
        EXPECT_EQ(g.error().Code(), ErrorCode::kLocked) << g.error().Message();
      }
    }
    (got[0] || got[1] ? single : none) += 1;
  }
  // Both losing a round is allowed (each saw the other), one winning is the common case.
  EXPECT_GT(single, 0);
  std::printf("300 rounds: one winner %d, both refused %d\n", single, none);
}

TEST_F(LockTest, StaleLocksBlockUntilUnlocked) {
  LockInfo dead;
  dead.time = Clock::System().NowTime();
  dead.exclusive = true;
  dead.hostname = Hostname();
  dead.pid = 0x7ffffff0;
  ASSERT_TRUE(repo_->SaveUnpacked(storage::ObjectType::kLock, EncodeLock(dead)));
  LockInfo live = dead;
  live.pid = getpid();
  live.exclusive = false;
  ASSERT_TRUE(repo_->SaveUnpacked(storage::ObjectType::kLock, EncodeLock(live)));
  EXPECT_FALSE(VaultLock::Acquire(*repo_, false, Clock::System(), kQuick));
  auto removed = RemoveLocks(*repo_, false);
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u) << "only the dead process's lock is stale";
  EXPECT_TRUE(VaultLock::Acquire(*repo_, false, Clock::System(), kQuick));
  removed = RemoveLocks(*repo_, true);
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(LockCount(), 0u);
}

TEST_F(LockTest, RefreshReplacesTheLockFile) {
  FakeClock clock(std::chrono::system_clock::now());
  auto lock =
      VaultLock::Acquire(*repo_, false, clock,
                         LockOptions{std::chrono::milliseconds(1), std::chrono::milliseconds(20)});
  ASSERT_TRUE(lock);
  Id first = (*lock)->CurrentId();
  clock.Advance(std::chrono::minutes(1));
  for (int i = 0; i < 200 && (*lock)->CurrentId() == first; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE((*lock)->CurrentId(), first);
  EXPECT_EQ(LockCount(), 1u);
  EXPECT_TRUE((*lock)->CheckValid());
}

TEST_F(LockTest, LockThatCannotRefreshBecomesInvalid) {
  FakeClock clock(std::chrono::system_clock::now());
  auto lock = VaultLock::Acquire(*repo_, false, clock, kQuick);  // refresh every 5 min
  ASSERT_TRUE(lock);
  EXPECT_TRUE((*lock)->CheckValid());
  clock.Advance(std::chrono::minutes(23));  // the refresher thread never got to run
  EXPECT_EQ((*lock)->CheckValid().error().Code(), ErrorCode::kLocked);
}

}  // namespace
}  // namespace halley::repo
