// SPDX-License-Identifier: Apache-2.0
#include "server/sessions.h"

#include <gtest/gtest.h>

#include "base/test_util.h"
#include "fs/fs.h"

namespace halley::server {
namespace {

using testutil::FailsWith;

TEST(SessionStore, AKeyWorksUntilItHasBeenIdleTooLong) {
  testutil::TempDir dir;
  FakeClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000)));
  auto store = SessionStore::Open(dir.Sub("s.db3"), clock);
  ASSERT_TRUE(store);
  auto key = (*store)->Start("admin", "admin");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->size(), 64u);
  auto s = (*store)->Check(*key, 1800);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->username, "admin");
  EXPECT_EQ(s->type, "admin");
  clock.Advance(std::chrono::seconds(1700));
  ASSERT_TRUE((*store)->Check(*key, 1800));  // use refreshes the idle timer
  clock.Advance(std::chrono::seconds(1700));
  ASSERT_TRUE((*store)->Check(*key, 1800));
  clock.Advance(std::chrono::seconds(1801));
  EXPECT_TRUE(FailsWith((*store)->Check(*key, 1800), ErrorCode::kUnauthenticated));
  EXPECT_TRUE(FailsWith((*store)->Check("0123", 1800), ErrorCode::kUnauthenticated));
}

TEST(SessionStore, StoresOnlyADigestOfTheKeyAndEndAllRevokes) {
  testutil::TempDir dir;
  auto store = SessionStore::Open(dir.Sub("s.db3"), Clock::System());
  ASSERT_TRUE(store);
  auto key = (*store)->Start("alice", "user");
  ASSERT_TRUE(key);
  for (const char* file : {"s.db3", "s.db3-wal"}) {
    auto bytes = fs::ReadFileLimited(dir.Sub(file), 64 << 20);
    if (bytes) {
      EXPECT_EQ(bytes->find(*key), std::string::npos) << file;
    }
  }
  ASSERT_TRUE((*store)->EndAll("alice", "user"));
  EXPECT_TRUE(FailsWith((*store)->Check(*key, 1800), ErrorCode::kUnauthenticated));
}

}  // namespace
}  // namespace halley::server
