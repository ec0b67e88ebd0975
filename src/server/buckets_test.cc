// SPDX-License-Identifier: Apache-2.0
#include "server/buckets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/test_util.h"
#include "crypto/bcrypt.h"
#include "server/config.h"
#include "storage/local_blob_store.h"

namespace halley::server {
namespace {

using testutil::FailsWith;
using testutil::TempDir;

std::unique_ptr<BucketRegistry> OpenRegistry(const TempDir& dir) {
  auto r = BucketRegistry::Open(dir.Sub("halley-buckets.db3"), Clock::System());
  HALLEY_CHECK(r.has_value());
  return std::move(*r);
}

TEST(BucketRegistry, ARandomKeyIsReturnedOnceAndOnlyItsHashKept) {
  TempDir dir;
  auto reg = OpenRegistry(dir);
  auto added = reg->Register("", kPasswordFormatPlaintext, "", "");
  ASSERT_TRUE(added) << added.error().Message();
  EXPECT_EQ(added->id.size(), 32u);
  EXPECT_EQ(added->key.size(), 32u);
  auto props = reg->Get(added->id);
  ASSERT_TRUE(props);
  EXPECT_EQ(props->key_hash.find(added->key), std::string::npos);
  EXPECT_TRUE(reg->CheckKey(added->id, added->key));
  EXPECT_TRUE(reg->CheckKey(added->id, added->key));  // from memory this time
  EXPECT_FALSE(reg->CheckKey(added->id, added->key + "x"));
  EXPECT_FALSE(reg->CheckKey("nosuchbucket", added->key));
}

TEST(BucketRegistry, APreHashedKeyIsStoredAsGiven) {
  TempDir dir;
  auto reg = OpenRegistry(dir);
  const std::string hash = *crypto::BcryptSha512(AsBytes("device generated psk"));
  auto added = reg->Register("vault-1", kPasswordFormatBcryptSha512, hash, "org");
  ASSERT_TRUE(added);
  EXPECT_EQ(added->key, "");
  EXPECT_EQ(reg->Get("vault-1")->key_hash, hash);
  EXPECT_EQ(reg->Get("vault-1")->organization_id, "org");
  EXPECT_TRUE(reg->CheckKey("vault-1", "device generated psk"));
  EXPECT_TRUE(FailsWith(reg->Register("vault-2", kPasswordFormatBcryptSha512, "not a hash", ""),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(reg->Register("vault-2", 7, "x", ""), ErrorCode::kInvalidArgument));
}

TEST(BucketRegistry, RejectsBadAndDuplicateIds) {
  TempDir dir;
  auto reg = OpenRegistry(dir);
  for (const char* bad : {"../etc", "a/b", "with space", "x\xff"}) {
    EXPECT_TRUE(FailsWith(reg->Register(bad, 0, "", ""), ErrorCode::kInvalidArgument)) << bad;
  }
  EXPECT_TRUE(
      FailsWith(reg->Register(std::string(65, 'a'), 0, "", ""), ErrorCode::kInvalidArgument));
  ASSERT_TRUE(reg->Register("b1", 0, "", ""));
  EXPECT_TRUE(FailsWith(reg->Register("b1", 0, "", ""), ErrorCode::kAlreadyExists));
}

TEST(BucketRegistry, AReRegisteredBucketRefusesItsOldKey) {
  TempDir dir;
  auto reg = OpenRegistry(dir);
  auto first = reg->Register("b", 0, "", "");
  ASSERT_TRUE(first);
  ASSERT_TRUE(reg->CheckKey("b", first->key));  // remembered now
  ASSERT_TRUE(reg->Delete("b"));
  EXPECT_FALSE(reg->CheckKey("b", first->key));
  auto second = reg->Register("b", 0, "", "");
  ASSERT_TRUE(second);
  EXPECT_FALSE(reg->CheckKey("b", first->key));
  EXPECT_TRUE(reg->CheckKey("b", second->key));
  EXPECT_TRUE(FailsWith(reg->Delete("nope"), ErrorCode::kNotFound));
}

TEST(BucketRegistry, KeepsAStorageLimitAndMigratesAVersion1Database) {
  TempDir dir;
  {
    // A database as the first version of halleyd wrote it.
    auto db = db::Database::Open(dir.Sub("halley-buckets.db3"));
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Exec(
        "CREATE TABLE buckets (id TEXT PRIMARY KEY, organization_id TEXT NOT NULL DEFAULT '', "
        "create_time INTEGER NOT NULL, key_format INTEGER NOT NULL, key_hash TEXT NOT NULL);"
        "INSERT INTO buckets VALUES ('old', '', 1, 2, 'h');"
        "PRAGMA user_version = 1;"));
  }
  auto reg = OpenRegistry(dir);
  EXPECT_EQ(reg->Get("old")->limit_bytes, 0u);
  ASSERT_TRUE(reg->Register("limited", 0, "", "", 1'000'000));
  EXPECT_EQ(reg->Get("limited")->limit_bytes, 1'000'000u);
}

TEST(BucketRegistry, SurvivesAReopen) {
  TempDir dir;
  std::string key;
  {
    auto reg = OpenRegistry(dir);
    key = reg->Register("persist", 0, "", "")->key;
  }
  auto reg = OpenRegistry(dir);
  ASSERT_EQ(reg->List()->size(), 1u);
  EXPECT_TRUE(reg->CheckKey("persist", key));
}

// Two servers sharing one storage, each with its own registry (and cache) over it.
struct SharedPair {
  explicit SharedPair(const TempDir& dir) {
    for (auto* reg : {&a, &b}) {
      auto store = storage::LocalBlobStore::Open(dir.Sub("registrations"));
      HALLEY_CHECK(store.has_value());
      if (reg == &a) HALLEY_CHECK((*store)->Create().has_value());
      auto r = BucketRegistry::OpenShared(std::move(*store), clock, std::chrono::seconds(10));
      HALLEY_CHECK(r.has_value());
      *reg = std::move(*r);
    }
  }
  FakeClock clock{std::chrono::system_clock::now()};
  std::unique_ptr<BucketRegistry> a, b;
};

TEST(BucketRegistry, SharedRegistrationsAreSeenByEveryServer) {
  TempDir dir;
  SharedPair servers(dir);
  auto added = servers.a->Register("vault-1", 0, "", "org", 5000);
  ASSERT_TRUE(added) << added.error().Message();
  auto seen = servers.b->Get("vault-1");  // at once: misses are never cached
  ASSERT_TRUE(seen) << seen.error().Message();
  EXPECT_EQ(seen->organization_id, "org");
  EXPECT_EQ(seen->limit_bytes, 5000u);
  EXPECT_TRUE(servers.b->CheckKey("vault-1", added->key));
  EXPECT_FALSE(servers.b->CheckKey("vault-1", added->key + "x"));
  // One ID, one winner, whichever server is asked.
  EXPECT_TRUE(FailsWith(servers.b->Register("vault-1", 0, "", ""), ErrorCode::kAlreadyExists));
  ASSERT_TRUE(servers.b->Register("vault-2", 0, "", ""));
  auto listed = servers.a->List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, "vault-1");
  EXPECT_EQ((*listed)[1].id, "vault-2");
}

TEST(BucketRegistry, ASharedDeleteReachesOtherServersWithinTheRefresh) {
  TempDir dir;
  SharedPair servers(dir);
  auto added = servers.a->Register("gone", 0, "", "");
  ASSERT_TRUE(added);
  ASSERT_TRUE(servers.b->CheckKey("gone", added->key));
  ASSERT_TRUE(servers.a->Delete("gone"));
  EXPECT_FALSE(servers.a->CheckKey("gone", added->key));
  EXPECT_TRUE(servers.b->CheckKey("gone", added->key));  // remembered for a while
  servers.clock.Advance(std::chrono::seconds(11));
  EXPECT_FALSE(servers.b->CheckKey("gone", added->key));
  EXPECT_TRUE(FailsWith(servers.b->Delete("gone"), ErrorCode::kNotFound));
}

TEST(BucketRegistry, ADamagedSharedRegistrationIsReported) {
  TempDir dir;
  SharedPair servers(dir);
  ASSERT_TRUE(servers.a->Register("x", 0, "", ""));
  // Replace the record with another bucket's ID inside.
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("registrations/keys"))) {
    std::filesystem::permissions(e.path(), std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
    std::ofstream(e.path(), std::ios::trunc)
        << R"({"ID":"y","CreateTime":1,"KeyFormat":2,"KeyHash":"h"})";
  }
  EXPECT_TRUE(FailsWith(servers.b->Get("x"), ErrorCode::kCorruption));
  EXPECT_FALSE(servers.b->CheckKey("x", "anything"));
}

}  // namespace
}  // namespace halley::server
