// SPDX-License-Identifier: Apache-2.0
//
// bcrypt password hashes through libxcrypt ("$2b$"), for the server's stored login and bucket
// secrets. All functions are thread-safe. A hash or verify costs about 2^cost * 55 µs of CPU
// (cost 10: ~57 ms on Zen 5), so callers that verify often (the storage role) remember verified
// secrets.
#pragma once

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"

namespace halley::crypto {

inline constexpr size_t kBcryptMaxSecret = 72;  // bcrypt reads at most 72 bytes

// Returns "$2b$<cost>$<22 salt chars><31 hash chars>" (60 characters) with a random salt.
// kInvalidArgument if `secret` contains a NUL byte or is longer than kBcryptMaxSecret (bcrypt
// would silently ignore the rest), or if cost is outside 4..31.
Result<std::string> BcryptHash(std::string_view secret, int cost = 10);

// True if `hash` is a bcrypt hash ("$2a$", "$2b$" or "$2y$") of `secret`. The recomputed hash is
// compared in constant time. False for any malformed hash, or for a secret BcryptHash would
// reject.
bool BcryptVerify(std::string_view secret, std::string_view hash);

// The spec's bcrypt(sha512(x)): bcrypt of base64(SHA-512(secret)). The base64 text is 88
// characters and bcrypt reads only the first 72, so exactly those 72 are passed (what any
// truncating bcrypt would do with all 88; this way implementations that reject long input agree
// too). `secret` may be any bytes, of any length.
Result<std::string> BcryptSha512(ByteView secret, int cost = 10);
bool BcryptSha512Verify(ByteView secret, std::string_view hash);

}  // namespace halley::crypto
