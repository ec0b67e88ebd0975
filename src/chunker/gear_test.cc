// SPDX-License-Identifier: Apache-2.0
#include "chunker/gear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <iterator>
#include <numeric>
#include <set>
#include <string_view>
#include <vector>

#include "chunker/test_input.h"

namespace halley::chunker {
namespace {

using testing::GoldenInput;
using testing::kMiB;
using testing::SplitMix64;

GearTable MakeTable(uint64_t seed) {
  SplitMix64 rng(seed);
  GearTable table;
  for (uint64_t& entry : table) entry = rng.Next();
  return table;
}

std::unique_ptr<GearChunker> MustCreate(const GearTable& table, const GearParams& params = {}) {
  auto chunker = GearChunker::Create(table, params);
  EXPECT_TRUE(chunker) << chunker.error().Message();
  return std::move(*chunker);
}

// docs/chunker.md read literally: hash every byte from the start of the chunk, one at a time,
// no skipping, no phases. GearChunker must cut exactly where this does.
std::vector<size_t> ReferenceCuts(const GearTable& table, const GearParams& params, ByteView data) {
  const int bits = std::countr_zero(params.avg_size);
  const uint64_t strict = ~uint64_t{0} << (64 - (bits + 2));
  const uint64_t loose = ~uint64_t{0} << (64 - (bits - 2));
  std::vector<size_t> lengths;
  size_t start = 0;
  while (start < data.size()) {
    uint64_t h = 0;
    size_t length = data.size() - start;  // the last chunk, unless cut earlier
    for (size_t n = 1; start + n <= data.size(); ++n) {
      h = (h << 1) + table[data[start + n - 1]];
      const uint64_t mask = n < params.avg_size ? strict : loose;
      if (n >= params.min_size && (n == params.max_size || (h & mask) == 0)) {
        length = n;
        break;
      }
    }
    lengths.push_back(length);
    start += length;
  }
  return lengths;
}

std::vector<size_t> SplitPiecewise(Chunker& chunker, ByteView data, uint64_t seed,
                                   size_t max_piece) {
  SplitMix64 rng(seed);
  chunker.Reset();
  std::vector<size_t> lengths;
  size_t current = 0;
  while (!data.empty()) {
    const uint64_t r = rng.Next();
    size_t piece = (r & 3) == 0 ? (r >> 8) % 70 : (r >> 8) % max_piece;
    piece = std::min(piece, data.size());
    ByteView rest = data.first(piece);
    data = data.subspan(piece);
    while (auto cut = chunker.FindBoundary(rest)) {
      EXPECT_GE(*cut, 1u);
      EXPECT_LE(*cut, rest.size());
      lengths.push_back(current + *cut);
      current = 0;
      rest = rest.subspan(*cut);
    }
    current += rest.size();
  }
  if (current > 0) lengths.push_back(current);
  return lengths;
}

constexpr uint64_t kGoldenTableSeed = 7;

// Golden cut lists: the table is MakeTable(kGoldenTableSeed), the input testing::GoldenInput()
// (random, zero, repeated and periodic regions). Any change to these numbers is a format
// change: it breaks deduplication against existing gear-v1 vaults.
TEST(GearChunkerTest, GoldenCutsDefaultParams) {
  const Bytes input = GoldenInput();
  auto chunker = MustCreate(MakeTable(kGoldenTableSeed));
  EXPECT_EQ(
      SplitAll(*chunker, input),
      (std::vector<size_t>{1198461, 1542679, 847349, 1555647, 1828842, 1518416, 1441853, 3860471,
                           1542679, 847349, 1555647, 2233844, 1211574, 1602284, 1066905, 1312601}));
}

TEST(GearChunkerTest, GoldenCutsSmallParams) {
  const Bytes input = GoldenInput();
  auto chunker = MustCreate(MakeTable(kGoldenTableSeed),
                            {.min_size = 1024, .avg_size = 4096, .max_size = 16384});
  EXPECT_EQ(SplitAll(*chunker, ByteView(input).first(64 * 1024)),
            (std::vector<size_t>{5448, 4476, 4836, 1227, 5019, 4154, 2937, 5278, 6442, 4377, 4271,
                                 4889, 5339, 6195, 648}));
}

TEST(GearChunkerTest, MatchesReferenceImplementation) {
  // Proves the skip rule (the first min_size - 64 bytes are not hashed) and the phase split:
  // the reference hashes every byte from the chunk start.
  const Bytes input = GoldenInput();
  const GearParams kParams[] = {
      {},
      {.min_size = 64, .avg_size = 256, .max_size = 1000},
      {.min_size = 100, .avg_size = 512, .max_size = 513},
      {.min_size = 1024, .avg_size = 4096, .max_size = 16384},
      {.min_size = 8000, .avg_size = 8192, .max_size = 100000},
  };
  for (const GearParams& params : kParams) {
    const GearTable table = MakeTable(params.min_size);
    auto chunker = MustCreate(table, params);
    const ByteView data = params.min_size >= 512 * 1024
                              ? ByteView(input)
                              : ByteView(input).subspan(10 * kMiB - 2 * kMiB, 6 * kMiB);
    EXPECT_EQ(SplitAll(*chunker, data), ReferenceCuts(table, params, data))
        << "min " << params.min_size << " avg " << params.avg_size;
  }
}

TEST(GearChunkerTest, PiecewiseFeedingGivesTheSameCuts) {
  const Bytes input = GoldenInput();
  {
    auto chunker = MustCreate(MakeTable(kGoldenTableSeed));
    const std::vector<size_t> whole = SplitAll(*chunker, input);
    for (uint64_t seed : {1u, 2u, 3u}) {
      EXPECT_EQ(SplitPiecewise(*chunker, input, seed, 3 * kMiB / 2), whole) << "seed " << seed;
    }
  }
  {
    auto chunker = MustCreate(MakeTable(2), {.min_size = 64, .avg_size = 256, .max_size = 1024});
    const ByteView data = ByteView(input).subspan(9 * kMiB, 2 * kMiB);
    const std::vector<size_t> whole = SplitAll(*chunker, data);
    EXPECT_GT(whole.size(), 1000u);
    EXPECT_EQ(SplitPiecewise(*chunker, data, 4, 700), whole);
  }
}

TEST(GearChunkerTest, InsertionChangesFewChunks) {
  const Bytes original = testing::RandomBytes(8, 64 * kMiB);
  Bytes modified = original;
  modified.insert(modified.begin() + 1000, uint8_t{0x5a});
  auto chunker = MustCreate(MakeTable(kGoldenTableSeed));
  const auto contents = [&](ByteView data) {
    std::vector<std::string_view> chunks;
    for (size_t length : SplitAll(*chunker, data)) {
      chunks.push_back(AsString(data.first(length)));
      data = data.subspan(length);
    }
    return chunks;
  };
  const std::vector<std::string_view> before = contents(original);
  const std::vector<std::string_view> after = contents(modified);
  const std::set<std::string_view> known(before.begin(), before.end());
  const auto unchanged = std::count_if(after.begin(), after.end(),
                                       [&](std::string_view c) { return known.contains(c); });
  EXPECT_GE(unchanged * 10, static_cast<std::ptrdiff_t>(after.size()) * 9)
      << unchanged << " of " << after.size() << " chunks unchanged";
  // Mean chunk size on random data: about 1.17 MiB for avg_size 1 MiB (see docs/chunker.md).
  const double mean = static_cast<double>(original.size()) / static_cast<double>(before.size());
  EXPECT_GT(mean, 1.0 * kMiB);
  EXPECT_LT(mean, 1.4 * kMiB);
}

TEST(GearChunkerTest, ChunksStayWithinBounds) {
  const GearParams params{.min_size = 256, .avg_size = 1024, .max_size = 4096};
  const GearTable table = MakeTable(3);
  // -table[0] is h over a long zero run; with loose-mask bits set there, zeros run to max_size.
  ASSERT_NE((0 - table[0]) & ~uint64_t{0} << 56, 0u);
  Bytes input = testing::RandomBytes(9, 4 * kMiB);
  input.insert(input.begin() + 1 * kMiB, 100000, uint8_t{0});
  auto chunker = MustCreate(table, params);
  const std::vector<size_t> lengths = SplitAll(*chunker, input);
  ASSERT_GT(lengths.size(), 1000u);
  size_t at_max = 0;
  for (size_t i = 0; i + 1 < lengths.size(); ++i) {
    EXPECT_GE(lengths[i], params.min_size);
    EXPECT_LE(lengths[i], params.max_size);
    at_max += lengths[i] == params.max_size;
  }
  EXPECT_GE(at_max, 100000 / 4096 - 1);
  EXPECT_EQ(std::accumulate(lengths.begin(), lengths.end(), size_t{0}), input.size());
}

// Over a zero run h settles at -table[0] once 64 zeros are hashed (h_n = table[0] * (2^n - 1)),
// so zeros show the normalization rule directly: cut at min_size, avg_size or max_size.
TEST(GearChunkerTest, ZerosFollowTheNormalizationRule) {
  const GearParams params{};
  const Bytes zeros(20 * kMiB, 0);
  const auto cuts_with_zero_hash = [&](uint64_t settled_hash) {
    GearTable table = MakeTable(kGoldenTableSeed);
    table[0] = 0 - settled_hash;
    auto chunker = MustCreate(table, params);
    return SplitAll(*chunker, zeros);
  };
  const auto repeat = [&](size_t length) {
    std::vector<size_t> lengths(zeros.size() / length, length);
    if (zeros.size() % length != 0) lengths.push_back(zeros.size() % length);
    return lengths;
  };
  EXPECT_EQ(cuts_with_zero_hash(0), repeat(params.min_size));
  // Top 18 bits zero, bit 21 from the top set: fails the strict mask, passes the loose one.
  EXPECT_EQ(cuts_with_zero_hash(uint64_t{1} << (63 - 20)), repeat(params.avg_size));
  EXPECT_EQ(cuts_with_zero_hash(uint64_t{1} << 63), repeat(params.max_size));
}

TEST(GearChunkerTest, InputBelowMinSizeIsOneChunk) {
  auto chunker = MustCreate(MakeTable(kGoldenTableSeed));
  const Bytes input = testing::RandomBytes(5, 512 * 1024 - 1);
  EXPECT_EQ(SplitAll(*chunker, input), std::vector<size_t>{input.size()});
  EXPECT_EQ(SplitAll(*chunker, ByteView(input).first(1)), std::vector<size_t>{1});
}

TEST(GearChunkerTest, DifferentTablesGiveDifferentCuts) {
  const Bytes input = testing::RandomBytes(10, 32 * kMiB);
  const auto cut_offsets = [&](uint64_t seed) {
    auto chunker = MustCreate(MakeTable(seed));
    std::set<size_t> offsets;
    size_t offset = 0;
    for (size_t length : SplitAll(*chunker, input)) offsets.insert(offset += length);
    offsets.erase(input.size());
    return offsets;
  };
  const std::set<size_t> a = cut_offsets(100);
  const std::set<size_t> b = cut_offsets(101);
  ASSERT_GT(a.size(), 15u);
  ASSERT_GT(b.size(), 15u);
  std::vector<size_t> common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  EXPECT_LE(common.size(), 2u);
}

TEST(GearChunkerTest, MasksComeFromAvgSize) {
  auto chunker = MustCreate(MakeTable(1));
  EXPECT_EQ(chunker->StrictMask(), 0xfffffc0000000000u);  // top 22 bits
  EXPECT_EQ(chunker->LooseMask(), 0xffffc00000000000u);   // top 18 bits
  EXPECT_EQ(chunker->MinSize(), 524288u);
  EXPECT_EQ(chunker->MaxSize(), 8388608u);
  auto small = MustCreate(MakeTable(1), {.min_size = 64, .avg_size = 256, .max_size = 1024});
  EXPECT_EQ(small->StrictMask(), 0xffc0000000000000u);  // top 10 bits
  EXPECT_EQ(small->LooseMask(), 0xfc00000000000000u);   // top 6 bits
}

TEST(GearChunkerTest, CreateRejectsBadParams) {
  const GearParams kBad[] = {
      {.min_size = 63, .avg_size = 1024, .max_size = 4096},    // min below the window
      {.min_size = 0, .avg_size = 1024, .max_size = 4096},     //
      {.min_size = 1024, .avg_size = 1024, .max_size = 4096},  // min == avg
      {.min_size = 2048, .avg_size = 1024, .max_size = 4096},  // min > avg
      {.min_size = 256, .avg_size = 4096, .max_size = 4096},   // avg == max
      {.min_size = 256, .avg_size = 4096, .max_size = 1000},   // max < avg
      {.min_size = 256, .avg_size = 3000, .max_size = 8192},   // avg not a power of two
      {.min_size = 64, .avg_size = 128, .max_size = 8192},     // avg below 2^8
      {.min_size = 64, .avg_size = size_t{1} << 31, .max_size = size_t{1} << 32},  // avg too big
      {.min_size = 64, .avg_size = 1024, .max_size = (size_t{1} << 30) + 1},       // max too big
  };
  for (const GearParams& params : kBad) {
    auto chunker = GearChunker::Create(MakeTable(1), params);
    ASSERT_FALSE(chunker) << params.min_size << " " << params.avg_size << " " << params.max_size;
    EXPECT_EQ(chunker.error().Code(), ErrorCode::kInvalidArgument);
    EXPECT_FALSE(ValidateGearParams(params));
  }
  EXPECT_TRUE(ValidateGearParams({}));
  EXPECT_TRUE(ValidateGearParams({.min_size = 64, .avg_size = 256, .max_size = 257}));
  EXPECT_TRUE(ValidateGearParams(
      {.min_size = 64, .avg_size = size_t{1} << 29, .max_size = size_t{1} << 30}));
}

}  // namespace
}  // namespace halley::chunker
