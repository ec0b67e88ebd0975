// SPDX-License-Identifier: Apache-2.0
//
// GearChunker is Halley's content-defined chunker for new vaults: a FastCDC-style gear hash
// (Xia et al., USENIX ATC 2016), several times faster than restic's Rabin chunker. For each byte
// b, h = (h << 1) + table[b] (mod 2^64), so h depends only on the last 64 bytes; a chunk ends
// after a byte where the top bits of h selected by a mask are all zero. Normalized chunking uses
// a stricter mask (two more bits) while the chunk is shorter than avg_size and a looser one (two
// fewer) after, which narrows the size distribution. docs/chunker.md specifies it bit for bit.
//
// The 256-entry table is secret: the caller derives it from the vault key, so that chunk
// boundaries (and hence blob sizes, which the storage can see) do not reveal the content.
// GearChunker keeps a copy and wipes it on destruction.
//
// A GearChunker is not thread-safe (one per stream); GearParams and its validation are.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/error.h"
#include "chunker/chunker.h"

namespace halley::chunker {

// Chunk size parameters, in bytes; the defaults are Halley's ("gear-v1" in the vault config).
struct GearParams {
  size_t min_size = 512 * 1024;
  size_t avg_size = 1024 * 1024;  // where the mask loosens; the mean chunk is about 1.2x this
  size_t max_size = 8 * 1024 * 1024;
};

using GearTable = std::array<uint64_t, 256>;

// Returns OK if `params` can be used, else kInvalidArgument: it needs 64 <= min_size < avg_size <
// max_size <= 1 GiB, and avg_size a power of two from 2^8 to 2^30 (its log2 sets the mask
// widths). The 1 GiB cap bounds the memory a hostile vault config can make a client buffer.
Result<void> ValidateGearParams(const GearParams& params);

class GearChunker final : public Chunker {
 public:
  // Returns a chunker keyed by `table` with `params`, or kInvalidArgument (see
  // ValidateGearParams).
  static Result<std::unique_ptr<GearChunker>> Create(const GearTable& table,
                                                     const GearParams& params = {});
  ~GearChunker() override;
  GearChunker(const GearChunker&) = delete;
  GearChunker& operator=(const GearChunker&) = delete;

  const GearParams& Params() const { return params_; }
  // The masks tested before and after avg_size: the top log2(avg_size)+2 resp. -2 bits of h.
  uint64_t StrictMask() const { return mask_strict_; }
  uint64_t LooseMask() const { return mask_loose_; }

  // Chunker
  void Reset() override;
  std::optional<size_t> FindBoundary(ByteView data) override;
  size_t MinSize() const override { return params_.min_size; }
  size_t MaxSize() const override { return params_.max_size; }

 private:
  GearChunker(const GearTable& table, const GearParams& params);

  GearTable table_;
  GearParams params_;
  uint64_t mask_strict_;
  uint64_t mask_loose_;

  uint64_t hash_ = 0;
  size_t count_ = 0;  // bytes of the current chunk seen so far, skipped ones included
};

}  // namespace halley::chunker
