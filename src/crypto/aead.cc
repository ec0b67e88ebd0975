// SPDX-License-Identifier: Apache-2.0
#include "crypto/aead.h"

#include <openssl/evp.h>

#include <climits>
#include <memory>
#include <string>

#include "crypto/internal.h"
#include "crypto/kdf.h"
#include "crypto/random.h"

namespace halley::crypto {
namespace {

constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
static_assert(kWrapOverhead == 1 + kNonceSize + kTagSize);

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Bytes WrapKey(ByteView r_key, std::string_view purpose) {
  HALLEY_CHECK(!r_key.empty());
  std::string info(kWrapInfoPrefix);
  info += purpose;
  return HkdfSha256(r_key, {}, AsBytes(info), 32);
}

CipherCtx StartGcm(ByteView key, const uint8_t* nonce, std::string_view aad, bool encrypt) {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  HALLEY_CHECK(ctx != nullptr);
  const EVP_CIPHER* gcm = internal::Algos().aes256_gcm;  // the default IV length is 12
  HALLEY_CHECK(EVP_CipherInit_ex2(ctx.get(), gcm, key.data(), nonce, encrypt ? 1 : 0, nullptr) ==
               1);
  HALLEY_CHECK(aad.size() <= INT_MAX);
  int len = 0;
  if (!aad.empty()) {
    HALLEY_CHECK(EVP_CipherUpdate(ctx.get(), nullptr, &len,
                                  reinterpret_cast<const uint8_t*>(aad.data()),
                                  static_cast<int>(aad.size())) == 1);
  }
  return ctx;
}

}  // namespace

Bytes WrapSecret(ByteView r_key, std::string_view purpose, ByteView secret) {
  HALLEY_CHECK(secret.size() <= INT_MAX - kWrapOverhead);
  Bytes key = WrapKey(r_key, purpose);
  Bytes out(kWrapOverhead + secret.size());
  out[0] = kWrapVersion;
  uint8_t* nonce = out.data() + 1;
  uint8_t* ct = nonce + kNonceSize;
  uint8_t* tag = ct + secret.size();
  RandomBytes(MutableByteView(nonce, kNonceSize));
  CipherCtx ctx = StartGcm(key, nonce, purpose, /*encrypt=*/true);
  SecureZero(key.data(), key.size());
  int len = 0;
  if (!secret.empty()) {
    HALLEY_CHECK(EVP_EncryptUpdate(ctx.get(), ct, &len, secret.data(),
                                   static_cast<int>(secret.size())) == 1 &&
                 static_cast<size_t>(len) == secret.size());
  }
  HALLEY_CHECK(EVP_EncryptFinal_ex(ctx.get(), tag, &len) == 1 && len == 0);
  HALLEY_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagSize, tag) == 1);
  return out;
}

Result<Bytes> UnwrapSecret(ByteView r_key, std::string_view purpose, ByteView wrapped) {
  HALLEY_CHECK(!r_key.empty());
  if (wrapped.size() < kWrapOverhead) {
    return Fail(ErrorCode::kCorruption, "wrapped secret too short");
  }
  if (wrapped[0] != kWrapVersion) {
    return Fail(ErrorCode::kCorruption,
                "unsupported wrapped secret version " + std::to_string(wrapped[0]));
  }
  HALLEY_CHECK(wrapped.size() <= INT_MAX);
  const uint8_t* nonce = wrapped.data() + 1;
  const uint8_t* ct = nonce + kNonceSize;
  const size_t n = wrapped.size() - kWrapOverhead;
  const uint8_t* tag = ct + n;

  Bytes key = WrapKey(r_key, purpose);
  CipherCtx ctx = StartGcm(key, nonce, purpose, /*encrypt=*/false);
  SecureZero(key.data(), key.size());
  Bytes out(n);
  int len = 0;
  if (n > 0) {
    HALLEY_CHECK(EVP_DecryptUpdate(ctx.get(), out.data(), &len, ct, static_cast<int>(n)) == 1 &&
                 static_cast<size_t>(len) == n);
  }
  HALLEY_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagSize,
                                   const_cast<uint8_t*>(tag)) == 1);
  uint8_t final_block[16];
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &len) != 1) {
    SecureZero(out.data(), out.size());
    return Fail(ErrorCode::kUnauthenticated,
                "wrapped secret verification failed (wrong key or purpose, or modified)");
  }
  return out;
}

}  // namespace halley::crypto
