// SPDX-License-Identifier: Apache-2.0
#include "server/users.h"

#include <gtest/gtest.h>

#include "base/test_util.h"

namespace halley::server {
namespace {

using testutil::FailsWith;
using testutil::TempDir;

TEST(UserStore, ValidatesUsernames) {
  for (const char* ok : {"alice", "alice@example.com", "Jean-Luc Picard", "\xc3\xa9lodie"}) {
    EXPECT_TRUE(UserStore::ValidateUsername(ok)) << ok;
  }
  for (const char* bad : {"", " lead", "trail ", "a/b", "a\\b", "tab\there", "\xff\xfe"}) {
    EXPECT_TRUE(FailsWith(UserStore::ValidateUsername(bad), ErrorCode::kInvalidArgument)) << bad;
  }
  EXPECT_FALSE(UserStore::ValidateUsername(std::string(129, 'a')));
}

TEST(UserStore, ProfilesRoundTripWithHashesAndOptimisticConcurrency) {
  TempDir dir;
  auto store = UserStore::Open(dir.Sub("u.db3"));
  ASSERT_TRUE(store);
  Json profile = {{"Username", "alice"}, {"Unknown", {{"nested", true}}}};
  ASSERT_TRUE((*store)->Add("alice", profile));
  EXPECT_TRUE(FailsWith((*store)->Add("alice", profile), ErrorCode::kAlreadyExists));
  auto got = (*store)->Get("alice");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->profile, profile);
  EXPECT_EQ(got->hash, UserStore::HashOf(profile.dump()));

  Json changed = profile;
  changed["AccountName"] = "Alice";
  auto new_hash = (*store)->Set("alice", changed, got->hash);
  ASSERT_TRUE(new_hash);
  EXPECT_NE(*new_hash, got->hash);
  // A second writer holding the old hash loses.
  EXPECT_TRUE(FailsWith((*store)->Set("alice", profile, got->hash), ErrorCode::kLocked));
  EXPECT_EQ((*store)->Get("alice")->profile["AccountName"], "Alice");
  EXPECT_TRUE((*store)->Set("alice", profile, std::nullopt));  // unconditional
  EXPECT_TRUE(FailsWith((*store)->Set("bob", profile, std::nullopt), ErrorCode::kNotFound));
}

TEST(UserStore, UpdateIsAllOrNothing) {
  TempDir dir;
  auto store = UserStore::Open(dir.Sub("u.db3"));
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Add("alice", {{"Devices", Json::object()}}));
  auto failed = (*store)->Update("alice", [](Json& p) -> Result<void> {
    p["Devices"]["d1"] = 1;
    return Fail(ErrorCode::kPermissionDenied, "quota");
  });
  EXPECT_TRUE(FailsWith(failed, ErrorCode::kPermissionDenied));
  EXPECT_TRUE((*store)->Get("alice")->profile["Devices"].empty());
  ASSERT_TRUE((*store)->Update("alice", [](Json& p) -> Result<void> {
    p["Devices"]["d1"] = 1;
    return {};
  }));
  EXPECT_EQ((*store)->Get("alice")->profile["Devices"]["d1"], 1);
  ASSERT_TRUE((*store)->Add("bob", Json::object()));
  EXPECT_EQ(*(*store)->List(), (std::vector<std::string>{"alice", "bob"}));
  ASSERT_TRUE((*store)->Delete("alice"));
  EXPECT_TRUE(FailsWith((*store)->Delete("alice"), ErrorCode::kNotFound));
  EXPECT_EQ((*store)->ListFull()->size(), 1u);
}

}  // namespace
}  // namespace halley::server
