// SPDX-License-Identifier: Apache-2.0
//
// Key derivation: scrypt (restic key files), PBKDF2-HMAC-SHA512 (the login ratchet), HKDF-SHA256
// (sub-keys). All functions are thread-safe. The exact constructions are in docs/keys.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"
#include "crypto/seal.h"

namespace halley::crypto {

// Limits on scrypt parameters. Parameters come from key files, which a hostile storage could
// forge, so they are bounded before any memory is touched. restic calibrates its key files to
// about 60 MiB and 0.5 s, far below both limits; RFC 7914's largest vector (N=2^20, r=8, p=1:
// 1 GiB) fits.
inline constexpr uint64_t kScryptMaxMemory = uint64_t{2} << 30;  // bytes: 128*r*(N+2) + 128*r*p
inline constexpr uint64_t kScryptMaxWork = uint64_t{1} << 26;    // N*r*p

// scrypt (RFC 7914). Returns `length` bytes. kInvalidArgument unless: N is a power of two > 1,
// N < 2^(16r), r >= 1, p >= 1, r*p < 2^30, 1 <= length <= 2^31-1, memory and work within the
// limits above. The lanes run in parallel on up to four cores, in the memory of one lane.
Result<Bytes> Scrypt(std::string_view password, ByteView salt, uint64_t n, uint32_t r, uint32_t p,
                     size_t length);

// Splits 64 bytes of scrypt output the way restic key files do: bytes 0-31 encrypt, 32-47
// mac_k, 48-63 mac_r. REQUIRES: derived64.size() == 64. The result may be !Valid() (with
// probability 2^-128); Seal and Open require a valid key, so callers check.
Key KeyFromScrypt(ByteView derived64);

// PBKDF2-HMAC-SHA512 (RFC 8018). REQUIRES: iterations >= 1, 1 <= length <= INT_MAX.
Bytes Pbkdf2Sha512(std::string_view password, ByteView salt, uint32_t iterations, size_t length);

// HKDF-SHA256 (RFC 5869), extract then expand. An empty salt means HashLen zero bytes, as the
// RFC says. REQUIRES: !ikm.empty(), 1 <= length <= 255*32.
Bytes HkdfSha256(ByteView ikm, ByteView salt, ByteView info, size_t length);

}  // namespace halley::crypto
