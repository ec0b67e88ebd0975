// SPDX-License-Identifier: Apache-2.0
#include "chunker/gear.h"

#include <algorithm>
#include <bit>
#include <string>

namespace halley::chunker {
namespace {

constexpr size_t kHashWindow = 64;  // h depends on the last 64 bytes only
constexpr size_t kNormalizationBits = 2;
constexpr size_t kMaxMaxSize = size_t{1} << 30;

// The top `bits` bits of a 64-bit word. The top bits of h mix the last 64 bytes; low bits would
// see only the last few (bit i of h depends on the last i + 1 bytes).
uint64_t TopBits(size_t bits) { return ~uint64_t{0} << (64 - bits); }

// Hashes p[0, len) into h and returns the index of the first byte after which (h & mask) == 0,
// or len if there is none (h then covers all of p[0, len)). On a hit h covers p[0, index].
//
// This loop is the chunker's whole cost: per byte a byte load, a table load, one lea for the
// shift-add and a test-and-branch that is almost never taken, about one byte per cycle. (Carrying
// the hash two bytes per step, h2 = 4h + 2 t0 + t1, measured no faster: the loop is bound by
// instruction throughput, not by the shift-add chain.)
inline size_t ScanForCut(const uint64_t* table, const uint8_t* p, size_t len, uint64_t& h,
                         uint64_t mask) {
  uint64_t x = h;
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    x = (x << 1) + table[p[i]];
    if ((x & mask) == 0) {
      h = x;
      return i;
    }
    x = (x << 1) + table[p[i + 1]];
    if ((x & mask) == 0) {
      h = x;
      return i + 1;
    }
    x = (x << 1) + table[p[i + 2]];
    if ((x & mask) == 0) {
      h = x;
      return i + 2;
    }
    x = (x << 1) + table[p[i + 3]];
    if ((x & mask) == 0) {
      h = x;
      return i + 3;
    }
  }
  for (; i < len; ++i) {
    x = (x << 1) + table[p[i]];
    if ((x & mask) == 0) {
      h = x;
      return i;
    }
  }
  h = x;
  return len;
}

}  // namespace

Result<void> ValidateGearParams(const GearParams& params) {
  const auto fail = [&](const char* why) {
    return Fail(ErrorCode::kInvalidArgument, "gear chunker sizes min " +
                                                 std::to_string(params.min_size) + ", avg " +
                                                 std::to_string(params.avg_size) + ", max " +
                                                 std::to_string(params.max_size) + ": " + why);
  };
  if (params.min_size < kHashWindow) return fail("min_size must be at least 64");
  if (!(params.min_size < params.avg_size && params.avg_size < params.max_size)) {
    return fail("want min_size < avg_size < max_size");
  }
  if (!std::has_single_bit(params.avg_size) || params.avg_size < (size_t{1} << 8) ||
      params.avg_size > (size_t{1} << 30)) {
    return fail("avg_size must be a power of two from 2^8 to 2^30");
  }
  if (params.max_size > kMaxMaxSize) return fail("max_size must be at most 1 GiB");
  return {};
}

Result<std::unique_ptr<GearChunker>> GearChunker::Create(const GearTable& table,
                                                         const GearParams& params) {
  HALLEY_RETURN_IF_ERROR(ValidateGearParams(params));
  return std::unique_ptr<GearChunker>(new GearChunker(table, params));
}

GearChunker::GearChunker(const GearTable& table, const GearParams& params)
    : table_(table), params_(params) {
  const auto avg_bits = static_cast<size_t>(std::countr_zero(params.avg_size));
  mask_strict_ = TopBits(avg_bits + kNormalizationBits);
  mask_loose_ = TopBits(avg_bits - kNormalizationBits);
}

GearChunker::~GearChunker() { SecureZero(table_.data(), sizeof(table_)); }

void GearChunker::Reset() {
  hash_ = 0;
  count_ = 0;
}

std::optional<size_t> GearChunker::FindBoundary(ByteView data) {
  const uint8_t* const begin = data.data();
  const uint8_t* p = begin;
  const uint8_t* const end = begin + data.size();
  uint64_t h = hash_;
  size_t count = count_;
  const uint64_t* const table = table_.data();
  const auto remaining = [&] { return static_cast<size_t>(end - p); };
  const auto cut = [&] {
    Reset();
    return static_cast<size_t>(p - begin);
  };

  // Skip: the first min_size - 64 bytes of a chunk are not hashed. A cut needs at least
  // min_size bytes, and by then the 64 hashed bytes have shifted every earlier contribution out
  // of h, so starting from h = 0 here gives the same h as hashing from the chunk start.
  const size_t skip_end = params_.min_size - kHashWindow;
  if (count < skip_end) {
    const size_t n = std::min(remaining(), skip_end - count);
    p += n;
    count += n;
  }
  // Warm-up: bytes that leave the chunk shorter than min_size are hashed without a test.
  if (count < params_.min_size - 1) {
    const size_t n = std::min(remaining(), params_.min_size - 1 - count);
    for (const uint8_t* stop = p + n; p < stop; ++p) h = (h << 1) + table[*p];
    count += n;
  }
  // Strict mask while the chunk would be shorter than avg_size, loose mask up to max_size - 1.
  const struct {
    size_t below;  // this phase covers chunk lengths count + 1 < below
    uint64_t mask;
  } phases[] = {{params_.avg_size, mask_strict_}, {params_.max_size, mask_loose_}};
  for (const auto& phase : phases) {
    if (count + 1 < phase.below) {
      const size_t n = std::min(remaining(), phase.below - 1 - count);
      const size_t i = ScanForCut(table, p, n, h, phase.mask);
      if (i < n) {
        p += i + 1;
        return cut();
      }
      p += n;
      count += n;
    }
  }
  // The byte that makes the chunk max_size long ends it whatever h is.
  if (count == params_.max_size - 1 && p < end) {
    ++p;
    return cut();
  }
  hash_ = h;
  count_ = count;
  return std::nullopt;
}

}  // namespace halley::chunker
