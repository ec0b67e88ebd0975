// SPDX-License-Identifier: Apache-2.0
#include "chunker/rabin.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "chunker/test_input.h"

namespace halley::chunker {
namespace {

using testing::GoldenInput;
using testing::kMiB;
using testing::SplitMix64;

constexpr size_t kMin = RabinChunker::kMinSize;
constexpr size_t kMax = RabinChunker::kMaxSize;

std::unique_ptr<RabinChunker> MustCreate(uint64_t pol) {
  auto chunker = RabinChunker::Create(pol);
  EXPECT_TRUE(chunker) << chunker.error().Message();
  return std::move(*chunker);
}

// Feeds `data` in pieces of pseudo-random sizes (0 bytes to 1.5 MiB, many tiny ones) and
// collects the chunk lengths, as a file reader with odd buffer sizes would.
std::vector<size_t> SplitPiecewise(Chunker& chunker, ByteView data, uint64_t seed) {
  SplitMix64 rng(seed);
  chunker.Reset();
  std::vector<size_t> lengths;
  size_t current = 0;
  while (!data.empty()) {
    const uint64_t r = rng.Next();
    size_t piece = (r & 3) == 0 ? (r >> 8) % 70 : (r >> 8) % (3 * kMiB / 2);
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

// Golden vectors from restic 0.14.0 itself (Debian 12), over testing::GoldenInput():
//   # golden.bin = the bytes of GoldenInput() (a few-line program fwrite()s them), sha256
//   # 989435ffbd42c5ec1c576b96efd11384ca4ee087f191acb9bfb53307ea9b8d46
//   export RESTIC_PASSWORD=x
//   restic -r R init && restic -r R cat config          # -> "chunker_polynomial"
//   restic -r R backup golden.bin
//   restic -r R snapshots --json latest                 # -> "tree"
//   restic -r R cat blob <tree>                         # -> node "content": blob IDs in order
//   restic -r R list index; restic -r R cat index <id>  # -> each blob's "uncompressed_length"
// and the lengths of the content blobs, in content order, are the chunk lengths below (they sum
// to the file size). Two repositories, so two random polynomials.
TEST(RabinChunkerTest, MatchesResticGolden) {
  const Bytes input = GoldenInput();
  ASSERT_EQ(input.size(), testing::kGoldenInputSize);
  {
    auto chunker = MustCreate(0x3a0a7835c416d5);
    EXPECT_EQ(SplitAll(*chunker, input),
              (std::vector<size_t>{783795, 1699513, 2147588, 536119,  2288944, 2587286, 524288,
                                   524288, 524288,  524288,  524288,  524288,  1889592, 2147588,
                                   536119, 2176237, 803724,  1971326, 1785239, 667803}));
  }
  {
    auto chunker = MustCreate(0x3b2466fda19f09);
    EXPECT_EQ(SplitAll(*chunker, input),
              (std::vector<size_t>{1752255, 1526089, 1719095, 1947057, 2589897, 951431, 524288,
                                   524288, 524288, 524288, 524288, 524288, 715960, 1526089, 1719095,
                                   2749775, 1968829, 1072887, 1782414}));
  }
}

// Data whose fingerprint never has 20 zero low bits is cut at MaxSize. Checked with restic 0.14:
// the first 1000 bytes of GoldenInput() repeated to 20 MiB + 5 bytes, backed up into the
// 3a0a7835c416d5 repository above, gave blobs of 8388608, 8388608 and 4194309 bytes.
TEST(RabinChunkerTest, PeriodicDataIsCutAtMaxSizeLikeRestic) {
  const Bytes golden = GoldenInput();
  Bytes periodic(20 * kMiB + 5);
  for (size_t i = 0; i < periodic.size(); ++i) periodic[i] = golden[i % 1000];
  auto chunker = MustCreate(0x3a0a7835c416d5);
  EXPECT_EQ(SplitAll(*chunker, periodic), (std::vector<size_t>{kMax, kMax, 4194309}));
}

// After 64 zero bytes have been hashed, the initial 1 has left the window and the fingerprint
// of 64 zeros is 0, which matches the mask: zeros are cut at exactly MinSize (restic #3903).
TEST(RabinChunkerTest, ZerosAreCutAtMinSize) {
  const Bytes zeros(3 * kMiB + 1000, 0);
  auto chunker = MustCreate(0x3a0a7835c416d5);
  EXPECT_EQ(SplitAll(*chunker, zeros),
            (std::vector<size_t>{kMin, kMin, kMin, kMin, kMin, kMin, 1000}));
}

TEST(RabinChunkerTest, PiecewiseFeedingGivesTheSameCuts) {
  const Bytes input = GoldenInput();
  auto chunker = MustCreate(0x3a0a7835c416d5);
  const std::vector<size_t> whole = SplitAll(*chunker, input);
  for (uint64_t seed : {1u, 2u, 3u}) {
    EXPECT_EQ(SplitPiecewise(*chunker, input, seed), whole) << "seed " << seed;
  }
}

TEST(RabinChunkerTest, InputBelowMinSizeIsOneChunk) {
  auto chunker = MustCreate(0x3a0a7835c416d5);
  const Bytes input = testing::RandomBytes(5, kMin - 1);
  EXPECT_EQ(SplitAll(*chunker, input), std::vector<size_t>{kMin - 1});
  EXPECT_EQ(SplitAll(*chunker, ByteView(input).first(1)), std::vector<size_t>{1});
}

TEST(RabinChunkerTest, ChunksStayWithinBounds) {
  auto chunker = MustCreate(0x3b2466fda19f09);
  const Bytes input = testing::RandomBytes(6, 40 * kMiB);
  const std::vector<size_t> lengths = SplitAll(*chunker, input);
  ASSERT_GT(lengths.size(), 10u);
  for (size_t i = 0; i + 1 < lengths.size(); ++i) {
    EXPECT_GE(lengths[i], kMin);
    EXPECT_LE(lengths[i], kMax);
  }
  EXPECT_EQ(std::accumulate(lengths.begin(), lengths.end(), size_t{0}), input.size());
}

TEST(RabinChunkerTest, ResetForgetsThePartialChunk) {
  auto chunker = MustCreate(0x3a0a7835c416d5);
  const Bytes input = GoldenInput();
  const ByteView head = ByteView(input).first(4 * kMiB);
  const std::vector<size_t> fresh = SplitAll(*chunker, head);
  // Half a chunk of another file, then Reset(): the next file must chunk as if fresh.
  EXPECT_FALSE(chunker->FindBoundary(ByteView(input).subspan(10 * kMiB, kMin - 1000)).has_value());
  chunker->Reset();
  std::vector<size_t> again;
  ByteView rest = head;
  while (auto cut = chunker->FindBoundary(rest)) {
    again.push_back(*cut);
    rest = rest.subspan(*cut);
  }
  if (!rest.empty()) again.push_back(rest.size());
  EXPECT_EQ(again, fresh);
}

TEST(RabinChunkerTest, CreateRejectsBadPolynomials) {
  for (uint64_t pol : {uint64_t{0}, uint64_t{1}, uint64_t{0x7},  // degree < 8
                       uint64_t{0x3ec579db68be09} << 1,          // degree 54
                       uint64_t{0x38f1e565e288df},               // reducible
                       (uint64_t{1} << 53) | 1}) {               // x^53 + 1 = (x + 1)(...)
    auto chunker = RabinChunker::Create(pol);
    ASSERT_FALSE(chunker) << std::hex << pol;
    EXPECT_EQ(chunker.error().Code(), ErrorCode::kInvalidArgument);
  }
  auto ok = RabinChunker::Create(0x3ec579db68be09);
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->Polynomial(), 0x3ec579db68be09u);
  EXPECT_EQ((*ok)->MinSize(), 524288u);
  EXPECT_EQ((*ok)->MaxSize(), 8388608u);
  EXPECT_TRUE(RabinChunker::Create(0x11b));  // the AES polynomial, degree 8
}

TEST(PolynomialTest, IrreducibleKnownAnswers) {
  EXPECT_FALSE(IsIrreducible(0));
  EXPECT_FALSE(IsIrreducible(1));
  EXPECT_TRUE(IsIrreducible(0x2));    // x
  EXPECT_TRUE(IsIrreducible(0x3));    // x + 1
  EXPECT_TRUE(IsIrreducible(0x7));    // x^2 + x + 1
  EXPECT_FALSE(IsIrreducible(0x5));   // x^2 + 1 = (x + 1)^2
  EXPECT_FALSE(IsIrreducible(0x6));   // x^2 + x = x (x + 1)
  EXPECT_TRUE(IsIrreducible(0x13));   // x^4 + x + 1
  EXPECT_FALSE(IsIrreducible(0x15));  // x^4 + x^2 + 1 = (x^2 + x + 1)^2
  EXPECT_TRUE(IsIrreducible(0x11b));  // AES
  EXPECT_TRUE(IsIrreducible(0x11d));  // Reed-Solomon's x^8 + x^4 + x^3 + x^2 + 1
  // The polynomials of restic.md and of the golden repositories.
  EXPECT_TRUE(IsIrreducible(0x3ec579db68be09));
  EXPECT_TRUE(IsIrreducible(0x3a0a7835c416d5));
  EXPECT_TRUE(IsIrreducible(0x3b2466fda19f09));
  // restic/chunker polynomials_test.go polIrredTests.
  const struct {
    uint64_t pol;
    bool irreducible;
  } kCases[] = {
      {0x38f1e565e288df, false}, {0x3DA3358B4DC173, true},  {0x30a8295b9d5c91, false},
      {0x255f4350b962cb, false}, {0x267f776110a235, false}, {0x2f4dae10d41227, false},
      {0x2482734cacca49, true},  {0x312daf4b284899, false}, {0x29dfb6553d01d1, false},
      {0x3548245eb26257, false}, {0x3199e7ef4211b3, false}, {0x362f39017dae8b, false},
      {0x200d57aa6fdacb, false}, {0x35e0a4efa1d275, false}, {0x2ced55b026577f, false},
      {0x260b012010893d, false}, {0x2df29cbcd59e9d, false}, {0x3f2ac7488bd429, false},
      {0x3e5cb1711669fb, false}, {0x226d8de57a9959, false}, {0x3c8de80aaf5835, false},
      {0x2026a59efb219b, false}, {0x39dfa4d13fb231, false}, {0x3143d0464b3299, false},
  };
  for (const auto& c : kCases) EXPECT_EQ(IsIrreducible(c.pol), c.irreducible) << std::hex << c.pol;
}

// Carry-less product, for building reducible polynomials.
uint64_t ClMul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  for (int i = 0; i < 64; ++i) {
    if ((b >> i) & 1) r ^= a << i;
  }
  return r;
}

TEST(PolynomialTest, ProductsAreReducible) {
  EXPECT_FALSE(IsIrreducible(ClMul(0x11b, 0x11d)));
  EXPECT_FALSE(IsIrreducible(ClMul(0x3, 0x3ec579db68be09 >> 1 | 1)));
  // A degree-53 product of two irreducible factors of degrees 26 and 27: the hardest case for
  // Ben-Or, which needs i up to 26 to see the factor.
  uint64_t f26 = 0;
  uint64_t f27 = 0;
  SplitMix64 rng(11);
  while (!IsIrreducible(f26)) f26 = (rng.Next() & ((uint64_t{1} << 26) - 1)) | (uint64_t{1} << 26);
  while (!IsIrreducible(f27)) f27 = (rng.Next() & ((uint64_t{1} << 27) - 1)) | (uint64_t{1} << 27);
  EXPECT_FALSE(IsIrreducible(ClMul(f26, f27)));
}

// The number of irreducible polynomials of degree n over GF(2) (OEIS A001037) checks the test
// against every polynomial of degree 1 to 12, not just a few samples.
TEST(PolynomialTest, CountsMatchGaussFormula) {
  const int kExpected[] = {0, 2, 1, 2, 3, 6, 9, 18, 30, 56, 99, 186, 335};
  for (int n = 1; n <= 12; ++n) {
    int count = 0;
    for (uint64_t pol = uint64_t{1} << n; pol < uint64_t{2} << n; ++pol)
      count += IsIrreducible(pol);
    EXPECT_EQ(count, kExpected[n]) << "degree " << n;
  }
}

TEST(PolynomialTest, RandomIrreduciblePolynomialFollowsRestic) {
  // Candidates are masked to bits 0-53 with bits 53 and 0 forced. The first candidate,
  // x^53 + 1, is reducible; the second becomes 0x3ec579db68be09.
  std::vector<uint64_t> values = {0, 0xabc0000000000000 | 0x3ec579db68be08};
  size_t next = 0;
  EXPECT_EQ(RandomIrreduciblePolynomial([&] { return values.at(next++); }), 0x3ec579db68be09u);
  EXPECT_EQ(next, 2u);

  SplitMix64 rng(42);
  for (int i = 0; i < 20; ++i) {
    const uint64_t pol = RandomIrreduciblePolynomial([&] { return rng.Next(); });
    EXPECT_EQ(pol >> 53, 1u);
    EXPECT_EQ(pol & 1, 1u);
    EXPECT_TRUE(IsIrreducible(pol));
    EXPECT_TRUE(RabinChunker::Create(pol));
  }
}

TEST(PolynomialTest, HexRoundTrip) {
  EXPECT_EQ(PolynomialToHex(0x3ec579db68be09), "3ec579db68be09");
  EXPECT_EQ(PolynomialToHex(0), "0");
  EXPECT_EQ(PolynomialToHex(0xf), "f");
  EXPECT_EQ(PolynomialToHex(~uint64_t{0}), "ffffffffffffffff");
  EXPECT_EQ(*PolynomialFromHex("3ec579db68be09"), 0x3ec579db68be09u);
  EXPECT_EQ(*PolynomialFromHex("3EC579DB68BE09"), 0x3ec579db68be09u);
  EXPECT_EQ(*PolynomialFromHex("0003"), 3u);
  EXPECT_EQ(*PolynomialFromHex("ffffffffffffffff"), ~uint64_t{0});
  SplitMix64 rng(3);
  for (int i = 0; i < 100; ++i) {
    const uint64_t v = rng.Next() >> (i % 64);
    EXPECT_EQ(*PolynomialFromHex(PolynomialToHex(v)), v);
  }
}

TEST(PolynomialTest, HexRejectsMalformed) {
  for (const char* bad : {"", "0x3ec579db68be09", "-1", "+1", " 1", "1 ", "3ec579db68be0g", "1_000",
                          "10000000000000000"}) {
    auto pol = PolynomialFromHex(bad);
    ASSERT_FALSE(pol) << bad;
    EXPECT_EQ(pol.error().Code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace halley::chunker
