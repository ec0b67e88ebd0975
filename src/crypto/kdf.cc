// SPDX-License-Identifier: Apache-2.0
#include "crypto/kdf.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sodium.h>

#include <climits>
#include <cstring>
#include <memory>
#include <string>

#include "crypto/internal.h"

namespace halley::crypto {
namespace {

using internal::Algos;

tl::unexpected<Error> BadScrypt(const std::string& why) {
  return Fail(ErrorCode::kInvalidArgument, "scrypt: " + why);
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
  if (length == 0 || length > uint64_t{0xffffffff} * 32) return BadScrypt("bad output length");
  // V and the scratch blocks take 128*r*(N+2) bytes, B takes 128*r*p.
  const uint64_t block = uint64_t{128} * r;
  if (n + 2 > kScryptMaxMemory / block) return BadScrypt("parameters need too much memory");
  if (block * (n + 2) + block * p > kScryptMaxMemory)
    return BadScrypt("parameters need too much memory");
  if (n > kScryptMaxWork / (uint64_t{r} * p)) return BadScrypt("parameters need too much work");

  // libsodium's scrypt, not OpenSSL's: its SSE2 Salsa20/8 takes two thirds of the time for the
  // same output, and every command that opens a vault with a password pays for it.
  // sodium_init picks the SSE2 code for this CPU (thread-safe, once).
  static const bool sodium_ready = sodium_init() >= 0;
  if (!sodium_ready) return Fail(ErrorCode::kUnknown, "libsodium failed to initialise");
  Bytes out(length);
  if (crypto_pwhash_scryptsalsa208sha256_ll(reinterpret_cast<const uint8_t*>(password.data()),
                                            password.size(), salt.data(), salt.size(), n, r, p,
                                            out.data(), out.size()) != 0) {
    // The parameters were checked above, so this is an allocation failure.
    return Fail(ErrorCode::kUnknown, std::string("scrypt failed: ") + std::strerror(errno));
  }
  return out;
}

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
