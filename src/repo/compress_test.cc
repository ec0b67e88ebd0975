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

TEST(CompressTest, CompressToAppendsAFrameOfManySlices) {
  // Noise does not shrink, so its frame spans several of the output slices CompressTo grows
  // by; the frame must record its content size, as every frame of the format does.
  Bytes noise(3 << 20);
  uint64_t x = 88172645463325252u;
  for (auto& b : noise) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  Bytes out = {2};
  CompressTo(noise, kDefaultCompressionLevel, out);
  ASSERT_GT(out.size(), noise.size());
  EXPECT_EQ(out[0], 2);
  ByteView frame = ByteView(out).subspan(1);
  EXPECT_EQ(FrameContentSize(frame), noise.size());
  auto back = DecompressExact(frame, noise.size());
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == noise);
}

TEST(CompressTest, EmptyInput) {
  Bytes c = Compress({});
  auto back = DecompressExact(c, 0);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->empty());
}

}  // namespace
}  // namespace halley::repo
