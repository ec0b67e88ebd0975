// SPDX-License-Identifier: Apache-2.0
#include "repo/config.h"

#include <gtest/gtest.h>

#include "chunker/rabin.h"

namespace halley::repo {
namespace {

TEST(ConfigTest, NewRoundTrips) {
  Config c = Config::New();
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(c.id.size(), 64u);
  ASSERT_TRUE(c.gear);
  c.extra["future_field"] = 7;
  auto d = DecodeConfig(EncodeConfig(c));
  ASSERT_TRUE(d) << d.error().Message();
  EXPECT_EQ(d->id, c.id);
  EXPECT_EQ(d->chunker_polynomial, c.chunker_polynomial);
  ASSERT_TRUE(d->gear);
  EXPECT_EQ(d->gear->key, c.gear->key);
  EXPECT_EQ(d->gear->avg_size, c.gear->avg_size);
  EXPECT_EQ(d->extra["future_field"], 7);
  EXPECT_EQ(EncodeConfig(*d), EncodeConfig(c));
}

TEST(ConfigTest, ResticConfigUsesRabin) {
  // restic.md §1.4, verified against restic 0.14.
  auto c = DecodeConfig(
      R"({"version":2,"id":"98350eb0348951881367beebbc7f66e16152b31ed6fadd6a988c1df8763fe188","chunker_polynomial":"3ec579db68be09"})");
  ASSERT_TRUE(c) << c.error().Message();
  EXPECT_EQ(c->chunker_polynomial, 0x3ec579db68be09u);
  EXPECT_FALSE(c->gear);
  auto chunker = c->NewChunker();
  EXPECT_NE(dynamic_cast<chunker::RabinChunker*>(chunker.get()), nullptr);
  EXPECT_EQ(
      EncodeConfig(*c),
      R"({"version":2,"id":"98350eb0348951881367beebbc7f66e16152b31ed6fadd6a988c1df8763fe188","chunker_polynomial":"3ec579db68be09"})");
}

TEST(ConfigTest, GearChunkersFromTheSameKeyCutAlike) {
  Config c = Config::New();
  Bytes data(4 << 20);
  uint64_t x = 88172645463325252ull;
  for (auto& b : data) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  auto a = c.NewChunker();
  auto b = c.NewChunker();
  EXPECT_EQ(chunker::SplitAll(*a, data), chunker::SplitAll(*b, data));
  Config other = Config::New();
  auto o = other.NewChunker();
  EXPECT_NE(chunker::SplitAll(*a, data), chunker::SplitAll(*o, data));
}

TEST(ConfigTest, RejectsBadConfigs) {
  EXPECT_EQ(DecodeConfig(R"({"version":3,"id":"x","chunker_polynomial":"3ec579db68be09"})")
                .error()
                .Code(),
            ErrorCode::kNotSupported);
  EXPECT_EQ(DecodeConfig(R"({"version":2,"id":"x","chunker_polynomial":"zz"})").error().Code(),
            ErrorCode::kCorruption);
  EXPECT_EQ(DecodeConfig(R"({"version":2,"id":"x","chunker_polynomial":"4"})").error().Code(),
            ErrorCode::kCorruption)
      << "reducible polynomial";
  EXPECT_EQ(DecodeConfig("[1]").error().Code(), ErrorCode::kCorruption);
  EXPECT_EQ(
      DecodeConfig(
          R"({"version":2,"id":"x","chunker_polynomial":"3ec579db68be09","halley_chunker":{"type":"gear-v9","min_size":1,"avg_size":2,"max_size":3,"key":"00"}})")
          .error()
          .Code(),
      ErrorCode::kNotSupported);
  EXPECT_FALSE(DecodeConfig(
      R"({"version":2,"id":"x","chunker_polynomial":"3ec579db68be09","halley_chunker":{"type":"gear-v1","min_size":9,"avg_size":2,"max_size":3,"key":"0000000000000000000000000000000000000000000000000000000000000000"}})"));
}

}  // namespace
}  // namespace halley::repo
