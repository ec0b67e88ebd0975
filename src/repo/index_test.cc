// SPDX-License-Identifier: Apache-2.0
#include "repo/index.h"

#include <gtest/gtest.h>

#include <map>

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

TEST(IndexFileTest, SkipsUnknownKeysAndKeepsTheLastOfRepeatedOnes) {
  std::string pack = MakeId(1).Hex(), blob = MakeId(2).Hex();
  std::string json = R"({"x":{"packs":[7],"y":[[{"id":1}]]},"packs":[],)"
                     R"("packs":[{"note":{"blobs":5},"blobs":[{"id":")" +
                     blob +
                     R"(","extra":[1,{"a":null}],"type":"tree","offset":9,"offset":3,)"
                     R"("length":40,"uncompressed_length":null}],"id":")" +
                     pack + R"("}],"supersedes":[5,"nothex",")" + MakeId(9).Hex() + R"("]})";
  auto f = DecodeIndexFile(json);
  ASSERT_TRUE(f) << f.error().Message();
  ASSERT_EQ(f->packs.size(), 1u);
  EXPECT_EQ(f->packs[0].id, MakeId(1));
  ASSERT_EQ(f->packs[0].blobs.size(), 1u);
  const PackedBlob& b = f->packs[0].blobs[0];
  EXPECT_EQ(b.id, MakeId(2));
  EXPECT_EQ(b.type, BlobType::kTree);
  EXPECT_EQ(b.offset, 3u);
  EXPECT_EQ(b.length, 40u);
  EXPECT_FALSE(b.Compressed());
  ASSERT_EQ(f->supersedes.size(), 1u);
  EXPECT_EQ(f->supersedes[0], MakeId(9));
}

TEST(IndexFileTest, ReportsEveryKindOfDamage) {
  std::string pack = R"({"packs":[{"id":")" + MakeId(1).Hex() + R"(","blobs":[)";
  std::string blob = R"({"id":")" + MakeId(2).Hex() + R"(","type":"data",)";
  auto message = [](const std::string& json) {
    auto r = DecodeIndexFile(json);
    EXPECT_FALSE(r) << json;
    if (r) return std::string();
    EXPECT_EQ(r.error().Code(), ErrorCode::kCorruption) << json;
    return r.error().Message();
  };
  EXPECT_NE(message("").find("malformed JSON"), std::string::npos);
  EXPECT_NE(message(R"("packs")").find("neither an object nor an array"), std::string::npos);
  EXPECT_NE(message(R"({"packs":{}})").find("no \"packs\" array"), std::string::npos);
  EXPECT_NE(message(R"({"packs":[{"blobs":[]}]})").find("\"id\""), std::string::npos);
  EXPECT_NE(message(R"({"packs":[{"id":")" + MakeId(1).Hex() + R"("}]})").find("no blob list"),
            std::string::npos);
  EXPECT_NE(message(pack + "3]}]}").find("blob entry is not an object"), std::string::npos);
  EXPECT_NE(message(pack + R"({"id":"ab","type":"data","offset":0,"length":40}]}]})")
                .find("invalid blob ID"),
            std::string::npos);
  EXPECT_NE(message(pack + blob + R"("length":40}]}]})").find("missing field offset"),
            std::string::npos);
  EXPECT_NE(message(pack + blob + R"("offset":0,"length":4294967296}]}]})").find("invalid length"),
            std::string::npos);
  EXPECT_NE(message(pack + blob + R"("offset":0.5,"length":40}]}]})").find("invalid offset"),
            std::string::npos);
  EXPECT_NE(message(pack + blob + R"("offset":0,"length":40,"uncompressed_length":"9"}]}]})")
                .find("invalid uncompressed_length"),
            std::string::npos);
  EXPECT_NE(message(pack + blob + R"("offset":0,"length":31}]}]})").find("length below 32"),
            std::string::npos);
  // A syntax error is reported before damage found earlier in the document.
  EXPECT_NE(message(pack + blob + R"("offset":0,"length":31}]}]}x)").find("malformed JSON"),
            std::string::npos);
  // Nesting is bounded while parsing.
  EXPECT_NE(message(R"({"packs":[],"x":)" + std::string(100000, '[')).find("depth limit"),
            std::string::npos);
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

TEST(IndexTest, ManyBlobsAcrossMergesMatchAReferenceMap) {
  // Enough blobs for several merges of the sorted array (the first at 16k), some listed again
  // by later packs (the first location stays), lookups between additions.
  Index idx;
  std::map<Id, std::pair<uint32_t, Id>> want;  // blob -> (offset, pack)
  uint64_t state = 12345;
  auto next_id = [&] {
    Id id;
    for (auto& b : id.bytes) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      b = static_cast<uint8_t>(state >> 56);
    }
    return id;
  };
  std::vector<Id> added;
  for (uint32_t p = 0; p < 300; ++p) {
    Id pack = next_id();
    std::vector<PackedBlob> blobs;
    for (uint32_t i = 0; i < 500; ++i) {
      bool again = !added.empty() && i % 10 == 0;
      Id id = again ? added[(p * 7919u + i) % added.size()] : next_id();
      blobs.push_back({BlobType::kData, id, i * 100, 100, 0});
      if (!again) added.push_back(id);
      want.try_emplace(id, i * 100, pack);
    }
    idx.AddPack(pack, blobs);
    if (p % 37 == 0) {
      for (size_t k = 0; k < added.size(); k += 101) {
        auto loc = idx.Lookup(BlobType::kData, added[k]);
        ASSERT_TRUE(loc) << k;
        EXPECT_EQ(loc->offset, want.at(added[k]).first);
        EXPECT_EQ(loc->pack, want.at(added[k]).second);
      }
    }
  }
  ASSERT_EQ(idx.BlobCount(BlobType::kData), want.size());
  for (const auto& [id, where] : want) {
    auto loc = idx.Lookup(BlobType::kData, id);
    ASSERT_TRUE(loc);
    EXPECT_EQ(loc->offset, where.first);
    EXPECT_EQ(loc->pack, where.second);
    EXPECT_FALSE(idx.Has(BlobType::kTree, id));
  }
  for (int i = 0; i < 10000; ++i) EXPECT_FALSE(idx.Has(BlobType::kData, next_id()));
  // The smallest and largest IDs, at the ends of the array and the directory.
  Id zero, ones;
  ones.bytes.fill(0xff);
  EXPECT_FALSE(idx.Has(BlobType::kData, zero));
  idx.AddPack(next_id(), {{BlobType::kData, zero, 0, 40, 0}, {BlobType::kData, ones, 40, 40, 0}});
  EXPECT_TRUE(idx.Has(BlobType::kData, zero));
  EXPECT_TRUE(idx.Has(BlobType::kData, ones));
  idx.Clear();
  EXPECT_EQ(idx.BlobCount(BlobType::kData), 0u);
  EXPECT_FALSE(idx.Has(BlobType::kData, added.front()));
}

}  // namespace
}  // namespace halley::repo
