// SPDX-License-Identifier: Apache-2.0
#include "crypto/internal.h"

#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include <cstring>

#include "base/error.h"

namespace halley::crypto::internal {

const Algorithms& Algos() {
  // Never freed: thread-local contexts that reference these may be destroyed after static
  // destructors have run.
  static const Algorithms* const algos = [] {
    auto* a = new Algorithms{
        EVP_MD_fetch(nullptr, "SHA256", nullptr),
        EVP_MD_fetch(nullptr, "SHA512", nullptr),
        EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr),
        EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr),
        EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr),
        EVP_MAC_fetch(nullptr, "POLY1305", nullptr),
        EVP_KDF_fetch(nullptr, "HKDF", nullptr),
    };
    HALLEY_CHECK(a->sha256 && a->sha512 && a->aes256_ctr && a->aes128_ecb && a->aes256_gcm &&
                 a->poly1305 && a->hkdf);
    return a;
  }();
  return *algos;
}

ThreadContexts& ThreadContexts::Get() {
  thread_local ThreadContexts contexts;
  return contexts;
}

ThreadContexts::~ThreadContexts() {
  EVP_MD_CTX_free(sha256_);
  EVP_CIPHER_CTX_free(ctr_);  // the _free functions wipe key schedules
  EVP_CIPHER_CTX_free(ecb_);
  EVP_MAC_CTX_free(poly1305_);
  SecureZero(ctr_key_.data(), ctr_key_.size());
  SecureZero(ecb_key_.data(), ecb_key_.size());
}

EVP_MD_CTX* ThreadContexts::Sha256() {
  if (sha256_ == nullptr) {
    sha256_ = EVP_MD_CTX_new();
    HALLEY_CHECK(sha256_ != nullptr);
  }
  return sha256_;
}

EVP_CIPHER_CTX* ThreadContexts::AesCtr(const std::array<uint8_t, 32>& key, const uint8_t* iv) {
  if (ctr_ == nullptr) {
    ctr_ = EVP_CIPHER_CTX_new();
    HALLEY_CHECK(ctr_ != nullptr);
    HALLEY_CHECK(EVP_EncryptInit_ex2(ctr_, Algos().aes256_ctr, nullptr, nullptr, nullptr) == 1);
  }
  // Re-running the AES key schedule costs about as much as encrypting 50 bytes; skip it when
  // the key is the one already loaded (the common case: one vault key for every blob).
  const bool same_key = ctr_keyed_ && CRYPTO_memcmp(ctr_key_.data(), key.data(), key.size()) == 0;
  HALLEY_CHECK(EVP_EncryptInit_ex2(ctr_, nullptr, same_key ? nullptr : key.data(), iv, nullptr) ==
               1);
  if (!same_key) {
    ctr_key_ = key;
    ctr_keyed_ = true;
  }
  return ctr_;
}

void ThreadContexts::AesEcbBlock(const std::array<uint8_t, 16>& key, const uint8_t* block,
                                 uint8_t* out) {
  if (ecb_ == nullptr) {
    ecb_ = EVP_CIPHER_CTX_new();
    HALLEY_CHECK(ecb_ != nullptr);
    HALLEY_CHECK(EVP_EncryptInit_ex2(ecb_, Algos().aes128_ecb, nullptr, nullptr, nullptr) == 1);
    HALLEY_CHECK(EVP_CIPHER_CTX_set_padding(ecb_, 0) == 1);
  }
  if (!ecb_keyed_ || CRYPTO_memcmp(ecb_key_.data(), key.data(), key.size()) != 0) {
    HALLEY_CHECK(EVP_EncryptInit_ex2(ecb_, nullptr, key.data(), nullptr, nullptr) == 1);
    ecb_key_ = key;
    ecb_keyed_ = true;
  }
  int len = 0;
  HALLEY_CHECK(EVP_EncryptUpdate(ecb_, out, &len, block, 16) == 1 && len == 16);
}

EVP_MAC_CTX* ThreadContexts::Poly1305() {
  if (poly1305_ == nullptr) {
    poly1305_ = EVP_MAC_CTX_new(Algos().poly1305);
    HALLEY_CHECK(poly1305_ != nullptr);
  }
  return poly1305_;
}

EVP_MAC_CTX* StartPoly1305(const uint8_t* key32) {
  uint8_t key[32];
  std::memcpy(key, key32, sizeof key);
  // The RFC 8439 §2.5.1 clamp. OpenSSL clamps too; doing it here keeps the construction explicit
  // and independent of that.
  key[3] &= 15;
  key[7] &= 15;
  key[11] &= 15;
  key[15] &= 15;
  key[4] &= 252;
  key[8] &= 252;
  key[12] &= 252;
  EVP_MAC_CTX* mac = ThreadContexts::Get().Poly1305();
  HALLEY_CHECK(EVP_MAC_init(mac, key, sizeof key, nullptr) == 1);
  SecureZero(key, sizeof key);
  return mac;
}

void Poly1305(const uint8_t* key32, ByteView message, uint8_t* tag16) {
  EVP_MAC_CTX* mac = StartPoly1305(key32);
  HALLEY_CHECK(EVP_MAC_update(mac, message.data(), message.size()) == 1);
  size_t len = 0;
  HALLEY_CHECK(EVP_MAC_final(mac, tag16, &len, 16) == 1 && len == 16);
}

}  // namespace halley::crypto::internal
