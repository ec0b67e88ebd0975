// SPDX-License-Identifier: Apache-2.0
//
// Deterministic inputs shared by the chunker tests (test-only header). The golden cut lists in
// rabin_test.cc and gear_test.cc were computed over exactly these bytes, so changing anything
// here invalidates them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"

namespace halley::chunker::testing {

// SplitMix64 (Steele, Lea, Flood 2014): small, fast and fully specified.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double NextUnit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Appends `n` bytes: each Next() gives 8 bytes, least significant first; the unused tail bytes
// of the last word are dropped.
inline void AppendRandom(Bytes& out, SplitMix64& rng, size_t n) {
  const size_t old_size = out.size();
  out.resize(old_size + n);
  uint8_t* p = out.data() + old_size;
  while (n > 0) {
    uint64_t word = rng.Next();
    for (int k = 0; k < 8 && n > 0; ++k, --n) {
      *p++ = static_cast<uint8_t>(word);
      word >>= 8;
    }
  }
}

inline Bytes RandomBytes(uint64_t seed, size_t n) {
  SplitMix64 rng(seed);
  Bytes out;
  out.reserve(n);
  AppendRandom(out, rng, n);
  return out;
}

constexpr size_t kMiB = 1024 * 1024;
constexpr size_t kGoldenInputSize = 24 * kMiB + 777;

// The golden input (24 MiB + 777 bytes), in order:
//   [0, 10 MiB)                random bytes, SplitMix64 seed 0x48616c6c6579 ("Halley")
//   3 MiB + 12345 zero bytes
//   a copy of the random bytes [1 MiB, 5 MiB)
//   2 MiB of the first 1000 bytes repeated (periodic data)
//   random bytes from the same generator up to kGoldenInputSize
inline Bytes GoldenInput() {
  SplitMix64 rng(0x48616c6c6579ULL);
  Bytes out;
  out.reserve(kGoldenInputSize);
  AppendRandom(out, rng, 10 * kMiB);
  out.insert(out.end(), 3 * kMiB + 12345, uint8_t{0});
  // Inserting a range of a vector into itself is undefined behaviour, hence the copies.
  const Bytes repeated(out.begin() + 1 * kMiB, out.begin() + 5 * kMiB);
  out.insert(out.end(), repeated.begin(), repeated.end());
  const Bytes period(out.begin(), out.begin() + 1000);
  for (size_t i = 0; i < 2 * kMiB; ++i) out.push_back(period[i % period.size()]);
  AppendRandom(out, rng, kGoldenInputSize - out.size());
  return out;
}

}  // namespace halley::chunker::testing
