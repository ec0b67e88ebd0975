// SPDX-License-Identifier: Apache-2.0
#include "crypto/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/error.h"
#include "crypto/internal.h"

namespace halley::crypto {

using internal::Algos;
using internal::ThreadContexts;

Id Sha256(ByteView data) {
  EVP_MD_CTX* ctx = ThreadContexts::Get().Sha256();
  Id id;
  unsigned int len = 0;
  HALLEY_CHECK(EVP_DigestInit_ex2(ctx, Algos().sha256, nullptr) == 1);
  HALLEY_CHECK(EVP_DigestUpdate(ctx, data.data(), data.size()) == 1);
  HALLEY_CHECK(EVP_DigestFinal_ex(ctx, id.bytes.data(), &len) == 1 && len == id.bytes.size());
  return id;
}

void Sha256Hasher::CtxFree::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  HALLEY_CHECK(ctx_ != nullptr);
  HALLEY_CHECK(EVP_DigestInit_ex2(ctx_.get(), Algos().sha256, nullptr) == 1);
}

Sha256Hasher::~Sha256Hasher() = default;
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;

void Sha256Hasher::Update(ByteView data) {
  HALLEY_CHECK(ctx_ != nullptr);  // not moved from
  HALLEY_CHECK(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) == 1);
}

Id Sha256Hasher::Finish() {
  HALLEY_CHECK(ctx_ != nullptr);
  Id id;
  unsigned int len = 0;
  HALLEY_CHECK(EVP_DigestFinal_ex(ctx_.get(), id.bytes.data(), &len) == 1 &&
               len == id.bytes.size());
  HALLEY_CHECK(EVP_DigestInit_ex2(ctx_.get(), nullptr, nullptr) == 1);
  return id;
}

std::array<uint8_t, 64> Sha512(ByteView data) {
  std::array<uint8_t, 64> out;
  unsigned int len = 0;
  HALLEY_CHECK(EVP_Digest(data.data(), data.size(), out.data(), &len, Algos().sha512, nullptr) ==
                   1 &&
               len == out.size());
  return out;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace halley::crypto
