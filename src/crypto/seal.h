// SPDX-License-Identifier: Apache-2.0
//
// The vault's authenticated encryption, byte-compatible with restic (docs/keys.md, "Seal"):
//
//   iv  = 16 random bytes, never all zero
//   ct  = AES-256-CTR(key.encrypt, iv)(plaintext)   the whole iv is a 128-bit big-endian counter
//   s   = AES-128-ECB(key.mac_k, iv)
//   tag = Poly1305(clamp(key.mac_r) || s, ct)        the MAC covers the ciphertext only
//   sealed = iv || ct || tag                          kSealOverhead = 32 bytes
//
// Also restic's master key JSON. All functions are thread-safe. SealTo and OpenTo do not
// allocate (after a thread's first call, which creates that thread's OpenSSL contexts).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"

namespace halley::crypto {

// A restic master key (or a user key derived from a password, see KeyFromScrypt).
struct Key {
  std::array<uint8_t, 32> encrypt{};  // AES-256 key
  std::array<uint8_t, 16> mac_k{};    // AES-128 key that turns the IV into Poly1305's s
  std::array<uint8_t, 16> mac_r{};    // Poly1305 r, stored unclamped as restic does

  // Returns a fresh random (and Valid()) key.
  static Key Random();

  // False if encrypt, mac_k or mac_r is all zero (restic refuses such keys).
  bool Valid() const;

  bool operator==(const Key&) const = default;
};

inline constexpr size_t kSealOverhead = 32;  // 16-byte IV + 16-byte tag

// Encrypts `plaintext` under a fresh random IV and writes iv||ct||tag, plaintext.size() +
// kSealOverhead bytes, to `out`. REQUIRES: key.Valid(). `out` must not overlap `plaintext`,
// except that sealing in place is allowed with out == plaintext.data() - 16 (the plaintext
// already sits where the ciphertext goes).
void SealTo(const Key& key, ByteView plaintext, uint8_t* out);

// Same as SealTo, returning a new buffer.
Bytes Seal(const Key& key, ByteView plaintext);

// Verifies and decrypts iv||ct||tag, writing sealed.size() - kSealOverhead bytes to `out`.
// The tag is checked (in constant time) before anything is decrypted; on any error `out` is
// left untouched. Errors, all kCorruption:
//   "ciphertext too short"            sealed.size() < kSealOverhead
//   "ciphertext has an all-zero IV"   no Seal produces one
//   "ciphertext verification failed"  wrong key, or the data was modified
// REQUIRES: key.Valid(). `out` must not overlap `sealed`, except out == sealed.data() + 16
// (decrypting in place).
Result<void> OpenTo(const Key& key, ByteView sealed, uint8_t* out);

// Same as OpenTo, returning a new buffer (allocated only once the tag has been verified).
Result<Bytes> Open(const Key& key, ByteView sealed);

// Whether `sealed` verifies and decrypts to exactly `expected` (verification before upload).
// Decrypts in small slices: allocates nothing and needs no buffer of the blob's size.
bool OpensTo(const Key& key, ByteView sealed, ByteView expected);

// restic's master key JSON, exactly as Go writes it (compact, fields in this order, standard
// base64 with padding): {"mac":{"k":"<16 B>","r":"<16 B>"},"encrypt":"<32 B>"}
std::string EncodeMasterKeyJson(const Key& key);

// Parses the JSON above. kCorruption if it is not JSON, lacks a field, has a field of the wrong
// type, bad base64 or length, or describes an invalid key. Extra fields are ignored.
Result<Key> DecodeMasterKeyJson(std::string_view json);

}  // namespace halley::crypto
