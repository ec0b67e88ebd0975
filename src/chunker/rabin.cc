// SPDX-License-Identifier: Apache-2.0
#include "chunker/rabin.h"

#include <algorithm>
#include <bit>
#include <utility>

namespace halley::chunker {
namespace {

// Polynomials over GF(2) in a uint64_t: bit i is the coefficient of x^i, addition is XOR.

int Degree(uint64_t x) { return static_cast<int>(std::bit_width(x)) - 1; }  // -1 for 0

uint64_t Mod(uint64_t x, uint64_t m) {
  const int dm = Degree(m);
  for (int dx = Degree(x); dx >= dm; dx = Degree(x)) x ^= m << (dx - dm);
  return x;
}

// a * b mod m, for deg(a), deg(b) < deg(m) <= 63: Horner over the bits of b, reducing after
// every doubling so nothing overflows.
uint64_t MulMod(uint64_t a, uint64_t b, uint64_t m) {
  const int dm = Degree(m);
  const uint64_t top = uint64_t{1} << dm;
  uint64_t r = 0;
  for (int i = Degree(b); i >= 0; --i) {
    r <<= 1;
    if (r & top) r ^= m;
    if ((b >> i) & 1) r ^= a;
  }
  return r;
}

uint64_t Gcd(uint64_t a, uint64_t b) {
  while (b != 0) {
    a = Mod(a, b);
    std::swap(a, b);
  }
  return a;
}

// Fingerprint of `h` followed by byte `b`: (h * x^8 + b) mod pol. deg(h) < deg(pol) <= 53, so
// the shift cannot overflow.
uint64_t AppendByte(uint64_t h, uint8_t b, uint64_t pol) { return Mod((h << 8) | b, pol); }

constexpr size_t kSkip = RabinChunker::kMinSize - RabinChunker::kWindowSize;

}  // namespace

Result<std::unique_ptr<RabinChunker>> RabinChunker::Create(uint64_t polynomial) {
  const int degree = Degree(polynomial);
  // Degree >= 8 keeps the 8-bit table index (digest >> (degree - 8)) meaningful; above 53 the
  // shifted digest would overflow 64 bits.
  if (degree < 8 || degree > 53) {
    return Fail(ErrorCode::kInvalidArgument, "chunker polynomial " + PolynomialToHex(polynomial) +
                                                 " has degree " + std::to_string(degree) +
                                                 ", want 8 to 53");
  }
  if (!IsIrreducible(polynomial)) {
    return Fail(ErrorCode::kInvalidArgument,
                "chunker polynomial " + PolynomialToHex(polynomial) + " is not irreducible");
  }
  return std::unique_ptr<RabinChunker>(new RabinChunker(polynomial));
}

RabinChunker::RabinChunker(uint64_t polynomial)
    : polynomial_(polynomial), shift_(static_cast<unsigned>(Degree(polynomial) - 8)) {
  const unsigned degree = shift_ + 8;
  for (unsigned b = 0; b < 256; ++b) {
    // Sliding byte b out of a window whose fingerprint is H(b, w1..w63) leaves
    // H(b, w1..w63) + H(b, 0..0) = H(0, w1..w63), by linearity.
    uint64_t h = AppendByte(0, static_cast<uint8_t>(b), polynomial);
    for (size_t i = 0; i + 1 < kWindowSize; ++i) h = AppendByte(h, 0, polynomial);
    out_table_[b] = h;
    // When the digest is shifted left by 8, its top byte b lands on x^deg..x^(deg+7): XOR with
    // (b * x^deg) clears it and XOR with (b * x^deg mod pol) adds the reduction, in one step.
    const uint64_t high = uint64_t{b} << degree;
    mod_table_[b] = Mod(high, polynomial) | high;
  }
  Reset();
}

void RabinChunker::Reset() {
  window_.fill(0);
  window_pos_ = 0;
  digest_ = 0;
  count_ = 0;
  // restic starts every chunk by sliding in a byte 1. It leaves the window with the 64th hashed
  // byte, the first one that may end a chunk, so it never decides a cut; kept to mirror restic.
  Slide(1);
}

std::optional<size_t> RabinChunker::FindBoundary(ByteView data) {
  const uint8_t* const p = data.data();
  const size_t n = data.size();
  size_t pos = 0;

  // The first kMinSize - 64 bytes of a chunk are counted but not hashed, as in restic: no cut can
  // fall before kMinSize, and by then the 64 hashed bytes fill the whole window.
  if (count_ < kSkip) {
    pos = std::min(n, kSkip - count_);
    count_ += pos;
  }

  uint64_t digest = digest_;
  size_t window_pos = window_pos_;
  size_t count = count_;
  uint8_t* const window = window_.data();
  const uint64_t* const out_table = out_table_.data();
  const uint64_t* const mod_table = mod_table_.data();
  const unsigned shift = shift_;
  auto slide = [&](uint8_t b) {
    const uint8_t out = window[window_pos];
    window[window_pos] = b;
    window_pos = (window_pos + 1) % kWindowSize;
    digest ^= out_table[out];
    const uint64_t top = digest >> shift;
    digest = ((digest << 8) | b) ^ mod_table[top];
  };

  // Bytes that leave the chunk shorter than kMinSize are hashed but cannot end it.
  for (; pos < n && count + 1 < kMinSize; ++pos, ++count) slide(p[pos]);

  // From here on every byte may end the chunk; the kMaxSize - count bound keeps the length test
  // out of the loop. (count < kMaxSize always holds between calls.)
  const size_t start = pos;
  const size_t end = pos + std::min(n - pos, kMaxSize - count);
  bool cut = false;
  while (pos < end) {
    slide(p[pos++]);
    if ((digest & kSplitMask) == 0) {
      cut = true;
      break;
    }
  }
  count += pos - start;
  if (cut || count == kMaxSize) {
    Reset();
    return pos;
  }
  digest_ = digest;
  window_pos_ = window_pos;
  count_ = count;
  return std::nullopt;
}

bool IsIrreducible(uint64_t pol) {
  const int degree = Degree(pol);
  if (degree < 1) return false;
  // Ben-Or: pol is irreducible iff gcd(pol, x^(2^i) - x mod pol) = 1 for i = 1..degree/2.
  // (Degree 1 has no i to test and is irreducible.)
  const uint64_t x = Mod(2, pol);
  uint64_t x_pow = x;  // x^(2^i) mod pol
  for (int i = 1; i <= degree / 2; ++i) {
    x_pow = MulMod(x_pow, x_pow, pol);
    if (Gcd(pol, x_pow ^ x) != 1) return false;
  }
  return true;
}

uint64_t RandomIrreduciblePolynomial(std::function<uint64_t()> random64) {
  constexpr int kMaxTries = 1000000;  // restic's randPolMaxTries
  for (int i = 0; i < kMaxTries; ++i) {
    uint64_t pol = random64() & ((uint64_t{1} << 54) - 1);
    pol |= (uint64_t{1} << 53) | 1;
    if (IsIrreducible(pol)) return pol;
  }
  // A real random source fails with probability about (26/27)^1e6: random64 is broken.
  CheckFailed(__FILE__, __LINE__, "RandomIrreduciblePolynomial: no irreducible candidate");
}

std::string PolynomialToHex(uint64_t pol) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.push_back(kDigits[pol & 0xf]);
    pol >>= 4;
  } while (pol != 0);
  std::reverse(out.begin(), out.end());
  return out;
}

Result<uint64_t> PolynomialFromHex(std::string_view hex) {
  if (hex.empty()) return Fail(ErrorCode::kInvalidArgument, "empty chunker polynomial");
  uint64_t value = 0;
  for (const char c : hex) {
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return Fail(ErrorCode::kInvalidArgument,
                  "chunker polynomial \"" + std::string(hex) + "\" is not hex");
    }
    if (value >> 60 != 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  "chunker polynomial \"" + std::string(hex) + "\" exceeds 64 bits");
    }
    value = (value << 4) | digit;
  }
  return value;
}

}  // namespace halley::chunker
