// SPDX-License-Identifier: Apache-2.0
//
// The Storage Role's buckets: one per Storage Vault, each gated by a key of which the server
// keeps only bcrypt(base64(SHA-512(key))) (DESIGN §4). Held in halley-buckets.db3 (SQLite,
// WAL). Verified keys are remembered (SecretCache), so bcrypt does not run per request.
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "db/db.h"
#include "server/secret_cache.h"

namespace halley::server {

struct BucketProperties {
  std::string id;
  std::string organization_id;
  int64_t create_time = 0;  // unix seconds
  int key_format = 0;       // kPasswordFormat* (config.h)
  std::string key_hash;
  uint64_t limit_bytes = 0;  // the Storage Role refuses uploads beyond it (507); 0 = no limit
};

class BucketRegistry {
 public:
  // Opens (creating and migrating) the database at `path`.
  static Result<std::unique_ptr<BucketRegistry>> Open(const std::string& path, Clock& clock);

  struct Registered {
    std::string id;
    std::string key;  // the new key, or "" when the caller supplied a hash
  };
  // Registers a bucket. `id` empty: a random 32-hex-digit ID; else 1..64 of [A-Za-z0-9_-]
  // (kInvalidArgument otherwise, kAlreadyExists if taken). `key_value` empty: a random
  // 128-bit key is generated and returned (once; only its hash is kept). Otherwise
  // `key_format` says what it is: kPasswordFormatBcryptSha512 (a pre-hashed key: the
  // zero-knowledge way, validated as a bcrypt string) or kPasswordFormatPlaintext (hashed
  // here, then forgotten).
  Result<Registered> Register(std::string id, int key_format, std::string key_value,
                              std::string organization_id, uint64_t limit_bytes = 0);
  Result<BucketProperties> Get(const std::string& id);
  Result<std::vector<BucketProperties>> List();
  // kNotFound if there is no such bucket. The caller removes the data.
  Result<void> Delete(const std::string& id);

  // True if `key` opens bucket `id`. Constant-time on the remembered path; false for an
  // unknown bucket (after the same bcrypt work as a wrong key, so timing does not tell
  // whether a bucket exists).
  bool CheckKey(const std::string& id, std::string_view key);

  static bool ValidId(std::string_view id);

 private:
  BucketRegistry(db::Database db, Clock& clock, std::string dummy_hash)
      : db_(std::move(db)), clock_(clock), dummy_hash_(std::move(dummy_hash)) {}

  db::Database db_;
  Clock& clock_;
  const std::string dummy_hash_;
  SecretCache verified_;
};

}  // namespace halley::server
