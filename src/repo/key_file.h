// SPDX-License-Identifier: Apache-2.0
//
// Key files (`keys/<id>`): plain JSON naming scrypt parameters and a salt, with the master key
// sealed under the scrypt-derived user key (restic.md §1.3). A vault may have several key files
// wrapping the same master key (several passwords, or hex(E) for a managed vault).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/time.h"
#include "crypto/seal.h"

namespace halley::repo {

struct ScryptParams {
  uint64_t n = 0;
  uint32_t r = 0;
  uint32_t p = 0;
};

// Parameters for a human password: about half a second and 64 MiB here, as restic calibrates.
ScryptParams PasswordScryptParams();
// The cheapest parameters restic accepts, for full-entropy secrets such as a managed vault's
// E-key (DESIGN §4): brute force is hopeless whatever the KDF costs.
inline constexpr ScryptParams kFullEntropyScryptParams{2, 1, 1};

struct KeyFile {
  Time created;
  std::string username;
  std::string hostname;
  std::string kdf = "scrypt";
  ScryptParams params;
  Bytes salt;  // 64 bytes
  Bytes data;  // Seal(user key, master key JSON)
};

std::string EncodeKeyFile(const KeyFile& k);
Result<KeyFile> DecodeKeyFile(std::string_view json);  // kCorruption / kNotSupported (kdf)

// Makes a key file wrapping `master` under `password`.
KeyFile NewKeyFile(const crypto::Key& master, std::string_view password, ScryptParams params,
                   Time created, std::string username, std::string hostname);

// Unwraps the master key. kUnauthenticated if the password does not open this key file.
Result<crypto::Key> OpenKeyFile(const KeyFile& k, std::string_view password);

}  // namespace halley::repo
