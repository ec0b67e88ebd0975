// SPDX-License-Identifier: Apache-2.0
#include "repo/compress.h"

#include <gtest/gtest.h>

namespace halley::repo {
namespace {

TEST(CompressTest, RoundTrip) {
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "line " + std::to_string(i % 37) + "\n";
  Bytes c = Compress(AsBytes(text));
  EXPECT_LT(c.size(), text.size() / 4);
  auto back = DecompressExact(c, text.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(AsString(*back), text);
  auto bounded = DecompressBounded(c, text.size());
  ASSERT_TRUE(bounded);
  EXPECT_EQ(AsString(*bounded), text);
}

TEST(CompressTest, RejectsWrongSizeAndGarbage) {
  Bytes c = Compress(AsBytes("hello hello hello"));
  EXPECT_EQ(DecompressExact(c, 5).error().Code(), ErrorCode::kCorruption);
  EXPECT_EQ(DecompressExact(c, 100).error().Code(), ErrorCode::kCorruption);
  EXPECT_EQ(DecompressBounded(c, 4).error().Code(), ErrorCode::kCorruption);
  Bytes garbage = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(DecompressBounded(garbage, 100).error().Code(), ErrorCode::kCorruption);
  Bytes truncated(c.begin(), c.begin() + static_cast<long>(c.size() / 2));
  EXPECT_FALSE(DecompressExact(truncated, 17));
}

TEST(CompressTest, DecompressesToComparesWithoutMaterialising) {
  // Larger than the 64 KiB comparison slice, so that a difference in a later slice counts.
  std::string text;
  for (int i = 0; text.size() < 300000; ++i) text += "line " + std::to_string(i % 977) + "\n";
  Bytes plain = ToBytes(text);
  Bytes c(CompressBound(plain.size()));
  c.resize(CompressInto(plain, kDefaultCompressionLevel, c));
  EXPECT_LT(c.size(), plain.size());
  EXPECT_TRUE(DecompressesTo(c, plain));
  Bytes other = plain;
  other[250000] ^= 1;
  EXPECT_FALSE(DecompressesTo(c, other));
  EXPECT_FALSE(DecompressesTo(c, ByteView(plain).first(plain.size() - 1)));
  Bytes longer = plain;
  longer.push_back('x');
  EXPECT_FALSE(DecompressesTo(c, longer));
  EXPECT_FALSE(DecompressesTo(ByteView(c).first(c.size() / 2), plain));
  EXPECT_TRUE(DecompressesTo(Compress({}), {}));
}

TEST(CompressTest, EmptyInput) {
  Bytes c = Compress({});
  auto back = DecompressExact(c, 0);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->empty());
}

}  // namespace
}  // namespace halley::repo
