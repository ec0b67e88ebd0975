// SPDX-License-Identifier: Apache-2.0
//
// Wrapping small secrets (vault E-keys, bucket PSKs) under the client's R key for storage in the
// user's profile, where the server can keep them without being able to read them:
//
//   k       = HKDF-SHA256(ikm = r_key, salt = "", info = "halley/wrap/v1/" + purpose, 32 bytes)
//   wrapped = 0x01 || nonce (12 random bytes) || AES-256-GCM_k(nonce, aad = purpose)(secret)
//             || tag (16 bytes)
//
// `purpose` names what is wrapped (e.g. "vault-ekey/<vault id>"), so a wrapped value cannot be
// moved to another slot of the profile. Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"

namespace halley::crypto {

inline constexpr uint8_t kWrapVersion = 0x01;
inline constexpr std::string_view kWrapInfoPrefix = "halley/wrap/v1/";
inline constexpr size_t kWrapOverhead = 1 + 12 + 16;

// REQUIRES: !r_key.empty() (normally the 24-byte R key).
Bytes WrapSecret(ByteView r_key, std::string_view purpose, ByteView secret);

// Reverses WrapSecret. kCorruption if `wrapped` is shorter than kWrapOverhead or its version
// byte is not kWrapVersion; kUnauthenticated if the tag does not verify (wrong key, wrong
// purpose, or modified data). REQUIRES: !r_key.empty().
Result<Bytes> UnwrapSecret(ByteView r_key, std::string_view purpose, ByteView wrapped);

}  // namespace halley::crypto
