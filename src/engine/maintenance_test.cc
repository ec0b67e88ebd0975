// SPDX-License-Identifier: Apache-2.0
#include "engine/maintenance.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "crypto/hash.h"
#include "crypto/seal.h"
#include "engine/copy.h"
#include "engine/vault_test_fixture.h"
#include "repo/lock.h"

namespace halley::engine {
namespace {

using storage::ObjectType;
using testing::RandomData;

class MaintenanceTest : public testing::VaultTest {
 protected:
  void RemoveAllIndexFiles() {
    std::vector<std::string> names;
    ASSERT_TRUE(mem_.List(ObjectType::kIndex, [&](const storage::ObjectInfo& i) {
      names.push_back(i.name);
      return Result<void>{};
    }));
    for (const auto& n : names) ASSERT_TRUE(mem_.Remove({ObjectType::kIndex, n}));
  }
};

TEST_F(MaintenanceTest, RebuildIndexFromPackHeadersAlone) {
  Write("a", RandomData(2 << 20, 1));
  Write("b", "small");
  Snap();
  RemoveAllIndexFiles();
  Reopen();
  EXPECT_EQ(repo_->GetIndex().BlobCount(repo::BlobType::kData), 0u);
  RebuildIndexOptions o;
  auto r = RebuildIndex(*repo_, o);
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_GT(r->headers_read, 0u);
  EXPECT_EQ(r->headers_read, r->packs);
  Reopen();
  ExpectAllRestore();
}

TEST_F(MaintenanceTest, RebuildIndexDropsMissingPacksAndKeepsGoodEntries) {
  Write("a", RandomData(1 << 20, 1));
  Id snap = Snap();
  Write("b", RandomData(1 << 20, 2));
  Snap();
  Id lost = PackOf(snap, "a");
  ASSERT_TRUE(mem_.Remove({ObjectType::kData, lost.Hex()}));
  auto r = RebuildIndex(*repo_, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->missing_packs_dropped, 1u);
  EXPECT_EQ(r->headers_read, 0u) << "entries for packs of the right size are kept, not re-read";
  Reopen();
  auto sizes = repo_->GetIndex().PackSizes();
  EXPECT_FALSE(sizes.count(lost));
  // --read-all-packs reads every header and gives the same index.
  RebuildIndexOptions all;
  all.read_all_packs = true;
  auto r2 = RebuildIndex(*repo_, all);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->headers_read, sizes.size());
  EXPECT_EQ(repo_->GetIndex().PackSizes(), sizes);
}

TEST_F(MaintenanceTest, RebuildIndexSkipsInvalidIndexFiles) {
  Write("a", RandomData(1 << 20, 1));
  Snap();
  // A garbage index file next to the real ones.
  Bytes junk = crypto::Seal(repo_->MasterKey(), AsBytes("\x02not zstd"));
  ASSERT_TRUE(mem_.Put({ObjectType::kIndex, crypto::Sha256(junk).Hex()}, junk));
  auto r = RebuildIndex(*repo_, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->invalid_index_files, 1u);
  Reopen();
  ExpectAllRestore();
}

TEST_F(MaintenanceTest, RepairSnapshotsDropsLostContentAndTagsTheResult) {
  Write("keep", RandomData(1 << 20, 1));
  Id first = Snap();
  // One chunk (below the minimum chunk size), so losing its pack empties the file; a file
  // with several chunks in different packs would keep the surviving ones.
  Write("lose", RandomData(100 << 10, 2));
  Id second = Snap();
  Id lost = PackOf(second, "lose");
  ASSERT_NE(lost, PackOf(first, "keep")) << "test setup: the files must be in different packs";
  ASSERT_TRUE(mem_.Remove({ObjectType::kData, lost.Hex()}));
  ASSERT_TRUE(RebuildIndex(*repo_, {}));
  RepairSnapshotsOptions o;
  o.forget = true;
  std::vector<std::string> lines;
  o.log = [&](const std::string& l) { lines.push_back(l); };
  auto r = RepairSnapshots(*repo_, o);
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_EQ(r->snapshots_repaired, 1u) << "only the snapshot that used the lost pack";
  EXPECT_EQ(r->files_fixed, 1u);
  ASSERT_EQ(r->rewritten.size(), 1u);
  EXPECT_EQ(r->rewritten[0].first, second);
  bool logged = false;
  for (const auto& l : lines)
    logged = logged || l == "file \"" + src_ + "/lose\": removed missing content";
  EXPECT_TRUE(logged);
  auto snaps = ListSnapshots(*repo_);
  ASSERT_TRUE(snaps);
  ASSERT_EQ(snaps->size(), 2u);
  // The repaired snapshot keeps the original's time, so find it by ID, not by position.
  auto it = std::find_if(snaps->begin(), snaps->end(),
                         [&](const auto& s) { return s.id == r->rewritten[0].second; });
  ASSERT_NE(it, snaps->end());
  const auto& repaired = *it;
  EXPECT_EQ(repaired.snapshot.tags, std::vector<std::string>{"repaired"});
  EXPECT_EQ(repaired.snapshot.original, second);
  // The repaired snapshot restores, with "lose" empty and "keep" intact.
  contents_[repaired.id] = contents_[second];
  contents_[repaired.id]["lose"] = "";
  contents_.erase(second);
  ExpectAllRestore();
  // Nothing is left to repair.
  auto again = RepairSnapshots(*repo_, {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->snapshots_repaired, 0u);
}

TEST_F(MaintenanceTest, CopyBetweenVaultsAndSkipsWhatIsThere) {
  Write("a", RandomData(1 << 20, 1));
  Write("b", "text");
  Snap();
  storage::MemBlobStore other;
  repo::InitOptions init;
  init.kdf = {1024, 8, 1};
  auto dst = repo::Repository::Init(other, "other", init);
  ASSERT_TRUE(dst);
  auto snaps = ListSnapshots(*repo_);
  ASSERT_TRUE(snaps);
  auto r = CopySnapshots(*repo_, **dst, *snaps, {});
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_EQ(r->snapshots_copied, 1u);
  EXPECT_GT(r->bytes_copied, 1u << 20);
  auto again = CopySnapshots(*repo_, **dst, *snaps, {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->snapshots_skipped, 1u);
  EXPECT_EQ(again->blobs_copied, 0u);
  // The copy restores from the other vault, whose keys differ.
  auto copied = ListSnapshots(**dst);
  ASSERT_TRUE(copied);
  ASSERT_EQ(copied->size(), 1u);
  EXPECT_EQ(copied->front().snapshot.original, snaps->front().id);
  EXPECT_NE((*dst)->MasterKey().encrypt, repo_->MasterKey().encrypt);
  RestoreOptions o;
  o.target = dir_ + "/copied";
  o.path = src_;
  auto rr = Restore(**dst, copied->front().snapshot.tree, o);
  ASSERT_TRUE(rr);
  EXPECT_EQ(testing::ReadFile(dir_ + "/copied/a"), testing::ReadFile(src_ + "/a"));
}

}  // namespace
}  // namespace halley::engine
