// SPDX-License-Identifier: Apache-2.0
//
// The Storage Role's buckets: one per Storage Vault, each gated by a key of which the server
// keeps only bcrypt(base64(SHA-512(key))) (DESIGN §4). Held in halley-buckets.db3 (SQLite,
// WAL), or, for servers sharing an object store, in that store (OpenShared). Verified keys are
// remembered (SecretCache), so bcrypt does not run per request. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "db/db.h"
#include "server/secret_cache.h"
#include "storage/blob_store.h"

namespace halley::server {

struct BucketProperties {
  std::string id;
  std::string organization_id;
  int64_t create_time = 0;  // unix seconds
  int key_format = 0;       // kPasswordFormat* (config.h)
  std::string key_hash;
  uint64_t limit_bytes = 0;  // the Storage Role refuses uploads beyond it (507); 0 = no limit
};

// Where registrations are kept.
class BucketRecords {
 public:
  virtual ~BucketRecords() = default;
  virtual Result<void> Insert(const BucketProperties& b) = 0;        // kAlreadyExists if taken
  virtual Result<BucketProperties> Find(const std::string& id) = 0;  // kNotFound
  virtual Result<std::vector<BucketProperties>> All() = 0;           // sorted by ID
  virtual Result<void> Erase(const std::string& id) = 0;             // kNotFound
};

class BucketRegistry {
 public:
  // Opens (creating and migrating) the database at `path`: the registrations of one server.
  static Result<std::unique_ptr<BucketRegistry>> Open(const std::string& path, Clock& clock);
  // Keeps the registrations as objects in `store` (beside the buckets, in the Storage Role's
  // object storage), so that every server using that storage serves the same buckets: one
  // object per bucket, in the store's keys/, named by the SHA-256 of the bucket ID and holding
  // its properties as JSON. A registration seen is remembered for `refresh` (a bucket deleted
  // through another server keeps working here for at most that long); one not found is asked
  // for again at once, so a bucket registered elsewhere works here straight away.
  static Result<std::unique_ptr<BucketRegistry>> OpenShared(storage::BlobStorePtr store,
                                                            Clock& clock,
                                                            std::chrono::seconds refresh);

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
  Result<BucketProperties> Get(const std::string& id) { return records_->Find(id); }
  Result<std::vector<BucketProperties>> List() { return records_->All(); }
  // kNotFound if there is no such bucket. The caller removes the data.
  Result<void> Delete(const std::string& id) { return records_->Erase(id); }

  // True if `key` opens bucket `id`. Constant-time on the remembered path; false for an
  // unknown bucket (after the same bcrypt work as a wrong key, so timing does not tell
  // whether a bucket exists).
  bool CheckKey(const std::string& id, std::string_view key);

  static bool ValidId(std::string_view id);

 private:
  BucketRegistry(std::unique_ptr<BucketRecords> records, Clock& clock, std::string dummy_hash)
      : records_(std::move(records)), clock_(clock), dummy_hash_(std::move(dummy_hash)) {}
  static Result<std::unique_ptr<BucketRegistry>> Make(std::unique_ptr<BucketRecords> records,
                                                      Clock& clock);

  std::unique_ptr<BucketRecords> records_;
  Clock& clock_;
  const std::string dummy_hash_;
  SecretCache verified_;
};

}  // namespace halley::server
