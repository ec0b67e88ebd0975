// SPDX-License-Identifier: Apache-2.0
#include "crypto/bcrypt.h"

#include <crypt.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"

namespace halley::crypto {
namespace {

constexpr size_t kBcryptHashSize = 60;  // "$2b$" + "NN$" + 22 salt + 31 hash

bool SecretOk(std::string_view secret) {
  return secret.size() <= kBcryptMaxSecret && secret.find('\0') == std::string_view::npos;
}

// libxcrypt's working area holds the passphrase and the result; wipe it before freeing.
struct CryptDataFree {
  void operator()(crypt_data* d) const {
    SecureZero(d, sizeof *d);
    delete d;
  }
};

// Runs crypt_rn on a checked secret. Returns the hash text, or an empty string on failure.
std::string Crypt(std::string_view secret, const char* setting) {
  HALLEY_CHECK(SecretOk(secret));
  char phrase[kBcryptMaxSecret + 1];
  std::memcpy(phrase, secret.data(), secret.size());
  phrase[secret.size()] = '\0';
  std::unique_ptr<crypt_data, CryptDataFree> data(new crypt_data{});
  const char* result = crypt_rn(phrase, setting, data.get(), sizeof *data);
  SecureZero(phrase, sizeof phrase);
  // crypt_rn returns null on failure; an output starting with '*' is never a hash.
  if (result == nullptr || result[0] == '*') return {};
  return result;
}

bool IsBcryptHash(std::string_view hash) {
  if (hash.size() != kBcryptHashSize) return false;
  return hash.starts_with("$2b$") || hash.starts_with("$2a$") || hash.starts_with("$2y$");
}

// The 72 characters of base64(SHA-512(secret)) that bcrypt reads (see bcrypt.h).
std::string Sha512Text(ByteView secret) {
  std::array<uint8_t, 64> digest = Sha512(secret);
  std::string text = Base64Encode(digest);
  SecureZero(digest.data(), digest.size());
  std::string prefix = text.substr(0, kBcryptMaxSecret);
  SecureZero(text.data(), text.size());
  return prefix;
}

}  // namespace

Result<std::string> BcryptHash(std::string_view secret, int cost) {
  if (!SecretOk(secret)) {
    return Fail(ErrorCode::kInvalidArgument,
                "bcrypt: secret must be at most 72 bytes and contain no NUL byte");
  }
  if (cost < 4 || cost > 31) return Fail(ErrorCode::kInvalidArgument, "bcrypt: cost must be 4..31");
  uint8_t salt[16];
  RandomBytes(MutableByteView(salt));
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), reinterpret_cast<char*>(salt),
                       sizeof salt, setting, sizeof setting) == nullptr) {
    return Fail(ErrorCode::kNotSupported,
                std::string("bcrypt: crypt_gensalt_rn failed: ") + std::strerror(errno));
  }
  std::string hash = Crypt(secret, setting);
  if (hash.size() != kBcryptHashSize) {
    return Fail(ErrorCode::kNotSupported, "bcrypt: libxcrypt did not produce a $2b$ hash");
  }
  return hash;
}

bool BcryptVerify(std::string_view secret, std::string_view hash) {
  if (!SecretOk(secret) || !IsBcryptHash(hash)) return false;
  const std::string setting(hash);  // NUL-terminated copy
  std::string computed = Crypt(secret, setting.c_str());
  const bool equal = ConstantTimeEqual(AsBytes(computed), AsBytes(hash));
  SecureZero(computed.data(), computed.size());
  return equal;
}

Result<std::string> BcryptSha512(ByteView secret, int cost) {
  std::string text = Sha512Text(secret);
  auto hash = BcryptHash(text, cost);
  SecureZero(text.data(), text.size());
  return hash;
}

bool BcryptSha512Verify(ByteView secret, std::string_view hash) {
  std::string text = Sha512Text(secret);
  const bool ok = BcryptVerify(text, hash);
  SecureZero(text.data(), text.size());
  return ok;
}

}  // namespace halley::crypto
