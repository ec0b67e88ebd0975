// SPDX-License-Identifier: Apache-2.0
#include "server/buckets.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "base/encoding.h"
#include "base/json.h"
#include "crypto/bcrypt.h"
#include "crypto/hash.h"
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

// One server's registrations, in halley-buckets.db3.
class SqliteRecords final : public BucketRecords {
 public:
  explicit SqliteRecords(db::Database db) : db_(std::move(db)) {}

  Result<void> Insert(const BucketProperties& b) override {
    auto inserted = db_.Execute(
        "INSERT INTO buckets (id, organization_id, create_time, key_format, key_hash, "
        "limit_bytes) VALUES (?, ?, ?, ?, ?, ?)",
        {b.id, b.organization_id, b.create_time, int64_t{b.key_format}, b.key_hash,
         static_cast<int64_t>(std::min<uint64_t>(b.limit_bytes, INT64_MAX))});
    if (!inserted) return Fail(inserted.error());
    return {};
  }

  Result<BucketProperties> Find(const std::string& id) override {
    HALLEY_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query(std::string("SELECT ") + kColumns + " FROM buckets WHERE id = ?", {id}));
    if (rows.empty()) return Fail(ErrorCode::kNotFound, "no bucket '" + id + "'");
    return FromRow(rows[0]);
  }

  Result<std::vector<BucketProperties>> All() override {
    HALLEY_ASSIGN_OR_RETURN(
        auto rows, db_.Query(std::string("SELECT ") + kColumns + " FROM buckets ORDER BY id"));
    std::vector<BucketProperties> out;
    for (const auto& r : rows) out.push_back(FromRow(r));
    return out;
  }

  Result<void> Erase(const std::string& id) override {
    HALLEY_ASSIGN_OR_RETURN(int64_t n, db_.Execute("DELETE FROM buckets WHERE id = ?", {id}));
    if (n == 0) return Fail(ErrorCode::kNotFound, "no bucket '" + id + "'");
    return {};
  }

 private:
  db::Database db_;
};

// Registrations shared by every server of one object store (BucketRegistry::OpenShared).
class SharedRecords final : public BucketRecords {
 public:
  SharedRecords(storage::BlobStorePtr store, Clock& clock, std::chrono::seconds refresh)
      : store_(std::move(store)), clock_(clock), refresh_(refresh) {}

  Result<void> Insert(const BucketProperties& b) override {
    const std::string record = ToJson(b).dump();
    // Put never overwrites: of two servers registering one ID, one wins.
    HALLEY_RETURN_IF_ERROR(store_->Put(Handle(b.id), AsBytes(record)));
    Remember(b);
    return {};
  }

  Result<BucketProperties> Find(const std::string& id) override {
    {
      std::lock_guard lock(mu_);
      if (auto it = seen_.find(id);
          it != seen_.end() && clock_.Now() - it->second.second < refresh_) {
        return it->second.first;
      }
    }
    auto data = store_->Get(Handle(id));
    if (!data) {
      if (data.error().Code() == ErrorCode::kNotFound) {
        std::lock_guard lock(mu_);
        seen_.erase(id);
        return Fail(ErrorCode::kNotFound, "no bucket '" + id + "'");
      }
      return Fail(data.error().WithContext("reading the registration of bucket '" + id + "'"));
    }
    HALLEY_ASSIGN_OR_RETURN(BucketProperties b, FromJson(*data, id));
    Remember(b);
    return b;
  }

  Result<std::vector<BucketProperties>> All() override {
    std::vector<std::string> names;
    HALLEY_RETURN_IF_ERROR(
        store_->List(storage::ObjectType::kKey, [&](const storage::ObjectInfo& o) -> Result<void> {
          names.push_back(o.name);
          return {};
        }));
    std::vector<BucketProperties> out;
    for (const std::string& name : names) {
      auto data = store_->Get({storage::ObjectType::kKey, name});
      if (!data && data.error().Code() == ErrorCode::kNotFound) continue;  // deleted meanwhile
      if (!data) return Fail(data.error());
      HALLEY_ASSIGN_OR_RETURN(BucketProperties b, FromJson(*data, ""));
      if (Handle(b.id).name != name) continue;  // not a registration
      Remember(b);
      out.push_back(std::move(b));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }

  Result<void> Erase(const std::string& id) override {
    auto size = store_->Stat(Handle(id));
    if (!size && size.error().Code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound, "no bucket '" + id + "'");
    }
    if (!size) return Fail(size.error());
    HALLEY_RETURN_IF_ERROR(store_->Remove(Handle(id)));
    std::lock_guard lock(mu_);
    seen_.erase(id);
    return {};
  }

 private:
  static storage::ObjectHandle Handle(const std::string& id) {
    return {storage::ObjectType::kKey, crypto::Sha256(AsBytes(id)).Hex()};
  }

  static Json ToJson(const BucketProperties& b) {
    return {{"ID", b.id},
            {"OrganizationID", b.organization_id},
            {"CreateTime", b.create_time},
            {"KeyFormat", b.key_format},
            {"KeyHash", b.key_hash},
            {"LimitBytes", b.limit_bytes}};
  }

  // `id` non-empty: the ID the record must carry.
  static Result<BucketProperties> FromJson(ByteView data, const std::string& id) {
    auto bad = [&] {
      return Fail(ErrorCode::kCorruption,
                  "the registration of bucket '" + id + "' in the shared storage is damaged");
    };
    auto j = ParseJson(ToString(data));
    if (!j || !j->is_object()) return bad();
    BucketProperties b;
    try {
      b.id = j->at("ID").get<std::string>();
      b.organization_id = j->value("OrganizationID", "");
      b.create_time = j->at("CreateTime").get<int64_t>();
      b.key_format = j->at("KeyFormat").get<int>();
      b.key_hash = j->at("KeyHash").get<std::string>();
      b.limit_bytes = j->value("LimitBytes", uint64_t{0});
    } catch (const Json::exception&) {
      return bad();
    }
    if (!BucketRegistry::ValidId(b.id) || (!id.empty() && b.id != id)) return bad();
    return b;
  }

  void Remember(const BucketProperties& b) {
    std::lock_guard lock(mu_);
    seen_[b.id] = {b, clock_.Now()};
  }

  const storage::BlobStorePtr store_;
  Clock& clock_;
  const std::chrono::seconds refresh_;
  std::mutex mu_;
  // Registrations read, with when; guarded by mu_.
  std::map<std::string, std::pair<BucketProperties, std::chrono::system_clock::time_point>> seen_;
};

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
  return Make(std::make_unique<SqliteRecords>(std::move(db)), clock);
}

Result<std::unique_ptr<BucketRegistry>> BucketRegistry::OpenShared(storage::BlobStorePtr store,
                                                                   Clock& clock,
                                                                   std::chrono::seconds refresh) {
  return Make(std::make_unique<SharedRecords>(std::move(store), clock, refresh), clock);
}

Result<std::unique_ptr<BucketRegistry>> BucketRegistry::Make(std::unique_ptr<BucketRecords> records,
                                                             Clock& clock) {
  // A hash no key matches, checked against for unknown buckets so that the answer takes as
  // long as for a wrong key.
  HALLEY_ASSIGN_OR_RETURN(std::string dummy, crypto::BcryptSha512(crypto::RandomBytes(16)));
  return std::unique_ptr<BucketRegistry>(
      new BucketRegistry(std::move(records), clock, std::move(dummy)));
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
  auto inserted = records_->Insert(
      {id, std::move(organization_id), now, kPasswordFormatBcryptSha512, hash, limit_bytes});
  if (!inserted) {
    if (inserted.error().Code() == ErrorCode::kAlreadyExists) {
      return Fail(ErrorCode::kAlreadyExists, "bucket '" + id + "' already exists");
    }
    return Fail(inserted.error());
  }
  return out;
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
