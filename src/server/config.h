// SPDX-License-Identifier: Apache-2.0
//
// halleyd.cfg: the product's ServerConfigOptions JSON (reference/comet.md §1.4). The whole
// document is kept, so keys this version does not know survive a rewrite; the keys it uses are
// type-checked on load and read through the accessors below. Writes are atomic (tmp + fsync +
// rename + directory fsync) and leave the file mode 0600 (it holds admin password hashes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "httpd/http.h"

namespace halley::server {

// AdminUsers[].PasswordFormat and bucket key formats (our values; the product's constants are
// not published). A plaintext admin password in the file is hashed on load and the file
// rewritten, so it does not stay on disk.
inline constexpr int kPasswordFormatPlaintext = 0;
inline constexpr int kPasswordFormatBcrypt = 1;        // bcrypt(secret)
inline constexpr int kPasswordFormatBcryptSha512 = 2;  // bcrypt(base64(SHA-512(secret)))

// DestinationType values a Storage Role can keep its buckets on.
inline constexpr int kDestinationS3 = 1000;
inline constexpr int kDestinationLocalPath = 1002;
inline constexpr int kDestinationSpanned = 1006;

// An S3-compatible StorageRole.Storage (DestinationType 1000: S3Server, S3UsesTLS,
// S3BucketName, S3Subdir, S3AccessKey, S3SecretKey, S3CustomRegion).
struct S3Destination {
  std::string location;  // "http[s]://server/bucket[/subdir]": an s3: location without "s3:"
  std::string access_key, secret_key, region;
};

struct LoginProtection {
  bool enabled = true;
  int failure_threshold = 10;  // failed logins per user and per address within the cooldown
  int cooldown_seconds = 300;
};

// Checks Storage Templates (AuthenticationRole.RemoteStorage[]): objects with a unique ID and a
// Type, at most one Default; a remote one has an http(s) RemoteAddress and an admin login.
Result<void> ValidateStorageTemplates(const Json& templates);

class ServerConfig {
 public:
  // Reads `path`; if it does not exist, writes the default configuration for `data_dir` there
  // first. Relative paths in the file are resolved against `data_dir`. kInvalidArgument naming
  // the key for a known key of the wrong type or value.
  static Result<ServerConfig> LoadOrCreate(const std::string& path, const std::string& data_dir);
  // Validates a whole document (server-config/set, --check-config).
  static Result<ServerConfig> FromJson(Json doc, const std::string& data_dir);
  static Json Default(const std::string& data_dir);

  Result<void> Save(const std::string& path) const;

  const Json& Document() const { return doc_; }
  Json& MutableDocument() { return doc_; }

  bool AuthRoleEnabled() const;
  bool StorageRoleEnabled() const;
  std::vector<httpd::ListenSpec> ListenAddresses() const;
  // Absolute directories of the Storage Role's volumes: one for a Local Path destination,
  // one per span target for a Spanned one.
  std::vector<std::string> StorageVolumes() const;
  // The S3 storage of the Storage Role's buckets, if StorageRole.Storage is of type 1000.
  std::optional<S3Destination> StorageS3() const;
  // StorageRole.VerifyUploads (default true): refuse an upload whose SHA-256 is not its name.
  bool VerifyUploads() const;
  bool TrustXForwardedFor() const;
  LoginProtection Protection() const;
  int64_t SessionSeconds() const;  // SessionSettings.ExpiredInSeconds, default 1800
  int DatabaseCheckLevel() const;
  int PruneLogsAfterDays() const;  // default 90
  // Server-generated job states (docs/server.md "Server-generated jobs"), AuthenticationRole
  // keys. A running job silent this long becomes abandoned (7007): default 600, at least 10.
  int64_t AbandonJobsAfterSeconds() const;
  // Missed backups (7004): on (default) or off, the earliest due time that counts (unix s,
  // default 0), and how far from its due time a backup may start and still be on time
  // (default 600, at least 0).
  bool GenerateMissedBackupEvents() const;
  int64_t NoMissedBackupEventsBefore() const;
  int64_t MissedBackupGraceSeconds() const;

  // Organizations{id: Organization} (reference/comet.md §5.6): the tenants; {} if none.
  Json Organizations() const;
  // The OrganizationID of the admin account `username`: "" for the top-level organization
  // (also when the field is missing), nullopt if there is no such admin.
  std::optional<std::string> AdminOrganization(std::string_view username) const;

  // True if any admin account exists.
  bool HasAdmins() const;
  // Hashes any plaintext admin passwords (PasswordFormat 0); returns true if it changed some.
  Result<bool> HashPlaintextPasswords();

 private:
  ServerConfig(Json doc, std::string data_dir)
      : doc_(std::move(doc)), data_dir_(std::move(data_dir)) {}
  Result<void> Validate() const;
  std::string Resolve(const std::string& path) const;

  Json doc_;
  std::string data_dir_;
};

}  // namespace halley::server
