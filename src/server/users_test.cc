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

TEST(UserStore, LinkedProfilesCarryTheirPolicy) {
  TempDir dir;
  auto opened = UserStore::Open(dir.Sub("u.db3"));
  ASSERT_TRUE(opened);
  UserStore& store = **opened;
  const Json policy = {{"Description", "locked down"},
                       {"Unknown", {{"kept", true}}},
                       {"Policy", {{"PreventDeleteStorageVault", true}}}};
  ASSERT_TRUE(store.AddPolicy("p1", policy));
  EXPECT_TRUE(FailsWith(store.AddPolicy("p1", policy), ErrorCode::kAlreadyExists));
  auto got = store.GetPolicy("p1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->policy, policy);
  EXPECT_EQ(got->hash, UserStore::HashOf(policy.dump()));
  EXPECT_TRUE(FailsWith(store.GetPolicy("nope"), ErrorCode::kNotFound));

  // Linking copies the policy in, on add, set and update alike; a forged Policy is replaced.
  ASSERT_TRUE(store.Add("alice", {{"PolicyID", "p1"}, {"Policy", {{"forged", true}}}}));
  EXPECT_EQ(store.Get("alice")->profile["Policy"], policy["Policy"]);
  ASSERT_TRUE(store.Add("bob", Json::object()));
  ASSERT_TRUE(store.Set("bob", {{"PolicyID", "p1"}}, std::nullopt));
  EXPECT_EQ(store.Get("bob")->profile["Policy"], policy["Policy"]);
  ASSERT_TRUE(store.Update("bob", [](Json& p) -> Result<void> {
    p["Policy"] = Json::object();
    return {};
  }));
  EXPECT_EQ(store.Get("bob")->profile["Policy"], policy["Policy"]);
  EXPECT_EQ(*store.LinkedToPolicy("p1"), (std::vector<std::string>{"alice", "bob"}));
  // An unknown or foreign policy cannot be linked.
  EXPECT_TRUE(FailsWith(store.Add("carol", {{"PolicyID", "nope"}}), ErrorCode::kNotFound));
  EXPECT_TRUE(
      FailsWith(store.Set("bob", {{"PolicyID", "p1"}, {"OrganizationID", "t1"}}, std::nullopt),
                ErrorCode::kInvalidArgument));
  // Without a PolicyID the admin's own Policy stays.
  ASSERT_TRUE(store.Add("dave", {{"Policy", {{"PreventChangeAccountPassword", true}}}}));
  EXPECT_EQ(store.Get("dave")->profile["Policy"]["PreventChangeAccountPassword"], true);

  // A change reaches every linked profile, in one go, and says whose.
  Json changed = policy;
  changed["Policy"]["PreventRequestStorageVault"] = true;
  EXPECT_TRUE(FailsWith(store.SetPolicy("p1", changed, "stale", false), ErrorCode::kLocked));
  auto updated = store.SetPolicy("p1", changed, got->hash, false);
  ASSERT_TRUE(updated);
  EXPECT_EQ(*updated, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(store.Get("alice")->profile["Policy"], changed["Policy"]);
  EXPECT_EQ(*store.SetPolicy("p1", changed, std::nullopt, false), std::vector<std::string>{});
  EXPECT_TRUE(FailsWith(store.SetPolicy("p2", changed, std::nullopt, false), ErrorCode::kNotFound));
  ASSERT_TRUE(store.SetPolicy("p2", changed, std::nullopt, true));
  // Moving a policy to another organization than its users' is refused.
  Json moved = changed;
  moved["OrganizationID"] = "t1";
  EXPECT_TRUE(FailsWith(store.SetPolicy("p1", moved, std::nullopt, false), ErrorCode::kLocked));
  EXPECT_EQ(store.ListPolicies()->size(), 2u);

  // A policy in use is not deleted.
  auto refused = store.DeletePolicy("p1");
  ASSERT_TRUE(FailsWith(refused, ErrorCode::kLocked));
  EXPECT_NE(refused.error().Message().find("'alice', 'bob'"), std::string::npos);
  ASSERT_TRUE(store.Set("alice", {{"PolicyID", ""}}, std::nullopt));
  ASSERT_TRUE(store.Delete("bob"));
  ASSERT_TRUE(store.DeletePolicy("p1"));
  EXPECT_TRUE(FailsWith(store.DeletePolicy("p1"), ErrorCode::kNotFound));
}

TEST(UserStore, ListsByOrganization) {
  TempDir dir;
  auto opened = UserStore::Open(dir.Sub("u.db3"));
  ASSERT_TRUE(opened);
  UserStore& store = **opened;
  ASSERT_TRUE(store.Add("top", Json::object()));
  ASSERT_TRUE(store.Add("a1", {{"OrganizationID", "A"}}));
  ASSERT_TRUE(store.Add("a2", {{"OrganizationID", "A"}}));
  ASSERT_TRUE(store.Add("b1", {{"OrganizationID", "B"}}));
  EXPECT_EQ(*store.List(), (std::vector<std::string>{"a1", "a2", "b1", "top"}));
  EXPECT_EQ(*store.List("A"), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(*store.List(""), (std::vector<std::string>{"top"}));
  EXPECT_TRUE(store.List("C")->empty());
  auto full = store.ListFull("B");
  ASSERT_TRUE(full);
  ASSERT_EQ(full->size(), 1u);
  EXPECT_EQ((*full)[0].first, "b1");
  // The column follows the profile.
  ASSERT_TRUE(store.Set("b1", {{"OrganizationID", "A"}}, std::nullopt));
  EXPECT_EQ(store.List("A")->size(), 3u);
}

TEST(UserStore, MigratesAVersion1Database) {
  TempDir dir;
  const std::string path = dir.Sub("u.db3");
  {
    auto db = db::Database::Open(path);
    ASSERT_TRUE(db);
    ASSERT_TRUE(
        db->Exec("CREATE TABLE users (username TEXT PRIMARY KEY, profile TEXT NOT NULL, "
                 "profile_hash TEXT NOT NULL); PRAGMA user_version = 1"));
    ASSERT_TRUE(
        db->Execute("INSERT INTO users VALUES (?, ?, ?)",
                    {std::string("old"), std::string(R"({"OrganizationID":"A","PolicyID":""})"),
                     std::string("h")}));
  }
  auto opened = UserStore::Open(path);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*(*opened)->List("A"), std::vector<std::string>{"old"});
  ASSERT_TRUE((*opened)->AddPolicy("p", {{"OrganizationID", "A"}, {"Policy", {{"x", 1}}}}));
  ASSERT_TRUE((*opened)->Set("old", {{"OrganizationID", "A"}, {"PolicyID", "p"}}, "h"));
  EXPECT_EQ((*opened)->Get("old")->profile["Policy"]["x"], 1);
}

}  // namespace
}  // namespace halley::server
