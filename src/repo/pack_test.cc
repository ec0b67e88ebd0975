// SPDX-License-Identifier: Apache-2.0
#include "repo/pack.h"

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "repo/compress.h"
#include "storage/mem_blob_store.h"

namespace halley::repo {
namespace {

struct Built {
  Id id;
  Bytes data;
  std::vector<PackedBlob> blobs;
  std::vector<Bytes> plaintexts;
};

Built BuildPack(const crypto::Key& key, int n) {
  storage::MemBlobStore unused;
  auto out = std::make_unique<storage::BufferedObjectWriter>(unused);
  const storage::BufferedObjectWriter* buffer = out.get();
  PackWriter w(BlobType::kData, std::move(out));
  Built b;
  for (int i = 0; i < n; ++i) {
    std::string text = "blob " + std::to_string(i) + std::string(static_cast<size_t>(i) * 10, 'x');
    Bytes plain = ToBytes(text);
    if (i % 2 == 0) {
      Bytes c = Compress(plain);
      HALLEY_CHECK(
          w.Add(crypto::Sha256(plain), crypto::Seal(key, c), static_cast<uint32_t>(plain.size())));
    } else {
      HALLEY_CHECK(w.Add(crypto::Sha256(plain), crypto::Seal(key, plain), 0));
    }
    b.plaintexts.push_back(plain);
  }
  auto f = w.Finish(key);
  HALLEY_CHECK(f.has_value());
  HALLEY_CHECK(f->size == buffer->Data().size());
  b.id = f->id;
  b.data = buffer->Data();
  b.blobs = f->blobs;
  return b;
}

TEST(PackTest, HeaderRoundTrip) {
  crypto::Key key = crypto::Key::Random();
  Built b = BuildPack(key, 5);
  EXPECT_EQ(b.id, crypto::Sha256(b.data));
  EXPECT_EQ(PackSize(b.blobs), b.data.size());
  // restic.md §1.6: Header_Length = 32 + entries (41 compressed, 37 plain).
  uint32_t header_len = GetU32Le(b.data.data() + b.data.size() - 4);
  EXPECT_EQ(header_len, 32u + 3 * 41 + 2 * 37);
  auto blobs = ParsePack(key, b.data);
  ASSERT_TRUE(blobs) << blobs.error().Message();
  ASSERT_EQ(blobs->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const PackedBlob& p = (*blobs)[i];
    EXPECT_EQ(p.id, crypto::Sha256(b.plaintexts[i]));
    EXPECT_EQ(p.Compressed(), i % 2 == 0);
    auto plain = crypto::Open(key, ByteView(b.data).subspan(p.offset, p.length));
    ASSERT_TRUE(plain);
  }
}

TEST(PackTest, LoadHeaderFromStoreSmallAndLarge) {
  crypto::Key key = crypto::Key::Random();
  storage::MemBlobStore store;
  ASSERT_TRUE(store.Create());
  for (int n : {1, 15, 40}) {  // 40 entries do not fit the first tail read
    Built b = BuildPack(key, n);
    ASSERT_TRUE(store.Put({storage::ObjectType::kData, b.id.Hex()}, b.data));
    auto blobs = LoadPackHeader(store, key, b.id, b.data.size());
    ASSERT_TRUE(blobs) << blobs.error().Message();
    EXPECT_EQ(blobs->size(), static_cast<size_t>(n));
    EXPECT_EQ(blobs->back().id, crypto::Sha256(b.plaintexts.back()));
  }
}

TEST(PackTest, DetectsDamage) {
  crypto::Key key = crypto::Key::Random();
  Built b = BuildPack(key, 3);
  Bytes bad = b.data;
  bad[bad.size() - 10] ^= 1;  // inside the sealed header
  EXPECT_EQ(ParsePack(key, bad).error().Code(), ErrorCode::kCorruption);
  Bytes shorter(b.data.begin() + 1, b.data.end());  // blob area no longer matches
  EXPECT_EQ(ParsePack(key, shorter).error().Code(), ErrorCode::kCorruption);
  Bytes len = b.data;
  PutU32Le(len.data() + len.size() - 4, 0xffffff);
  EXPECT_EQ(ParsePack(key, len).error().Code(), ErrorCode::kCorruption);
  EXPECT_EQ(ParsePack(key, ByteView(b.data).first(50)).error().Code(), ErrorCode::kCorruption);
  EXPECT_EQ(ParsePack(crypto::Key::Random(), b.data).error().Code(), ErrorCode::kCorruption);
}

TEST(PackTest, ParseHeaderRejectsBadEntries) {
  Bytes h(37, 0);
  h[0] = 7;
  EXPECT_EQ(ParsePackHeader(h).error().Code(), ErrorCode::kCorruption);
  h[0] = 2;  // compressed entries are 41 bytes
  EXPECT_EQ(ParsePackHeader(h).error().Code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace halley::repo
