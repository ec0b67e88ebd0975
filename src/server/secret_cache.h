// SPDX-License-Identifier: Apache-2.0
//
// Remembers secrets that passed a bcrypt check, so that a client authenticating on every
// request (a bucket key, an admin password) costs one bcrypt (~60 ms) rather than one per call.
// An entry holds the SHA-256 of the secret and the stored hash it was checked against; it is
// used only while that stored hash is unchanged, so a changed password or a re-registered
// bucket never accepts the old secret. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace halley::server {

class SecretCache {
 public:
  // True if `secret` matches `stored_hash` for `who`: from memory, or by calling `verify`
  // (the slow check) and remembering a success. Comparisons are constant-time.
  bool Check(const std::string& who, const std::string& stored_hash, std::string_view secret,
             const std::function<bool()>& verify);

 private:
  struct Entry {
    std::string stored_hash;
    std::string digest;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace halley::server
