// SPDX-License-Identifier: Apache-2.0
//
// RabinChunker is restic's content-defined chunker (github.com/restic/chunker, as used by
// restic 0.14): a Rabin fingerprint over a 64-byte window, modulo the vault's random irreducible
// polynomial of degree 53 ("chunker_polynomial" in restic's config), cuts where the low 20 bits
// of the fingerprint are zero, chunks of 512 KiB to 8 MiB. Given the same polynomial it cuts
// exactly where restic cuts, so Halley and restic deduplicate against each other in one vault.
// docs/chunker.md gives the algorithm.
//
// Also here: the polynomial helpers restic's `init` and config use (random irreducible
// polynomial, Ben-Or irreducibility test, the hex form stored in the config).
//
// RabinChunker is not thread-safe (one per stream); the free functions are.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"
#include "chunker/chunker.h"

namespace halley::chunker {

class RabinChunker final : public Chunker {
 public:
  static constexpr size_t kWindowSize = 64;
  static constexpr size_t kMinSize = 512 * 1024;
  static constexpr size_t kMaxSize = 8 * 1024 * 1024;
  static constexpr uint64_t kSplitMask = (uint64_t{1} << 20) - 1;

  // Returns a chunker for `polynomial`, or kInvalidArgument unless it is irreducible and of
  // degree 8 to 53 (restic rejects reducible ones and panics above 53; `restic init` always
  // picks degree 53).
  static Result<std::unique_ptr<RabinChunker>> Create(uint64_t polynomial);

  uint64_t Polynomial() const { return polynomial_; }

  // Chunker
  void Reset() override;
  std::optional<size_t> FindBoundary(ByteView data) override;
  size_t MinSize() const override { return kMinSize; }
  size_t MaxSize() const override { return kMaxSize; }

 private:
  explicit RabinChunker(uint64_t polynomial);

  // Shifts byte `b` into the window and the fingerprint.
  void Slide(uint8_t b) {
    const uint8_t out = window_[window_pos_];
    window_[window_pos_] = b;
    window_pos_ = (window_pos_ + 1) % kWindowSize;
    digest_ ^= out_table_[out];
    const uint64_t top = digest_ >> shift_;
    digest_ = ((digest_ << 8) | b) ^ mod_table_[top];
  }

  uint64_t polynomial_;
  unsigned shift_;  // degree - 8: digest_ >> shift_ is the byte that overflows on the next shift
  std::array<uint64_t, 256> out_table_{};  // fingerprint of b followed by 63 zero bytes
  std::array<uint64_t, 256> mod_table_{};  // (b * x^deg mod pol) | (b * x^deg), see rabin.cc

  std::array<uint8_t, kWindowSize> window_{};
  size_t window_pos_ = 0;
  uint64_t digest_ = 0;
  size_t count_ = 0;  // bytes of the current chunk seen so far, skipped ones included
};

// Returns true iff `pol`, read as a polynomial over GF(2) (bit i = coefficient of x^i), is
// irreducible, by Ben-Or's test. 0 and 1 (degree < 1) are not irreducible.
bool IsIrreducible(uint64_t pol);

// Returns a random irreducible polynomial of degree 53 the way restic's init picks one: take
// random64() (restic reads 8 bytes little-endian), keep bits 0-53, set bits 53 and 0, retry until
// IsIrreducible (about 1 in 27 tries succeeds). Aborts after 1e6 tries, which means random64 is
// not random. Pass a CSPRNG for a new vault.
uint64_t RandomIrreduciblePolynomial(std::function<uint64_t()> random64);

// The polynomial as restic's config stores it: lower-case hex, no prefix, no leading zeros
// (0x3ec579db68be09 -> "3ec579db68be09").
std::string PolynomialToHex(uint64_t pol);

// Parses the config form back like Go's strconv.ParseUint(s, 16, 64): one or more hex digits of
// either case, no prefix or sign, at most 64 bits. Returns kInvalidArgument otherwise. It does not
// check irreducibility (RabinChunker::Create does).
Result<uint64_t> PolynomialFromHex(std::string_view hex);

}  // namespace halley::chunker
