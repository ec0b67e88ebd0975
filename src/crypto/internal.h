// SPDX-License-Identifier: Apache-2.0
//
// Internal to halley::crypto (and its tests): OpenSSL algorithm objects fetched once per
// process, and per-thread OpenSSL contexts reused across calls. OpenSSL 3 makes implicit fetches
// ("EVP_sha256()") and context creation cost a few hundred nanoseconds each, which matters for
// the small blobs and tree objects on the backup path; reusing them avoids that and the heap
// traffic. Not part of the library's interface.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"
#include "crypto/seal.h"

namespace halley::crypto::internal {

// Algorithms from the default provider, fetched on first use and never freed. Thread-safe.
struct Algorithms {
  EVP_MD* sha256;
  EVP_MD* sha512;
  EVP_CIPHER* aes256_ctr;
  EVP_CIPHER* aes128_ecb;
  EVP_CIPHER* aes256_gcm;
  EVP_MAC* poly1305;
  EVP_KDF* hkdf;
};
const Algorithms& Algos();

// OpenSSL contexts owned by the calling thread, created lazily and freed at thread exit. The
// cipher contexts remember the key they were last set up with (key schedule reuse: the vault key
// is the same for every blob). A reference must not be used by another thread, nor kept across
// a call that could use the same context (the functions below do not nest).
class ThreadContexts {
 public:
  static ThreadContexts& Get();

  ThreadContexts() = default;
  ~ThreadContexts();
  ThreadContexts(const ThreadContexts&) = delete;
  ThreadContexts& operator=(const ThreadContexts&) = delete;

  EVP_MD_CTX* Sha256();  // uninitialised; callers run EVP_DigestInit_ex2

  // AES-256-CTR encryptor set to (key, iv), counter at iv.
  EVP_CIPHER_CTX* AesCtr(const std::array<uint8_t, 32>& key, const uint8_t* iv);

  // Writes AES-128-ECB_key(block) to out (16 bytes; may alias block).
  void AesEcbBlock(const std::array<uint8_t, 16>& key, const uint8_t* block, uint8_t* out);

  EVP_MAC_CTX* Poly1305();  // uninitialised; callers run EVP_MAC_init with a key

 private:
  EVP_MD_CTX* sha256_ = nullptr;
  EVP_CIPHER_CTX* ctr_ = nullptr;
  EVP_CIPHER_CTX* ecb_ = nullptr;
  EVP_MAC_CTX* poly1305_ = nullptr;
  std::array<uint8_t, 32> ctr_key_{};
  std::array<uint8_t, 16> ecb_key_{};
  bool ctr_keyed_ = false;
  bool ecb_keyed_ = false;
};

// Starts a Poly1305 computation on the calling thread's context with the 32-byte one-time key
// r||s. r is clamped here (RFC 8439 §2.5.1), so callers may pass restic's unclamped mac.r. The
// caller feeds EVP_MAC_update and finishes with EVP_MAC_final before starting another.
EVP_MAC_CTX* StartPoly1305(const uint8_t* key32);

// One-shot Poly1305 with the 32-byte one-time key r||s (r clamped as above).
void Poly1305(const uint8_t* key32, ByteView message, uint8_t* tag16);

// Seal with a caller-chosen IV, for known-answer tests. REQUIRES: key.Valid(); `iv` is 16 bytes
// and may be `out` itself; the overlap rules of SealTo apply.
void SealWithIv(const Key& key, const uint8_t* iv, ByteView plaintext, uint8_t* out);

// scrypt with its p lanes spread over up to `threads` threads (Scrypt picks the count from the
// machine). The parameters must already have passed Scrypt's checks. REQUIRES: threads >= 1,
// 1 <= length <= INT_MAX.
Result<Bytes> ScryptLanes(std::string_view password, ByteView salt, uint64_t n, uint32_t r,
                          uint32_t p, size_t length, unsigned threads);

}  // namespace halley::crypto::internal
