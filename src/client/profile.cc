// SPDX-License-Identifier: Apache-2.0
#include "client/profile.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "base/encoding.h"
#include "crypto/aead.h"
#include "crypto/random.h"

namespace halley::client {
namespace {

constexpr char kVaultPasswordPurpose[] = "vault-password";
constexpr char kS3SecretPurpose[] = "s3-secret-key";
constexpr char kSftpPasswordPurpose[] = "sftp-password";
constexpr char kSftpKeyPurpose[] = "sftp-private-key";

std::string BucketKeyPurpose(const Json& vault) {
  return "bucket-key/" + StringField(vault, "CometBucket");
}

Result<std::string> Unwrap(const Json& vault, const char* field, ByteView r,
                           const std::string& purpose) {
  const Json& v = vault.contains(field) ? vault[field] : Json();
  if (!v.is_string()) return Fail(ErrorCode::kCorruption, std::string(field) + " is missing");
  auto wrapped = Base64Decode(v.get<std::string>());
  if (!wrapped) return Fail(ErrorCode::kCorruption, std::string(field) + " is not base64");
  auto secret = crypto::UnwrapSecret(r, purpose, *wrapped);
  if (!secret) {
    return Fail(secret.error().Code(),
                std::string(field) + " does not open with this login's key (" +
                    secret.error().Message() + "): was the vault set up by another account?");
  }
  return std::string(secret->begin(), secret->end());
}

// A secret of the vault entry: the plain `field` as an admin may set it, else its wrapped
// copy `wrapped_field` opened with `r`.
Result<std::string> PlainOrWrapped(const Json& v, const char* field, const char* wrapped_field,
                                   ByteView r, const std::string& purpose) {
  std::string plain = StringField(v, field);
  if (!plain.empty() || StringField(v, wrapped_field).empty()) return plain;
  return Unwrap(v, wrapped_field, r, purpose);
}

bool ValidBucketId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (unsigned char c : id) {
    if (!std::isalnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

// SFTPServer ("host", "host:port", "[v6]", "[v6]:port") as an sftp: location's host and port;
// "host:22" when it has none, so that a path containing ':' stays unambiguous.
std::string SftpEndpoint(const std::string& server) {
  if (server.starts_with('[')) {
    return server.find("]:") != std::string::npos ? server : server + ":22";
  }
  const auto colons = std::count(server.begin(), server.end(), ':');
  if (colons == 1) return server;
  return colons == 0 ? server + ":22" : "[" + server + "]:22";  // a bare IPv6 address
}

}  // namespace

int64_t IntField(const Json& j, const char* field) {
  if (!j.is_object()) return 0;
  auto it = j.find(field);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

Result<std::string> FindEntry(const Json& profile, std::string_view section,
                              std::string_view name) {
  const std::string what = section == "Sources"       ? "Protected Item"
                           : section == "BackupRules" ? "Schedule"
                                                      : "Storage Vault";
  const Json& entries = profile.contains(section) && profile[std::string(section)].is_object()
                            ? profile[std::string(section)]
                            : Json::object();
  if (entries.contains(name)) return std::string(name);
  std::vector<std::string> matches, names;
  for (const auto& [id, e] : entries.items()) {
    const std::string description = e.is_object() ? StringField(e, "Description") : "";
    names.push_back("\"" + description + "\" (" + id + ")");
    if (description == name) matches.push_back(id);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.size() > 1) {
    return Fail(ErrorCode::kInvalidArgument, "several " + what + "s are called \"" +
                                                 std::string(name) + "\": use the ID of one");
  }
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  return Fail(ErrorCode::kNotFound,
              "no " + what + " \"" + std::string(name) + "\" in this account" +
                  (known.empty() ? " (it has none)" : "; there are: " + known));
}

bool HasVaultKeys(const Json& vault) {
  if (IntField(vault, "EncryptionKeyEncryptionMethod") == kEncryptionMethodUnconfigured)
    return false;
  if (IntField(vault, "DestinationType") != kVaultHalleyBucket) return true;
  return !StringField(vault, "CometBucketKey").empty() ||
         !StringField(vault, "EncryptedBucketKey").empty();
}

Result<VaultAccess> ReadVault(const Json& profile, const std::string& id, ByteView r) {
  const Json& vaults = profile.value("Destinations", Json::object());
  if (!vaults.is_object() || !vaults.contains(id) || !vaults[id].is_object()) {
    return Fail(ErrorCode::kNotFound, "no Storage Vault " + id + " in this account");
  }
  const Json& v = vaults[id];
  VaultAccess out;
  out.id = id;
  out.description = StringField(v, "Description");
  out.initialized = IntField(v, "RepoInitTimestamp") != 0;
  if (!HasVaultKeys(v)) {
    return Fail(ErrorCode::kInvalidArgument,
                "the Storage Vault \"" + out.description + "\" has no keys yet");
  }
  const int64_t method = IntField(v, "EncryptionKeyEncryptionMethod");
  if (method != kEncryptionMethodWrapV1) {
    return Fail(ErrorCode::kNotSupported, "the Storage Vault \"" + out.description +
                                              "\" uses key encryption method " +
                                              std::to_string(method) + ", unknown here");
  }
  HALLEY_ASSIGN_OR_RETURN(out.password,
                          Unwrap(v, "EncryptedEncryptionKey", r, kVaultPasswordPurpose));
  switch (IntField(v, "DestinationType")) {
    case kVaultLocalPath: {
      out.location = StringField(v, "LocalcopyPath");
      if (out.location.empty()) {
        return Fail(ErrorCode::kInvalidArgument,
                    "the Storage Vault \"" + out.description + "\" has no LocalcopyPath");
      }
      return out;
    }
    case kVaultHalleyBucket: {
      const std::string bucket = StringField(v, "CometBucket");
      std::string server = StringField(v, "CometServer");
      const size_t scheme_end = server.find("://");
      if (!ValidBucketId(bucket) || scheme_end == std::string::npos) {
        return Fail(ErrorCode::kInvalidArgument, "the Storage Vault \"" + out.description +
                                                     "\" has no valid CometServer and CometBucket");
      }
      std::string key = StringField(v, "CometBucketKey");
      if (key.empty()) {
        HALLEY_ASSIGN_OR_RETURN(key, Unwrap(v, "EncryptedBucketKey", r, BucketKeyPurpose(v)));
      }
      if (server.back() != '/') server += '/';
      // Bucket IDs need no escaping; a key might (an admin may set any string).
      std::string escaped_key;
      for (unsigned char c : key) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
          escaped_key.push_back(static_cast<char>(c));
        } else {
          static constexpr char kHex[] = "0123456789ABCDEF";
          escaped_key += {'%', kHex[c >> 4], kHex[c & 15]};
        }
      }
      out.location = "rest:" + server.substr(0, scheme_end + 3) + bucket + ":" + escaped_key + "@" +
                     server.substr(scheme_end + 3) + "storage/" + bucket + "/";
      SecureZero(key.data(), key.size());
      return out;
    }
    case kVaultS3: {
      const std::string server = StringField(v, "S3Server");
      const std::string bucket = StringField(v, "S3BucketName");
      if (server.empty() || bucket.empty() || server.find_first_of("/@") != std::string::npos) {
        return Fail(ErrorCode::kInvalidArgument, "the Storage Vault \"" + out.description +
                                                     "\" has no valid S3Server and S3BucketName");
      }
      const bool tls = !v.contains("S3UsesTLS") || v["S3UsesTLS"] != false;
      const std::string subdir = StringField(v, "S3Subdir");
      out.location = std::string("s3:") + (tls ? "https://" : "http://") + server + "/" + bucket +
                     (subdir.empty() ? "" : "/" + subdir);
      out.s3_access_key = StringField(v, "S3AccessKey");
      HALLEY_ASSIGN_OR_RETURN(
          out.s3_secret_key,
          PlainOrWrapped(v, "S3SecretKey", "EncryptedS3SecretKey", r, kS3SecretPurpose));
      out.s3_region = StringField(v, "S3CustomRegion");
      const int64_t lock_mode = IntField(v, "S3ObjectLockMode");
      const int64_t lock_days = IntField(v, "S3ObjectLockDays");
      if ((lock_mode == kObjectLockLegacy || lock_mode == kObjectLockOn) && lock_days > 0) {
        if (lock_days > 36500) {
          return Fail(ErrorCode::kInvalidArgument, "the Storage Vault \"" + out.description +
                                                       "\" asks for more than 36500 days of "
                                                       "S3ObjectLockDays");
        }
        out.s3_object_lock_days = static_cast<int>(lock_days);
      }
      return out;
    }
    case kVaultSftp: {
      const std::string server = StringField(v, "SFTPServer");
      const std::string path = StringField(v, "SFTPRemotePath");
      if (server.empty() || path.empty() || server.find_first_of("@/") != std::string::npos) {
        return Fail(ErrorCode::kInvalidArgument, "the Storage Vault \"" + out.description +
                                                     "\" has no valid SFTPServer and "
                                                     "SFTPRemotePath");
      }
      const std::string user = StringField(v, "SFTPUsername");
      out.location = "sftp:" + (user.empty() ? "" : user + "@") + SftpEndpoint(server) + ":" + path;
      const int64_t mode = IntField(v, "SFTPAuthMode");
      if (mode == kSftpAuthPassword) {
        HALLEY_ASSIGN_OR_RETURN(
            out.sftp_password,
            PlainOrWrapped(v, "SFTPPassword", "EncryptedSFTPPassword", r, kSftpPasswordPurpose));
      } else if (mode == kSftpAuthPrivateKey) {
        HALLEY_ASSIGN_OR_RETURN(
            out.sftp_private_key,
            PlainOrWrapped(v, "SFTPPrivateKey", "EncryptedSFTPPrivateKey", r, kSftpKeyPurpose));
      }
      if (v.contains("SFTPCustomAuth_UseKnownHostsFile") &&
          v["SFTPCustomAuth_UseKnownHostsFile"] == true) {
        out.sftp_known_hosts = StringField(v, "SFTPCustomAuth_KnownHostsFile");
      }
      return out;
    }
    default:
      return Fail(ErrorCode::kNotSupported,
                  "the Storage Vault \"" + out.description + "\" has type " +
                      std::to_string(IntField(v, "DestinationType")) +
                      "; this client opens S3 (1000), SFTP (1001), Local Path (1002) and "
                      "Halley bucket (1003) vaults");
  }
}

std::string NewVaultPassword() { return HexEncode(crypto::RandomBytes(16)); }

void SetVaultPassword(Json& vault, ByteView r, std::string_view password) {
  vault["EncryptionKeyEncryptionMethod"] = kEncryptionMethodWrapV1;
  vault["EncryptedEncryptionKey"] =
      Base64Encode(crypto::WrapSecret(r, kVaultPasswordPurpose, AsBytes(password)));
}

void SetBucketKey(Json& vault, ByteView r, std::string_view key) {
  vault["CometBucketKey"] = "";
  vault["EncryptedBucketKey"] =
      Base64Encode(crypto::WrapSecret(r, BucketKeyPurpose(vault), AsBytes(key)));
}

Result<void> RewrapSecrets(Json& profile, ByteView old_r, ByteView new_r) {
  if (!profile.contains("Destinations") || !profile["Destinations"].is_object()) return {};
  // Re-wraps one field; a value already under new_r (made after a password reset) stays.
  auto rewrap = [&](Json& v, const char* field, const std::string& purpose) -> Result<void> {
    auto secret = Unwrap(v, field, old_r, purpose);
    if (!secret) {
      if (Unwrap(v, field, new_r, purpose)) return {};
      return Fail(secret.error());
    }
    auto wrapped = crypto::WrapSecret(new_r, purpose, AsBytes(*secret));
    SecureZero(secret->data(), secret->size());
    v[field] = Base64Encode(wrapped);
    return {};
  };
  for (auto& [id, v] : profile["Destinations"].items()) {
    if (!v.is_object()) continue;
    if (IntField(v, "EncryptionKeyEncryptionMethod") == kEncryptionMethodWrapV1) {
      HALLEY_RETURN_IF_ERROR(rewrap(v, "EncryptedEncryptionKey", kVaultPasswordPurpose));
    }
    if (!StringField(v, "EncryptedBucketKey").empty()) {
      HALLEY_RETURN_IF_ERROR(rewrap(v, "EncryptedBucketKey", BucketKeyPurpose(v)));
    }
    for (auto [field, purpose] : {std::pair{"EncryptedS3SecretKey", kS3SecretPurpose},
                                  {"EncryptedSFTPPassword", kSftpPasswordPurpose},
                                  {"EncryptedSFTPPrivateKey", kSftpKeyPurpose}}) {
      if (!StringField(v, field).empty()) HALLEY_RETURN_IF_ERROR(rewrap(v, field, purpose));
    }
  }
  return {};
}

Json SftpVault(const SftpLogin& login, std::string_view description, ByteView r, int64_t now) {
  Json v = {{"Description", description},
            {"CreateTime", now},
            {"ModifyTime", now},
            {"EncryptionKeyEncryptionMethod", kEncryptionMethodUnconfigured},
            {"EncryptedEncryptionKey", ""},
            {"RepoInitTimestamp", 0},
            {"DestinationType", kVaultSftp},
            {"SFTPServer", login.server},
            {"SFTPUsername", login.user},
            {"SFTPRemotePath", login.path},
            {"SFTPAuthMode", login.auth_mode},
            {"SFTPPassword", ""},
            {"SFTPPrivateKey", ""},
            {"SFTPCustomAuth_UseKnownHostsFile", !login.known_hosts_file.empty()},
            {"SFTPCustomAuth_KnownHostsFile", login.known_hosts_file}};
  if (login.auth_mode == kSftpAuthPassword) {
    v["EncryptedSFTPPassword"] =
        Base64Encode(crypto::WrapSecret(r, kSftpPasswordPurpose, AsBytes(login.secret)));
  } else if (login.auth_mode == kSftpAuthPrivateKey) {
    v["EncryptedSFTPPrivateKey"] =
        Base64Encode(crypto::WrapSecret(r, kSftpKeyPurpose, AsBytes(login.secret)));
  }
  return v;
}

Result<Json> VaultForLocation(std::string_view location, std::string_view description, ByteView r,
                              int64_t now, const S3Credentials& s3) {
  Json v = {{"Description", description},
            {"CreateTime", now},
            {"ModifyTime", now},
            {"EncryptionKeyEncryptionMethod", kEncryptionMethodUnconfigured},
            {"EncryptedEncryptionKey", ""},
            {"RepoInitTimestamp", 0}};
  const std::string_view kForms =
      "a local path, a Halley bucket rest:http[s]://ID:KEY@HOST[:PORT]/storage/ID/, an S3 "
      "bucket s3:[http[s]://]HOST[:PORT]/BUCKET[/PREFIX] or an SFTP directory "
      "sftp:[USER@]HOST[:PORT]:PATH";
  if (location.rfind("s3:", 0) == 0) {
    std::string_view rest = location.substr(3);
    bool tls = true;
    if (rest.rfind("http://", 0) == 0) {
      tls = false;
      rest.remove_prefix(7);
    } else if (rest.rfind("https://", 0) == 0) {
      rest.remove_prefix(8);
    }
    const size_t slash = rest.find('/');
    const std::string_view server = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    while (path.ends_with('/')) path.remove_suffix(1);
    const std::string_view bucket = path.substr(0, path.find('/'));
    const std::string_view subdir =
        bucket.size() < path.size() ? path.substr(bucket.size() + 1) : std::string_view();
    if (server.empty() || bucket.empty() || server.find_first_of("@?#") != std::string::npos) {
      return Fail(ErrorCode::kInvalidArgument, "a vault location must be " + std::string(kForms));
    }
    if (s3.access_key.empty() || s3.secret_key.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "an S3 vault needs its credentials: set AWS_ACCESS_KEY_ID and "
                  "AWS_SECRET_ACCESS_KEY (the secret is kept wrapped by your login)");
    }
    v["DestinationType"] = kVaultS3;
    v["S3Server"] = server;
    v["S3UsesTLS"] = tls;
    v["S3BucketName"] = bucket;
    v["S3Subdir"] = subdir;
    v["S3CustomRegion"] = s3.region;
    v["S3AccessKey"] = s3.access_key;
    v["S3SecretKey"] = "";
    v["S3ObjectLockMode"] = s3.object_lock_days > 0 ? kObjectLockOn : kObjectLockOff;
    v["S3ObjectLockDays"] = s3.object_lock_days;
    v["EncryptedS3SecretKey"] =
        Base64Encode(crypto::WrapSecret(r, kS3SecretPurpose, AsBytes(s3.secret_key)));
    return v;
  }
  if (location.rfind("rest:", 0) != 0) {
    if (location.rfind("local:", 0) == 0) location.remove_prefix(6);
    if (location.empty() || location.find(':') != std::string_view::npos) {
      return Fail(ErrorCode::kInvalidArgument, "a vault location must be " + std::string(kForms));
    }
    v["DestinationType"] = kVaultLocalPath;
    v["LocalcopyPath"] = location;
    return v;
  }
  // rest:SCHEME://ID:KEY@HOSTPATH/storage/ID/
  const std::string url(location.substr(5));
  const size_t scheme_end = url.find("://");
  const size_t at = url.find('@');
  const size_t colon = url.find(':', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  const size_t marker = url.rfind("/storage/");
  if (scheme_end == std::string::npos || at == std::string::npos || colon > at ||
      marker == std::string::npos || marker < at) {
    return Fail(ErrorCode::kInvalidArgument, "a vault location must be " + std::string(kForms));
  }
  const std::string bucket = url.substr(scheme_end + 3, colon - scheme_end - 3);
  std::string key = url.substr(colon + 1, at - colon - 1);
  std::string path_bucket = url.substr(marker + 9);
  if (!path_bucket.empty() && path_bucket.back() == '/') path_bucket.pop_back();
  if (!ValidBucketId(bucket) || path_bucket != bucket || key.empty() ||
      key.find('%') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "a Halley bucket location is rest:http[s]://ID:KEY@HOST[:PORT]/storage/ID/ "
                "with the same bucket ID twice and the key as the server gave it");
  }
  v["DestinationType"] = kVaultHalleyBucket;
  v["CometServer"] = url.substr(0, scheme_end + 3) + url.substr(at + 1, marker + 1 - at - 1);
  v["CometBucket"] = bucket;
  SetBucketKey(v, r, key);
  SecureZero(key.data(), key.size());
  return v;
}

Result<FileItem> ReadFileItem(const Json& profile, const std::string& id) {
  const Json& items = profile.value("Sources", Json::object());
  if (!items.is_object() || !items.contains(id) || !items[id].is_object()) {
    return Fail(ErrorCode::kNotFound, "no Protected Item " + id + " in this account");
  }
  const Json& s = items[id];
  FileItem out;
  out.id = id;
  out.description = StringField(s, "Description");
  if (StringField(s, "Engine") != kEngineFile) {
    return Fail(ErrorCode::kNotSupported, "the Protected Item \"" + out.description +
                                              "\" uses the engine \"" + StringField(s, "Engine") +
                                              "\"; this client backs up " + kEngineFile);
  }
  // Keys sort as strings; INCLUDE2 before INCLUDE10 matters only for display.
  std::map<std::string, std::string> props;
  if (s.contains("EngineProps") && s["EngineProps"].is_object()) {
    for (const auto& [k, val] : s["EngineProps"].items()) {
      if (val.is_string()) props[k] = val.get<std::string>();
    }
  }
  for (const auto& [k, val] : props) {
    if (k.rfind("INCLUDE", 0) == 0) out.paths.push_back(val);
    if (k.rfind("EXCLUDE", 0) == 0) out.excludes.push_back(val);
    if (k == "RESCAN_UNCHANGED") out.rescan_unchanged = val != "" && val != "0" && val != "false";
  }
  if (out.paths.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "the Protected Item \"" + out.description + "\" names no path to back up");
  }
  return out;
}

std::vector<MandatoryExclusion> MandatoryExclusions(const Json& profile) {
  std::vector<MandatoryExclusion> out;
  if (!profile.is_object() || !profile.contains("Policy")) return out;
  const Json& policy = profile["Policy"];
  if (!policy.is_object() || !policy.contains("FileAndFolderMandatoryExclusions")) return out;
  const Json& list = policy["FileAndFolderMandatoryExclusions"];
  if (!list.is_array()) return out;
  for (const Json& e : list) {
    const std::string pattern = StringField(e, "Exclude");
    if (pattern.empty()) continue;
    const auto os = e.find("RestrictOS");
    bool here = true;
    if (os != e.end() && os->is_number_integer()) {
      here = os->get<int64_t>() == kRestrictOsAny || os->get<int64_t>() == kRestrictOsLinux;
    } else if (os != e.end() && os->is_string()) {
      std::string name = os->get<std::string>();
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      here = name.empty() || name == "linux";
    }
    if (!here) continue;
    const auto regex = e.find("Regex");
    out.push_back({pattern, regex != e.end() && regex->is_boolean() && regex->get<bool>()});
  }
  return out;
}

Json NewFileItem(const FileItem& item, std::string_view owner_device, int64_t now) {
  Json props = Json::object();
  auto numbered = [](const char* prefix, size_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%04zu", prefix, i);
    return std::string(buf);
  };
  for (size_t i = 0; i < item.paths.size(); ++i) props[numbered("INCLUDE", i)] = item.paths[i];
  for (size_t i = 0; i < item.excludes.size(); ++i) {
    props[numbered("EXCLUDE", i)] = item.excludes[i];
  }
  if (item.rescan_unchanged) props["RESCAN_UNCHANGED"] = "1";
  return {{"Engine", kEngineFile},       {"Description", item.description},
          {"OwnerDevice", owner_device}, {"CreateTime", now},
          {"ModifyTime", now},           {"PreExec", Json::array()},
          {"ThawExec", Json::array()},   {"PostExec", Json::array()},
          {"EngineProps", props}};
}

}  // namespace halley::client
