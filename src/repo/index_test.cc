// SPDX-License-Identifier: Apache-2.0
#include "repo/index.h"

#include <gtest/gtest.h>

namespace halley::repo {
namespace {

Id MakeId(uint8_t v) {
  Id id;
  id.bytes.fill(v);
  return id;
}

TEST(IndexFileTest, ResticFormatRoundTrip) {
  // The 0.14 example from restic.md §1.7, with real-length IDs.
  std::string json = R"({"packs":[{"id":")" + MakeId(1).Hex() + R"(","blobs":[{"id":")" +
                     MakeId(2).Hex() +
                     R"(","type":"data","offset":0,"length":53,"uncompressed_length":12},{"id":")" +
                     MakeId(3).Hex() + R"(","type":"tree","offset":53,"length":807978}]}]})";
  auto f = DecodeIndexFile(json);
  ASSERT_TRUE(f) << f.error().Message();
  ASSERT_EQ(f->packs.size(), 1u);
  ASSERT_EQ(f->packs[0].blobs.size(), 2u);
  EXPECT_EQ(f->packs[0].blobs[0].uncompressed_length, 12u);
  EXPECT_EQ(f->packs[0].blobs[1].type, BlobType::kTree);
  EXPECT_FALSE(f->packs[0].blobs[1].Compressed());
  EXPECT_EQ(EncodeIndexFile(*f), json);
}

TEST(IndexFileTest, LegacyArrayAndSupersedes) {
  std::string legacy = R"([{"id":")" + MakeId(1).Hex() + R"(","blobs":[]}])";
  auto f = DecodeIndexFile(legacy);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->packs.size(), 1u);
  auto s = DecodeIndexFile(R"({"supersedes":[")" + MakeId(9).Hex() + R"("],"packs":[]})");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->supersedes.size(), 1u);
}

TEST(IndexFileTest, RejectsMalformed) {
  for (const std::string& bad : std::vector<std::string>{
           std::string("{}"), std::string("7"), std::string(R"({"packs":[1]})"),
           R"({"packs":[{"id":"zz","blobs":[]}]})",
           R"({"packs":[{"id":")" + MakeId(1).Hex() + R"(","blobs":[{"id":")" + MakeId(2).Hex() +
               R"(","type":"blub","offset":0,"length":40}]}]})",
           R"({"packs":[{"id":")" + MakeId(1).Hex() + R"(","blobs":[{"id":")" + MakeId(2).Hex() +
               R"(","type":"data","offset":-1,"length":40}]}]})"}) {
    auto r = DecodeIndexFile(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().Code(), ErrorCode::kCorruption);
  }
}

TEST(IndexTest, LookupFirstLocationWins) {
  Index idx;
  PackedBlob a{BlobType::kData, MakeId(2), 0, 100, 0};
  PackedBlob t{BlobType::kTree, MakeId(2), 100, 50, 200};
  idx.AddPack(MakeId(1), {a, t});
  PackedBlob again{BlobType::kData, MakeId(2), 7, 99, 0};
  idx.AddPack(MakeId(5), {again});
  auto loc = idx.Lookup(BlobType::kData, MakeId(2));
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc->pack, MakeId(1));
  EXPECT_EQ(loc->length, 100u);
  EXPECT_EQ(loc->PlainSize(), 68u);
  auto tree = idx.Lookup(BlobType::kTree, MakeId(2));
  ASSERT_TRUE(tree);
  EXPECT_EQ(tree->PlainSize(), 200u);
  EXPECT_FALSE(idx.Has(BlobType::kTree, MakeId(3)));
  EXPECT_EQ(idx.BlobCount(BlobType::kData), 1u);
  auto sizes = idx.PackSizes();
  EXPECT_EQ(sizes[MakeId(1)], 100u + 50u + 37u + 41u + 36u);
  EXPECT_EQ(sizes.size(), 2u);
}

}  // namespace
}  // namespace halley::repo
