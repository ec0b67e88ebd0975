// SPDX-License-Identifier: Apache-2.0
//
// Reading and writing the parts of a user profile (reference/comet.md §2.4) that a device uses:
// Storage Vaults (`Destinations`) and Protected Items (`Sources`). Secrets in the profile are
// wrapped by the device's R key (crypto/aead.h), so the server stores them without being able
// to read them (docs/keys.md "Keys in the profile"):
//
//   EncryptionKeyEncryptionMethod = 1 (ours; 0 is the product's "not configured")
//   EncryptedEncryptionKey = base64(WrapSecret(R, "vault-password", vault password))
//   EncryptedBucketKey     = base64(WrapSecret(R, "bucket-key/" + CometBucket, bucket key))
//   EncryptedS3SecretKey   = base64(WrapSecret(R, "s3-secret-key", S3 secret access key))
//   EncryptedSFTPPassword  = base64(WrapSecret(R, "sftp-password", SFTP password))
//   EncryptedSFTPPrivateKey = base64(WrapSecret(R, "sftp-private-key", private key, PEM))
//
// The vault password is hex(E) for vaults a device created. Its wrap names no vault ID, so the
// manual's cloning procedure (copy EncryptionKeyEncryptionMethod, EncryptedEncryptionKey and
// RepoInitTimestamp to another vault entry) keeps working. A plain CometBucketKey, as an admin
// or the seed-load procedure sets it, is used as it is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/json.h"

namespace halley::client {

// DestinationType values (comet.md §3.2) a device can open so far.
inline constexpr int64_t kVaultS3 = 1000;
inline constexpr int64_t kVaultSftp = 1001;
inline constexpr int64_t kVaultLocalPath = 1002;
inline constexpr int64_t kVaultHalleyBucket = 1003;  // the product's "Comet Server" type
// S3ObjectLockMode values (the product's OBJECT_LOCK_ constants).
inline constexpr int64_t kObjectLockLegacy = 0;  // on if S3ObjectLockDays is above 0
inline constexpr int64_t kObjectLockOn = 1;
inline constexpr int64_t kObjectLockOff = 2;
// SFTPAuthMode values.
inline constexpr int64_t kSftpAuthNative = 0;  // the agent and ~/.ssh's keys, as ssh does
inline constexpr int64_t kSftpAuthPassword = 1;
inline constexpr int64_t kSftpAuthPrivateKey = 2;
inline constexpr int64_t kEncryptionMethodUnconfigured = 0;
inline constexpr int64_t kEncryptionMethodWrapV1 = 1;
inline constexpr char kEngineFile[] = "engine1/file";

// A profile is data from the network: these read a field as "" / 0 when it is missing or of
// another type (nlohmann's value() would throw).
using halley::StringField;
int64_t IntField(const Json& j, const char* field);

// The ID of the entry of profile[section] ("Destinations", "Sources", "BackupRules") called `name`:
// the entry with that ID, else the one entry with that Description. kNotFound (naming the entries
// there are), kInvalidArgument if several entries share the Description.
Result<std::string> FindEntry(const Json& profile, std::string_view section, std::string_view name);

// A Storage Vault ready to open.
struct VaultAccess {
  std::string id;
  std::string description;
  std::string location;      // a --repo location: a path, or rest:http[s]://ID:KEY@host/storage/ID/
  std::string password;      // the vault password
  bool initialized = false;  // RepoInitTimestamp != 0
  // An S3 vault's (type 1000) credentials and region; empty for other types.
  std::string s3_access_key, s3_secret_key, s3_region;
  // Days an S3 vault's objects are kept under Object Lock (compliance mode, as the product
  // does); 0: none. S3ObjectLockMode 1 (on) with S3ObjectLockDays, or the legacy mode 0 with
  // days above 0; mode 2 is off.
  int s3_object_lock_days = 0;
  // An SFTP vault's (type 1001) login: a password or a private key (PEM) by SFTPAuthMode, and
  // the known_hosts file to check the server against ("" : ~/.ssh/known_hosts).
  std::string sftp_password, sftp_private_key, sftp_known_hosts;
};

// An SFTP vault entry's fields (type 1001), as `vault add` gathers them.
struct SftpLogin {
  std::string server;  // "host:port" ("[v6]:port")
  std::string user;    // "" : the local user name, or the SSH configuration's
  std::string path;    // SFTPRemotePath: absolute, or relative to the home directory
  int64_t auth_mode = kSftpAuthNative;
  std::string secret;  // the password (mode 1) or the private key in PEM (mode 2), wrapped by R
  std::string known_hosts_file;  // "" : the default known_hosts
};

// What an S3 vault entry needs beside its location: the credentials (the secret key is
// stored wrapped by R), the region ("" for the server's default) and the days of Object Lock
// (0: off).
struct S3Credentials {
  std::string access_key, secret_key, region;
  int object_lock_days = 0;
};

// True if the vault entry carries a wrapped vault password (and a bucket key, for type 1003).
bool HasVaultKeys(const Json& vault);

// The vault `id` of `profile` with its secrets unwrapped by `r`. kNotFound if there is no such
// vault, kNotSupported for other vault types or encryption methods, kInvalidArgument if it has
// no keys yet (HasVaultKeys), kUnauthenticated if a wrapped secret does not open with `r`
// (another account's key, or a damaged profile).
Result<VaultAccess> ReadVault(const Json& profile, const std::string& id, ByteView r);

// A new vault password: hex of a random 128-bit E key.
std::string NewVaultPassword();
// Stores `password` wrapped by `r` in the vault entry (and the method that says so).
void SetVaultPassword(Json& vault, ByteView r, std::string_view password);
// Stores a bucket key wrapped by `r`; CometBucketKey is cleared. REQUIRES: CometBucket is set.
void SetBucketKey(Json& vault, ByteView r, std::string_view key);

// For a password change or reset: re-wraps every vault password and bucket key in `profile`
// from `old_r` to `new_r` (one already under `new_r` stays). kUnauthenticated if one opens
// with neither (then `profile` is partly changed and must be discarded): saving it would lose
// that vault's keys.
Result<void> RewrapSecrets(Json& profile, ByteView old_r, ByteView new_r);

// A vault entry for `location`: a local path (type 1002), a halleyd bucket URL
// rest:http[s]://ID:KEY@host[:port][/prefix]/storage/ID/ (type 1003; its key wrapped by `r`),
// or an S3 bucket s3:[http[s]://]host[:port]/bucket[/prefix] with `s3` (type 1000; the secret
// key wrapped by `r`). kInvalidArgument for other locations (with the forms that are accepted)
// or an S3 location without credentials.
Result<Json> VaultForLocation(std::string_view location, std::string_view description, ByteView r,
                              int64_t now, const S3Credentials& s3 = {});

// A vault entry for an SFTP location (type 1001); its secret is wrapped by `r`.
Json SftpVault(const SftpLogin& login, std::string_view description, ByteView r, int64_t now);

// A Protected Item of files and folders (engine1/file).
struct FileItem {
  std::string id;
  std::string description;
  std::vector<std::string> paths;     // EngineProps INCLUDE*
  std::vector<std::string> excludes;  // EngineProps EXCLUDE* (globs)
  bool rescan_unchanged = false;      // EngineProps RESCAN_UNCHANGED
};

// kNotFound if there is no such item, kNotSupported for another engine, kInvalidArgument if
// the item names no path.
Result<FileItem> ReadFileItem(const Json& profile, const std::string& id);

// An entry of the account policy's FileAndFolderMandatoryExclusions (reference/comet.md §5.5):
// excluded from every backup of a Protected Item, whatever the item says.
struct MandatoryExclusion {
  std::string pattern;  // Exclude
  bool regex = false;   // Regex: a regular expression rather than a glob
};
// RestrictOS values (the product's ExtraFileExclusionOSRestriction constants).
inline constexpr int64_t kRestrictOsAny = 0;
inline constexpr int64_t kRestrictOsLinux = 5;

// The profile's Policy.FileAndFolderMandatoryExclusions that apply on this device, a Linux one:
// those whose RestrictOS is absent, kRestrictOsAny or kRestrictOsLinux (or, as a name, "" or
// "linux" in any case). Entries without an Exclude are skipped; the order is kept.
std::vector<MandatoryExclusion> MandatoryExclusions(const Json& profile);
Json NewFileItem(const FileItem& item, std::string_view owner_device, int64_t now);

}  // namespace halley::client
