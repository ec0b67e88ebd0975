// SPDX-License-Identifier: Apache-2.0
#include "server/buckets.h"

#include "base/encoding.h"
#include "crypto/bcrypt.h"
#include "crypto/random.h"
#include "server/config.h"

namespace halley::server {
namespace {

constexpr std::string_view kSchema[] = {
    R"sql(CREATE TABLE buckets (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL DEFAULT '',
            create_time INTEGER NOT NULL,
            key_format INTEGER NOT NULL,
            key_hash TEXT NOT NULL))sql",
    // Version 2: a storage limit per bucket (0 = none).
    "ALTER TABLE buckets ADD COLUMN limit_bytes INTEGER NOT NULL DEFAULT 0",
};

constexpr char kColumns[] = "id, organization_id, create_time, key_format, key_hash, limit_bytes";

BucketProperties FromRow(const db::Row& r) {
  return {r.Text(0), r.Text(1),
          r.Int(2),  static_cast<int>(r.Int(3)),
          r.Text(4), static_cast<uint64_t>(r.Int(5))};
}

}  // namespace

bool BucketRegistry::ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::unique_ptr<BucketRegistry>> BucketRegistry::Open(const std::string& path,
                                                             Clock& clock) {
  HALLEY_ASSIGN_OR_RETURN(db::Database db, db::Database::Open(path));
  HALLEY_RETURN_IF_ERROR(db.Migrate(kSchema));
  // A hash no key matches, checked against for unknown buckets so that the answer takes as
  // long as for a wrong key.
  HALLEY_ASSIGN_OR_RETURN(std::string dummy, crypto::BcryptSha512(crypto::RandomBytes(16)));
  return std::unique_ptr<BucketRegistry>(
      new BucketRegistry(std::move(db), clock, std::move(dummy)));
}

Result<BucketRegistry::Registered> BucketRegistry::Register(std::string id, int key_format,
                                                            std::string key_value,
                                                            std::string organization_id,
                                                            uint64_t limit_bytes) {
  if (id.empty()) id = HexEncode(crypto::RandomBytes(16));
  if (!ValidId(id)) {
    return Fail(ErrorCode::kInvalidArgument,
                "bucket ID must be 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'");
  }
  Registered out{id, ""};
  std::string hash;
  if (key_value.empty()) {
    out.key = HexEncode(crypto::RandomBytes(16));
    HALLEY_ASSIGN_OR_RETURN(hash, crypto::BcryptSha512(AsBytes(out.key)));
  } else if (key_format == kPasswordFormatBcryptSha512) {
    // Checked by verifying a throwaway secret: a malformed hash fails to parse.
    if (key_value.size() != 60 || key_value.rfind("$2", 0) != 0) {
      return Fail(ErrorCode::kInvalidArgument, "SetKeyHashValue is not a bcrypt hash");
    }
    hash = std::move(key_value);
  } else if (key_format == kPasswordFormatPlaintext) {
    HALLEY_ASSIGN_OR_RETURN(hash, crypto::BcryptSha512(AsBytes(key_value)));
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                "SetKeyHashFormat " + std::to_string(key_format) + " is not supported (use " +
                    std::to_string(kPasswordFormatBcryptSha512) + " for bcrypt(sha512) or 0)");
  }
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  auto inserted = db_.Execute(
      "INSERT INTO buckets (id, organization_id, create_time, key_format, key_hash, limit_bytes) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      {id, std::move(organization_id), now, int64_t{kPasswordFormatBcryptSha512}, hash,
       static_cast<int64_t>(std::min<uint64_t>(limit_bytes, INT64_MAX))});
  if (!inserted) {
    if (inserted.error().Code() == ErrorCode::kAlreadyExists) {
      return Fail(ErrorCode::kAlreadyExists, "bucket '" + id + "' already exists");
    }
    return Fail(inserted.error());
  }
  return out;
}

Result<BucketProperties> BucketRegistry::Get(const std::string& id) {
  HALLEY_ASSIGN_OR_RETURN(
      auto rows, db_.Query(std::string("SELECT ") + kColumns + " FROM buckets WHERE id = ?", {id}));
  if (rows.empty()) return Fail(ErrorCode::kNotFound, "no bucket '" + id + "'");
  return FromRow(rows[0]);
}

Result<std::vector<BucketProperties>> BucketRegistry::List() {
  HALLEY_ASSIGN_OR_RETURN(
      auto rows, db_.Query(std::string("SELECT ") + kColumns + " FROM buckets ORDER BY id"));
  std::vector<BucketProperties> out;
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

Result<void> BucketRegistry::Delete(const std::string& id) {
  HALLEY_ASSIGN_OR_RETURN(int64_t n, db_.Execute("DELETE FROM buckets WHERE id = ?", {id}));
  if (n == 0) return Fail(ErrorCode::kNotFound, "no bucket '" + id + "'");
  return {};
}

bool BucketRegistry::CheckKey(const std::string& id, std::string_view key) {
  auto bucket = Get(id);
  if (!bucket) {
    (void)crypto::BcryptSha512Verify(AsBytes(key), dummy_hash_);
    return false;
  }
  return verified_.Check(id, bucket->key_hash, key, [&] {
    return crypto::BcryptSha512Verify(AsBytes(key), bucket->key_hash);
  });
}

}  // namespace halley::server
