// SPDX-License-Identifier: Apache-2.0
#include "crypto/login.h"

#include <cstring>

#include "base/encoding.h"
#include "crypto/internal.h"
#include "crypto/kdf.h"

namespace halley::crypto {
namespace {
constexpr std::string_view kLoginSecretPrefix = "zkr1:";
}  // namespace

LoginKeys DeriveLoginKeys(std::string_view username, std::string_view password) {
  std::string salt(kLoginKdfSaltPrefix);
  salt += username;
  Bytes derived = Pbkdf2Sha512(password, AsBytes(salt), kLoginKdfIterations, 48);
  LoginKeys keys;
  std::memcpy(keys.l.data(), derived.data(), 24);
  std::memcpy(keys.r.data(), derived.data() + 24, 24);
  SecureZero(derived.data(), derived.size());
  return keys;
}

std::string EncodeLoginSecret(const std::array<uint8_t, 24>& l) {
  return std::string(kLoginSecretPrefix) + HexEncode(ByteView(l.data(), l.size()));
}

std::optional<std::array<uint8_t, 24>> DecodeLoginSecret(std::string_view text) {
  if (text.size() != kLoginSecretPrefix.size() + 48 ||
      text.substr(0, kLoginSecretPrefix.size()) != kLoginSecretPrefix) {
    return std::nullopt;
  }
  auto bytes = HexDecode(text.substr(kLoginSecretPrefix.size()));
  if (!bytes || bytes->size() != 24) return std::nullopt;
  std::array<uint8_t, 24> l{};
  std::memcpy(l.data(), bytes->data(), 24);
  return l;
}

}  // namespace halley::crypto
