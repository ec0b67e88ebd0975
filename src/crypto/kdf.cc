// SPDX-License-Identifier: Apache-2.0
#include "crypto/kdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "crypto/internal.h"

namespace halley::crypto {
namespace {

using internal::Algos;

tl::unexpected<Error> BadScrypt(const std::string& why) {
  return Fail(ErrorCode::kInvalidArgument, "scrypt: " + why);
}

// scrypt's mixing (RFC 7914 §3-§5) on 64-byte Salsa20 blocks held in "diagonal" order, so that
// each quarter-round step works on four columns (then four rows) at once in one 128-bit vector:
// word k of the standard order sits at position kDiagonal^-1[k]. The order is changed once per
// lane on the way in and out; XOR, copies and BlockMix's interleaving do not depend on it.
using U32x4 = uint32_t __attribute__((vector_size(16)));
struct alignas(64) Block {
  U32x4 v[4];  // (x0 x5 x10 x15) (x4 x9 x14 x3) (x8 x13 x2 x7) (x12 x1 x6 x11)
};
constexpr int kDiagonal[16] = {0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11};

inline U32x4 Rotl(U32x4 x, int n) { return (x << n) | (x >> (32 - n)); }

// Salsa20's quarter-round on four columns (or rows) at once.
inline void QuarterRound(U32x4& y0, U32x4& y1, U32x4& y2, U32x4& y3) {
  y1 ^= Rotl(y0 + y3, 7);
  y2 ^= Rotl(y1 + y0, 9);
  y3 ^= Rotl(y2 + y1, 13);
  y0 ^= Rotl(y3 + y2, 18);
}

// x = Salsa20/8(x ^ in).
inline void Salsa8Xor(Block& x, const Block& in) {
  U32x4 a = x.v[0] ^ in.v[0], b = x.v[1] ^ in.v[1], c = x.v[2] ^ in.v[2], d = x.v[3] ^ in.v[3];
  const U32x4 a0 = a, b0 = b, c0 = c, d0 = d;
  for (int round = 0; round < 8; round += 2) {
    // Columns (x0 x4 x8 x12), (x5 x9 x13 x1), ... are the lanes of (a b c d).
    QuarterRound(a, b, c, d);
    // Rows (x0 x1 x2 x3), (x5 x6 x7 x4), ... are the lanes of (a d c b) once d, c and b are
    // turned by one, two and three lanes.
    d = __builtin_shufflevector(d, d, 1, 2, 3, 0);
    c = __builtin_shufflevector(c, c, 2, 3, 0, 1);
    b = __builtin_shufflevector(b, b, 3, 0, 1, 2);
    QuarterRound(a, d, c, b);
    d = __builtin_shufflevector(d, d, 3, 0, 1, 2);
    c = __builtin_shufflevector(c, c, 2, 3, 0, 1);
    b = __builtin_shufflevector(b, b, 1, 2, 3, 0);
  }
  x.v[0] = a + a0;
  x.v[1] = b + b0;
  x.v[2] = c + c0;
  x.v[3] = d + d0;
}

inline Block Xor(const Block& a, const Block& b) {
  return Block{{a.v[0] ^ b.v[0], a.v[1] ^ b.v[1], a.v[2] ^ b.v[2], a.v[3] ^ b.v[3]}};
}

// out = BlockMix(in ^ mask) over 2r blocks (mask may be null); out must not overlap in or mask.
void BlockMix(const Block* in, const Block* mask, Block* out, uint32_t r) {
  const size_t blocks = 2 * size_t{r};
  Block x = mask ? Xor(in[blocks - 1], mask[blocks - 1]) : in[blocks - 1];
  for (size_t i = 0; i < blocks; ++i) {
    Salsa8Xor(x, mask ? Xor(in[i], mask[i]) : in[i]);
    out[(i & 1) ? r + i / 2 : i / 2] = x;  // even blocks first, then odd
  }
}

uint32_t LoadLe32(const uint8_t* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap32(w);
  return w;
}

void StoreLe32(uint32_t w, uint8_t* p) {
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap32(w);
  std::memcpy(p, &w, 4);
}

void ToDiagonal(const uint8_t* in, Block* out, size_t blocks) {
  for (size_t k = 0; k < blocks; ++k) {
    uint32_t w[16];
    for (int i = 0; i < 16; ++i) w[i] = LoadLe32(in + 64 * k + 4 * kDiagonal[i]);
    std::memcpy(&out[k], w, 64);
  }
}

void FromDiagonal(const Block* in, uint8_t* out, size_t blocks) {
  for (size_t k = 0; k < blocks; ++k) {
    uint32_t w[16];
    std::memcpy(w, &in[k], 64);
    for (int i = 0; i < 16; ++i) StoreLe32(w[i], out + 64 * k + 4 * kDiagonal[i]);
  }
}

// Words 0 and 1 of the last block, at diagonal positions 0 and 13.
uint64_t Integerify(const Block* x, uint32_t r) {
  uint32_t w[16];
  std::memcpy(w, &x[2 * size_t{r} - 1], 64);
  return uint64_t{w[0]} | (uint64_t{w[13]} << 32);
}

// ROMix (RFC 7914 §5) of one lane, in place. v holds N/step entries of 2r blocks: only every
// step-th V_i is kept, and V_j is recomputed from the kept one before it (j mod step more
// BlockMixes). The output is the same for every step; step trades memory for time.
void RoMix(uint8_t* lane, uint64_t n, uint32_t r, uint64_t step, Block* v) {
  const size_t blocks = 2 * size_t{r};
  std::vector<Block> x(blocks), y(blocks), t(blocks), u(blocks);
  ToDiagonal(lane, x.data(), blocks);
  for (uint64_t i = 0; i < n; ++i) {
    if (i % step == 0) std::copy(x.begin(), x.end(), v + (i / step) * blocks);
    BlockMix(x.data(), nullptr, y.data(), r);
    x.swap(y);
  }
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t j = Integerify(x.data(), r) & (n - 1);
    const Block* vj = v + (j / step) * blocks;
    for (uint64_t k = 0; k < j % step; ++k) {
      BlockMix(vj, nullptr, t.data(), r);
      t.swap(u);
      vj = u.data();
    }
    BlockMix(x.data(), vj, y.data(), r);
    x.swap(y);
  }
  FromDiagonal(x.data(), lane, blocks);
  for (auto* s : {&x, &y, &t, &u}) OPENSSL_cleanse(s->data(), s->size() * sizeof(Block));
}

}  // namespace

Result<Bytes> Scrypt(std::string_view password, ByteView salt, uint64_t n, uint32_t r, uint32_t p,
                     size_t length) {
  if (n < 2 || (n & (n - 1)) != 0) return BadScrypt("N must be a power of two greater than 1");
  if (r == 0 || p == 0) return BadScrypt("r and p must be at least 1");
  if (uint64_t{r} * p >= (uint64_t{1} << 30)) return BadScrypt("r*p must be below 2^30");
  if (uint64_t{r} < 4 && n >= (uint64_t{1} << (16 * r))) {
    return BadScrypt("N must be below 2^(16*r)");  // RFC 7914 §2
  }
  if (length == 0 || length > INT_MAX) return BadScrypt("bad output length");
  // V takes 128*r*N bytes however many workers share it (ScryptLanes), B 128*r*p, and each
  // worker a few blocks of 128*r.
  const uint64_t block = uint64_t{128} * r;
  if (n + 2 > kScryptMaxMemory / block) return BadScrypt("parameters need too much memory");
  if (block * (n + 2) + block * p > kScryptMaxMemory)
    return BadScrypt("parameters need too much memory");
  if (n > kScryptMaxWork / (uint64_t{r} * p)) return BadScrypt("parameters need too much work");

  // Lanes run on as many cores as there are lanes, within the same memory as one lane: see
  // ScryptLanes.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return internal::ScryptLanes(password, salt, n, r, p, length, std::min(cores, 4u));
}

namespace internal {

Result<Bytes> ScryptLanes(std::string_view password, ByteView salt, uint64_t n, uint32_t r,
                          uint32_t p, size_t length, unsigned threads) {
  HALLEY_CHECK(threads >= 1 && length >= 1 && length <= INT_MAX);
  HALLEY_CHECK(password.size() <= INT_MAX && salt.size() <= INT_MAX);
  const size_t lane = 128 * size_t{r};
  Bytes b(lane * p);
  HALLEY_CHECK(PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                                 static_cast<int>(salt.size()), 1, Algos().sha256,
                                 static_cast<int>(b.size()), b.data()) == 1);
  // The p lanes are independent. Each of w workers (a power of two, at most p and N) keeps
  // every w-th V_i, so together they hold what one sequential lane would: 128*r*N bytes. With
  // two workers a lane costs 1.25 times the BlockMixes (half the lookups recompute one V_j),
  // and two run at once.
  const uint64_t workers = std::bit_floor(std::min<uint64_t>({threads, p, n}));
  const uint64_t step = workers;
  std::atomic<uint32_t> next{0};
  std::atomic<uint32_t> done{0};
  auto work = [&] {
    // V straight from the kernel and back (as libsodium does): through malloc, freeing it
    // would raise glibc's mmap threshold to its size for the rest of the process, which then
    // keeps the command's later buffers of up to that size in its heap.
    const size_t bytes = (n / step) * 2 * r * sizeof(Block);
    void* v = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v == MAP_FAILED) return;  // a worker without memory takes no lanes; the others do them
    for (uint32_t i = next++; i < p; i = next++) {
      RoMix(b.data() + lane * i, n, r, step, static_cast<Block*>(v));
      ++done;
    }
    ::munmap(v, bytes);
  };
  std::vector<std::thread> helpers;
  for (uint64_t i = 1; i < workers; ++i) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer threads take longer, never more memory
    }
  }
  work();
  for (auto& t : helpers) t.join();
  if (done != p) {
    OPENSSL_cleanse(b.data(), b.size());
    return Fail(ErrorCode::kUnknown, "scrypt: out of memory");
  }
  Bytes out(length);
  HALLEY_CHECK(PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), b.data(),
                                 static_cast<int>(b.size()), 1, Algos().sha256,
                                 static_cast<int>(length), out.data()) == 1);
  OPENSSL_cleanse(b.data(), b.size());
  return out;
}

}  // namespace internal

Key KeyFromScrypt(ByteView derived64) {
  HALLEY_CHECK(derived64.size() == 64);
  Key key;
  std::memcpy(key.encrypt.data(), derived64.data(), 32);
  std::memcpy(key.mac_k.data(), derived64.data() + 32, 16);
  std::memcpy(key.mac_r.data(), derived64.data() + 48, 16);
  return key;
}

Bytes Pbkdf2Sha512(std::string_view password, ByteView salt, uint32_t iterations, size_t length) {
  HALLEY_CHECK(iterations >= 1 && iterations <= INT_MAX);
  HALLEY_CHECK(length >= 1 && length <= INT_MAX);
  HALLEY_CHECK(password.size() <= INT_MAX && salt.size() <= INT_MAX);
  Bytes out(length);
  HALLEY_CHECK(PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                                 static_cast<int>(salt.size()), static_cast<int>(iterations),
                                 Algos().sha512, static_cast<int>(length), out.data()) == 1);
  return out;
}

Bytes HkdfSha256(ByteView ikm, ByteView salt, ByteView info, size_t length) {
  HALLEY_CHECK(!ikm.empty());
  HALLEY_CHECK(length >= 1 && length <= 255 * 32);
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(Algos().hkdf),
                                                                &EVP_KDF_CTX_free);
  HALLEY_CHECK(ctx != nullptr);
  char digest[] = "SHA256";
  auto octets = [](ByteView b) {
    return const_cast<uint8_t*>(b.data());  // OSSL_PARAM is not const-correct; it only reads
  };
  OSSL_PARAM params[5];
  OSSL_PARAM* p = params;
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, octets(ikm), ikm.size());
  // Omitting the salt makes OpenSSL use HashLen zero bytes (RFC 5869 §2.2), the same as "".
  if (!salt.empty()) {
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, octets(salt), salt.size());
  }
  if (!info.empty()) {
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, octets(info), info.size());
  }
  *p = OSSL_PARAM_construct_end();
  Bytes out(length);
  HALLEY_CHECK(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1);
  return out;
}

}  // namespace halley::crypto
