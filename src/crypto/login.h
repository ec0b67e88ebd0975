// SPDX-License-Identifier: Apache-2.0
//
// The login side of zero knowledge (DESIGN §4), kept apart from the vault crypto so that the
// server, which needs it to check web logins, includes nothing that opens vault data.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace halley::crypto {

// The zero-knowledge ratchet: PBKDF2-HMAC-SHA512(password, salt = "halley/zkr/v1/" + username,
// kLoginKdfIterations, 48 bytes); L = bytes 0-23 (sent to the server in place of the password),
// R = bytes 24-47 (never leaves the client). Username and password are used as the bytes given,
// without normalisation; callers pass the canonical form.
inline constexpr uint32_t kLoginKdfIterations = 100000;  // fixed forever: output must repeat
inline constexpr std::string_view kLoginKdfSaltPrefix = "halley/zkr/v1/";

struct LoginKeys {
  std::array<uint8_t, 24> l{};
  std::array<uint8_t, 24> r{};
};

LoginKeys DeriveLoginKeys(std::string_view username, std::string_view password);

// The form in which a client sends L in place of its password: "zkr1:" + 48 hex digits.
std::string EncodeLoginSecret(const std::array<uint8_t, 24>& l);
// L from that form, or nullopt if `text` is not in it (then it is a typed password).
std::optional<std::array<uint8_t, 24>> DecodeLoginSecret(std::string_view text);

}  // namespace halley::crypto
