// SPDX-License-Identifier: Apache-2.0
#include "chunker/chunker.h"

#include <gtest/gtest.h>

#include <numeric>

namespace halley::chunker {
namespace {

// Cuts after every `period` bytes; counts Reset() calls.
class FixedChunker final : public Chunker {
 public:
  explicit FixedChunker(size_t period) : period_(period) {}
  void Reset() override {
    seen_ = 0;
    ++resets;
  }
  std::optional<size_t> FindBoundary(ByteView data) override {
    if (seen_ + data.size() < period_) {
      seen_ += data.size();
      return std::nullopt;
    }
    const size_t n = period_ - seen_;
    seen_ = 0;
    return n;
  }
  size_t MinSize() const override { return period_; }
  size_t MaxSize() const override { return period_; }

  int resets = 0;

 private:
  size_t period_;
  size_t seen_ = 0;
};

TEST(SplitAllTest, EmptyInputHasNoChunks) {
  FixedChunker chunker(10);
  EXPECT_TRUE(SplitAll(chunker, {}).empty());
}

TEST(SplitAllTest, EmitsTheRemainderAsLastChunk) {
  FixedChunker chunker(10);
  const Bytes data(35, 7);
  EXPECT_EQ(SplitAll(chunker, data), (std::vector<size_t>{10, 10, 10, 5}));
  const Bytes exact(20, 7);
  EXPECT_EQ(SplitAll(chunker, exact), (std::vector<size_t>{10, 10}));
}

TEST(SplitAllTest, ResetsBeforeAndAfter) {
  FixedChunker chunker(10);
  // A stale partial chunk from an earlier stream must not shift the cuts.
  EXPECT_FALSE(chunker.FindBoundary(Bytes(4, 1)).has_value());
  const Bytes data(25, 7);
  const std::vector<size_t> lengths = SplitAll(chunker, data);
  EXPECT_EQ(lengths, (std::vector<size_t>{10, 10, 5}));
  EXPECT_EQ(std::accumulate(lengths.begin(), lengths.end(), size_t{0}), data.size());
  EXPECT_EQ(chunker.resets, 2);
}

}  // namespace
}  // namespace halley::chunker
