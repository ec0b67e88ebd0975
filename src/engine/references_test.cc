// SPDX-License-Identifier: Apache-2.0
#include "engine/references.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "crypto/hash.h"
#include "engine/maintenance.h"
#include "engine/packindexes.h"
#include "engine/vault_test_fixture.h"

namespace halley::engine {
namespace {

using storage::ObjectType;
using testing::RandomData;

class ReferencesTest : public testing::VaultTest {
 protected:
  // Three snapshots: `a` alone, then + `b`, then + `c`; each file in its own pack.
  void SetUp() override {
    VaultTest::SetUp();
    Write("a", RandomData(100 << 10, 1));
    s1_ = Snap();
    Write("b", RandomData(100 << 10, 2));
    s2_ = Snap();
    Write("c", RandomData(100 << 10, 3));
    s3_ = Snap();
  }
  ReferenceReport Run(bool write = true) {
    ReferenceCheckOptions o;
    o.write_missing_packindex = write;
    auto r = CheckReferences(*repo_, o);
    EXPECT_TRUE(r) << r.error().Message();
    return r ? *r : ReferenceReport{};
  }
  size_t PackIndexFiles() {
    auto pi = LoadPackIndexes(*repo_);
    return pi ? pi->packs.size() : 0;
  }
  void RemovePackIndexOf(const Id& snapshot) {
    auto pi = LoadPackIndexes(*repo_);
    ASSERT_TRUE(pi);
    ASSERT_TRUE(RemovePackIndexFiles(*repo_, pi->files.at(snapshot)));
  }
  Id s1_, s2_, s3_;
};

TEST_F(ReferencesTest, CleanVault) {
  auto r = Run();
  EXPECT_TRUE(r.Ok());
  EXPECT_EQ(r.snapshots, 3u);
  EXPECT_EQ(r.walked, 0u) << "every snapshot has a packindex: no tree is read";
}

TEST_F(ReferencesTest, MissingPackNamesExactlyTheSnapshotsThatUseIt) {
  Id b = PackOf(s2_, "b");
  ASSERT_TRUE(mem_.Remove({ObjectType::kData, b.Hex()}));
  auto r = Run();
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0] == DependsOnMissingMessage(s2_, {b.Short()}) ||
                r.errors[0] == DependsOnMissingMessage(s3_, {b.Short()}),
            true)
      << r.errors[0];
  std::set<Id> damaged;
  for (const auto& [id, what] : r.damaged) {
    damaged.insert(id);
    EXPECT_EQ(what, std::vector<std::string>{b.Short()});
  }
  EXPECT_EQ(damaged, (std::set<Id>{s2_, s3_}));
  EXPECT_EQ(DependsOnMissingMessage(s2_, {b.Short()}),
            "<snapshot/" + s2_.Short() + "> depends on missing [" + b.Short() + "]");
}

TEST_F(ReferencesTest, TruncatedPackCounts) {
  Id a = PackOf(s1_, "a");
  auto bytes = mem_.Get({ObjectType::kData, a.Hex()});
  ASSERT_TRUE(bytes);
  bytes->resize(bytes->size() - 1);
  ASSERT_TRUE(mem_.Remove({ObjectType::kData, a.Hex()}));
  ASSERT_TRUE(mem_.Put({ObjectType::kData, a.Hex()}, *bytes));
  auto r = Run();
  EXPECT_EQ(r.damaged.size(), 3u) << "every snapshot holds `a`";
}

TEST_F(ReferencesTest, SnapshotWithoutPackIndexIsWalkedAndGetsOne) {
  RemovePackIndexOf(s2_);
  ASSERT_EQ(PackIndexFiles(), 2u);
  auto dry = Run(/*write=*/false);
  EXPECT_TRUE(dry.Ok());
  EXPECT_EQ(dry.walked, 1u);
  EXPECT_EQ(PackIndexFiles(), 2u) << "a dry run writes nothing";
  auto r = Run();
  EXPECT_TRUE(r.Ok());
  EXPECT_EQ(r.packindex_written, 1u);
  ASSERT_EQ(PackIndexFiles(), 3u);
  ExpectPackIndexesConsistent();
  // The written packindex is complete: it names both packs the snapshot uses.
  auto pi = LoadPackIndexes(*repo_);
  ASSERT_TRUE(pi);
  EXPECT_TRUE(pi->packs.at(s2_).count(PackOf(s2_, "a")));
  EXPECT_TRUE(pi->packs.at(s2_).count(PackOf(s2_, "b")));
  EXPECT_EQ(Run().walked, 0u);
}

TEST_F(ReferencesTest, WalkFindsMissingPacksAndBlobsToo) {
  RemovePackIndexOf(s2_);
  Id b = PackOf(s2_, "b");
  ASSERT_TRUE(mem_.Remove({ObjectType::kData, b.Hex()}));
  auto r = Run();
  ASSERT_TRUE(r.damaged.count(s2_));
  EXPECT_EQ(r.damaged.at(s2_), std::vector<std::string>{b.Short()});
  EXPECT_EQ(PackIndexFiles(), 2u) << "no packindex is written for a damaged snapshot";
}

// After a prune killed between rewriting the index and rewriting the packindex files, a
// packindex names packs no index lists, though the snapshot's blobs are all elsewhere.
TEST_F(ReferencesTest, UnknownPackThatIsNotNeededOnlyRewritesThePackIndex) {
  Id bogus = crypto::Sha256(AsBytes(std::string("no such pack")));
  auto pi = LoadPackIndexes(*repo_);
  ASSERT_TRUE(pi);
  std::set<Id> packs = pi->packs.at(s1_);
  packs.insert(bogus);
  ASSERT_TRUE(WritePackIndex(*repo_, s1_, packs));
  auto r = Run();
  EXPECT_TRUE(r.Ok()) << r.errors[0];
  EXPECT_EQ(r.walked, 1u);
  EXPECT_EQ(r.packindex_written, 1u);
  pi = LoadPackIndexes(*repo_);
  ASSERT_TRUE(pi);
  EXPECT_FALSE(pi->packs.at(s1_).count(bogus)) << "the old packindex files are gone";
  EXPECT_EQ(pi->files.at(s1_).size(), 1u);
  EXPECT_EQ(Run().walked, 0u);
}

// The manual's case: a damaged pack was deleted and the index rebuilt, so the packindex names
// a pack no index lists, and the snapshot needs it.
TEST_F(ReferencesTest, UnknownPackThatIsNeeded) {
  Id b = PackOf(s2_, "b");
  ASSERT_TRUE(mem_.Remove({ObjectType::kData, b.Hex()}));
  ASSERT_TRUE(RebuildIndex(*repo_, {}));
  auto pi = LoadPackIndexes(*repo_);
  ASSERT_TRUE(pi);
  auto r = Run();
  for (const Id& s : {s2_, s3_}) {
    ASSERT_EQ(pi->files.at(s).size(), 1u);
    std::string want = "Packindex '" + pi->files.at(s)[0].Short() + "' for snapshot '" + s.Short() +
                       "' refers to unknown pack '" + b.Short() + "', shouldn't happen";
    EXPECT_NE(std::find(r.errors.begin(), r.errors.end(), want), r.errors.end()) << want;
    EXPECT_TRUE(r.damaged.count(s));
  }
  EXPECT_FALSE(r.damaged.count(s1_));
  EXPECT_EQ(r.errors.size(), 4u) << "two lines for each of the two snapshots";
}

TEST_F(ReferencesTest, UnreadableSnapshotFileIsAnError) {
  ASSERT_TRUE(mem_.Put({ObjectType::kSnapshot, crypto::Sha256(AsBytes(std::string("junk"))).Hex()},
                       Bytes(64, 7)));
  auto r = Run();
  EXPECT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(r.damaged.empty());
}

}  // namespace
}  // namespace halley::engine
