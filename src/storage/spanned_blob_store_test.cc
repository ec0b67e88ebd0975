// SPDX-License-Identifier: Apache-2.0
#include "storage/spanned_blob_store.h"

#include <gtest/gtest.h>

#include <atomic>

#include "storage/mem_blob_store.h"

namespace halley::storage {
namespace {

ObjectHandle Data(char c) { return {ObjectType::kData, std::string(64, c)}; }
Bytes Text(std::string_view s) { return Bytes(s.begin(), s.end()); }

struct Fixture {
  Fixture() {
    std::vector<SpannedBlobStore::Member> members;
    auto a = MemBlobStore::Make();
    auto b = MemBlobStore::Make();
    vol_a = a.get();
    vol_b = b.get();
    members.push_back({std::move(a), [this] { return free_a.load(); }});
    members.push_back({std::move(b), [this] { return free_b.load(); }});
    span = std::move(*SpannedBlobStore::Open(std::move(members)));
  }
  std::atomic<uint64_t> free_a{100}, free_b{200};
  BlobStore* vol_a = nullptr;
  BlobStore* vol_b = nullptr;
  BlobStorePtr span;
};

TEST(SpannedBlobStore, NewObjectsGoToTheVolumeWithTheMostFreeSpace) {
  Fixture f;
  ASSERT_TRUE(f.span->Put(Data('a'), Text("one")));
  EXPECT_TRUE(f.vol_b->Stat(Data('a')));
  EXPECT_FALSE(f.vol_a->Stat(Data('a')));
  f.free_a = 300;
  auto w = f.span->NewWriter(ObjectType::kData);
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->Write(Text("two")));
  ASSERT_TRUE((*w)->Commit(Data('b')));
  EXPECT_TRUE(f.vol_a->Stat(Data('b')));
}

TEST(SpannedBlobStore, EquallyEmptyVolumesTakeNewObjectsInTurn) {
  Fixture f;
  f.free_a = 1000;
  f.free_b = 995;  // within 1%: counts as equal
  for (char c = 'a'; c < 'a' + 6; ++c) ASSERT_TRUE(f.span->Put(Data(c), Text("x")));
  int on_a = 0;
  for (char c = 'a'; c < 'a' + 6; ++c) on_a += f.vol_a->Stat(Data(c)) ? 1 : 0;
  EXPECT_EQ(on_a, 3);
}

TEST(SpannedBlobStore, RefusesANameThatExistsOnAnotherVolume) {
  Fixture f;
  ASSERT_TRUE(f.vol_a->Put(Data('c'), Text("old")));
  auto put = f.span->Put(Data('c'), Text("new"));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().Code(), ErrorCode::kAlreadyExists);
  auto w = f.span->NewWriter(ObjectType::kData);
  ASSERT_TRUE((*w)->Write(Text("new")));
  auto commit = (*w)->Commit(Data('c'));
  ASSERT_FALSE(commit);
  EXPECT_EQ(commit.error().Code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(*f.span->Get(Data('c')), Text("old"));
  EXPECT_FALSE(f.vol_b->Stat(Data('c')));
}

TEST(SpannedBlobStore, ReadsFollowAnObjectMovedBetweenVolumes) {
  Fixture f;
  ASSERT_TRUE(f.span->Put(Data('d'), Text("moving")));
  ASSERT_TRUE(f.vol_a->Put(Data('d'), Text("moving")));  // copied, then removed: a move
  ASSERT_TRUE(f.vol_b->Remove(Data('d')));
  EXPECT_EQ(*f.span->Get(Data('d')), Text("moving"));
  EXPECT_EQ(*f.span->Stat(Data('d')), 6u);
  int listed = 0;
  ASSERT_TRUE(f.span->List(ObjectType::kData, [&](const ObjectInfo&) -> Result<void> {
    ++listed;
    return {};
  }));
  EXPECT_EQ(listed, 1);
}

TEST(SpannedBlobStore, ListsADuplicatedNameOnceAndRemoveClearsEveryCopy) {
  Fixture f;
  ASSERT_TRUE(f.vol_a->Put(Data('e'), Text("x")));
  ASSERT_TRUE(f.vol_b->Put(Data('e'), Text("x")));
  int listed = 0;
  ASSERT_TRUE(f.span->List(ObjectType::kData, [&](const ObjectInfo&) -> Result<void> {
    ++listed;
    return {};
  }));
  EXPECT_EQ(listed, 1);
  ASSERT_TRUE(f.span->Remove(Data('e')));
  EXPECT_FALSE(f.vol_a->Stat(Data('e')));
  EXPECT_FALSE(f.vol_b->Stat(Data('e')));
  auto missing = f.span->Get(Data('e'));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().Code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace halley::storage
