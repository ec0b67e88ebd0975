// SPDX-License-Identifier: Apache-2.0
#include "engine/pruner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/archiver.h"
#include "engine/packindexes.h"
#include "engine/restorer.h"
#include "engine/snapshots.h"
#include "engine/vault_test_fixture.h"
#include "storage/blob_store.h"
#include "storage/faulty_blob_store.h"
#include "storage/mem_blob_store.h"

namespace halley::engine {
namespace {

using storage::ObjectType;
using testing::RandomData;
namespace stdfs = std::filesystem;

class PrunerTest : public testing::VaultTest {
 protected:
  Result<PruneStats> RunPrune(PruneOptions o = {}) { return Prune(*repo_, o); }
};

TEST_F(PrunerTest, ForgetThenPruneRemovesUnusedDataAndKeepsTheRest) {
  Write("a", RandomData(3 << 20, 1));
  Write("shared", RandomData(2 << 20, 2));
  Id first = Snap();
  stdfs::remove(src_ + "/a");
  Write("b", RandomData(3 << 20, 3));
  Snap();
  uint64_t before = StoredBytes(ObjectType::kData);
  ASSERT_TRUE(RemoveSnapshots(*repo_, {first}));
  contents_.erase(first);
  auto s = RunPrune();
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_TRUE(s->walked_trees);
  EXPECT_GT(s->unused_bytes, 3u << 20) << "file a is no longer used";
  EXPECT_LT(StoredBytes(ObjectType::kData), before - (3u << 20) + (512u << 10));
  Reopen();
  ExpectAllRestore();
  ExpectPackIndexesConsistent();
  // A second prune finds nothing to do.
  auto again = RunPrune();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->remove_packs + again->repack_packs + again->orphan_packs, 0u);
}

TEST_F(PrunerTest, DryRunChangesNothing) {
  Write("a", RandomData(1 << 20, 1));
  Id first = Snap();
  Write("a", RandomData(1 << 20, 2));
  Snap();
  ASSERT_TRUE(RemoveSnapshots(*repo_, {first}));
  size_t packs = Count(mem_, ObjectType::kData), index = Count(mem_, ObjectType::kIndex);
  PruneOptions o;
  o.dry_run = true;
  auto s = RunPrune(o);
  ASSERT_TRUE(s);
  EXPECT_GT(s->remove_packs + s->repack_packs, 0u);
  EXPECT_EQ(Count(mem_, ObjectType::kData), packs);
  EXPECT_EQ(Count(mem_, ObjectType::kIndex), index);
}

TEST_F(PrunerTest, MaxUnusedDecidesRepacking) {
  // Many small files in a few packs; forget half: packs become partly used.
  for (int i = 0; i < 40; ++i) Write("f" + std::to_string(i), RandomData(100000, 100 + i));
  Id first = Snap();
  for (int i = 0; i < 40; i += 2) stdfs::remove(src_ + "/f" + std::to_string(i));
  Snap();
  ASSERT_TRUE(RemoveSnapshots(*repo_, {first}));
  contents_.erase(first);
  PruneOptions lax;
  lax.max_unused = *MaxUnused::Parse("unlimited");
  lax.dry_run = true;
  auto l = RunPrune(lax);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->repack_packs, 0u) << "unlimited unused space repacks nothing";
  PruneOptions strict;
  strict.max_unused = *MaxUnused::Parse("0%");
  auto s = RunPrune(strict);
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_GT(s->repack_packs, 0u);
  EXPECT_EQ(s->unused_after, 0u);
  Reopen();
  auto after = RunPrune(strict);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->unused_bytes, 0u) << "nothing unused remains";
  ExpectAllRestore();
  ExpectPackIndexesConsistent();
}

TEST_F(PrunerTest, MissingNeededPackAbortsBeforeDeletingAnything) {
  Write("a", RandomData(1 << 20, 1));
  Id with_a = Snap();
  stdfs::remove(src_ + "/a");
  Write("b", RandomData(1 << 20, 2));
  Id with_b = Snap();
  Write("c", RandomData(1 << 20, 3));
  Id with_b_c = Snap();
  // Lose the pack that holds b's data.
  auto node = FindNode(*repo_, ListSnapshots(*repo_)->at(1).snapshot.tree, src_ + "/b");
  ASSERT_TRUE(node);
  auto loc = repo_->GetIndex().Lookup(repo::BlobType::kData, node->content->front());
  ASSERT_TRUE(loc);
  ASSERT_TRUE(mem_.Remove({ObjectType::kData, loc->pack.Hex()}));
  ASSERT_TRUE(RemoveSnapshots(*repo_, {with_a}));
  size_t packs = Count(mem_, ObjectType::kData);
  auto s = RunPrune();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().Code(), ErrorCode::kCorruption);
  const std::string& m = s.error().Message();
  EXPECT_NE(m.find("<snapshot/" + with_b.Short() + "> depends on missing"), std::string::npos) << m;
  EXPECT_NE(m.find("<snapshot/" + with_b_c.Short() + "> depends on missing"), std::string::npos);
  EXPECT_EQ(Count(mem_, ObjectType::kData), packs) << "nothing may be deleted";
}

TEST_F(PrunerTest, PackIndexFastPathRemovesWholePacksOnly) {
  Write("a", RandomData(2 << 20, 1));
  Id first = Snap();
  stdfs::remove(src_ + "/a");
  Write("b", RandomData(2 << 20, 2));
  Snap();
  ASSERT_TRUE(RemoveSnapshots(*repo_, {first}));
  contents_.erase(first);
  PruneOptions o;
  o.packindex_fast_path = true;
  o.max_unused = *MaxUnused::Parse("unlimited");
  auto s = RunPrune(o);
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_FALSE(s->walked_trees);
  EXPECT_GT(s->remove_packs, 0u);
  Reopen();
  ExpectAllRestore();
  // Without packindex files the fast path falls back to walking the trees.
  auto pi = LoadPackIndexes(*repo_);
  for (const auto& [snap, files] : pi->files) ASSERT_TRUE(RemovePackIndexFiles(*repo_, files));
  auto walk = RunPrune(o);
  ASSERT_TRUE(walk);
  EXPECT_TRUE(walk->walked_trees);
  ExpectPackIndexesConsistent();
}

TEST_F(PrunerTest, OrphanPacksFromInterruptedBackupsAreRemoved) {
  Write("a", RandomData(1 << 20, 1));
  Snap();
  // A pack uploaded by a backup that died before writing its index.
  storage::FaultyBlobStore faulty(mem_);
  Reopen(&faulty);
  Write("b", RandomData(6 << 20, 2));
  faulty.CrashOnPut(1, ObjectType::kIndex);
  BackupOptions o;
  o.paths = {src_};
  EXPECT_FALSE(Backup(*repo_, o));
  faulty.Restart();
  Reopen();
  auto s = RunPrune();
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_GT(s->orphan_packs, 0u);
  auto again = RunPrune();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->orphan_packs, 0u);
  ExpectAllRestore();
}

// Kill the prune at every step it takes (a crash on the Nth write or delete), then check that
// every snapshot still restores and that the next prune finishes the job.
TEST_F(PrunerTest, KilledAtAnyPointThenResumed) {
  for (int i = 0; i < 30; ++i) Write("f" + std::to_string(i), RandomData(150000, 500 + i));
  Id first = Snap();
  for (int i = 0; i < 30; i += 3) stdfs::remove(src_ + "/f" + std::to_string(i));
  Write("new", RandomData(1 << 20, 7));
  Snap();
  ASSERT_TRUE(RemoveSnapshots(*repo_, {first}));
  contents_.erase(first);
  // A pristine copy to restart from for every crash point.
  storage::MemBlobStore pristine;
  for (auto t : storage::kAllObjectTypes) {
    ASSERT_TRUE(mem_.List(t, [&](const storage::ObjectInfo& i) -> Result<void> {
      storage::ObjectHandle h{t, i.name};
      HALLEY_ASSIGN_OR_RETURN(Bytes b, mem_.Get(h));
      return pristine.Put(h, b);
    }));
  }
  PruneOptions strict;
  strict.max_unused = *MaxUnused::Parse("0%");
  // Crash points: the Nth write, then the Nth delete, until the prune gets through.
  for (auto method :
       {storage::FaultyBlobStore::Method::kPut, storage::FaultyBlobStore::Method::kRemove}) {
    int interrupted = 0;
    for (uint64_t n = 1;; ++n) {
      ASSERT_LT(n, 200u);
      storage::MemBlobStore store;
      for (auto t : storage::kAllObjectTypes) {
        ASSERT_TRUE(pristine.List(t, [&](const storage::ObjectInfo& i) -> Result<void> {
          storage::ObjectHandle h{t, i.name};
          HALLEY_ASSIGN_OR_RETURN(Bytes b, pristine.Get(h));
          return store.Put(h, b);
        }));
      }
      storage::FaultyBlobStore faulty(store);
      if (method == storage::FaultyBlobStore::Method::kPut) {
        faulty.CrashOnPut(n);
      } else {
        faulty.AddFault({method, n, std::nullopt, ErrorCode::kCancelled, false});
      }
      Reopen(&faulty);
      bool got_through = Prune(*repo_, strict).has_value();
      faulty.ClearFaults();
      Reopen(&store);
      auto finish = Prune(*repo_, strict);
      ASSERT_TRUE(finish) << "crash at call " << n << ": " << finish.error().Message();
      auto check = Prune(*repo_, strict);
      ASSERT_TRUE(check);
      EXPECT_EQ(check->remove_packs + check->repack_packs + check->orphan_packs, 0u)
          << "crash at call " << n;
      ExpectAllRestore();
      ExpectPackIndexesConsistent();
      if (got_through) break;
      ++interrupted;
    }
    // Each write (repacked packs, index, packindex) and each delete was a crash point.
    EXPECT_GE(interrupted, 4) << (method == storage::FaultyBlobStore::Method::kPut ? "puts"
                                                                                   : "removes");
  }
}

TEST(MaxUnusedTest, Parse) {
  EXPECT_EQ(MaxUnused::Parse("5%")->percent, 5);
  EXPECT_EQ(MaxUnused::Parse("unlimited")->kind, MaxUnused::Kind::kUnlimited);
  EXPECT_EQ(MaxUnused::Parse("2M")->bytes, 2u << 20);
  EXPECT_FALSE(MaxUnused::Parse("100%"));
  EXPECT_FALSE(MaxUnused::Parse("-1%"));
  EXPECT_FALSE(MaxUnused::Parse("lots"));
  EXPECT_EQ(*ParseSize("10K"), 10240u);
  EXPECT_FALSE(ParseSize("99999999999T"));
}

}  // namespace
}  // namespace halley::engine
