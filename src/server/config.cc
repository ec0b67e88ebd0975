// SPDX-License-Identifier: Apache-2.0
#include "server/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <limits>
#include <set>

#include "crypto/bcrypt.h"
#include "fs/fs.h"

namespace halley::server {
namespace {

constexpr size_t kMaxConfigBytes = 16 << 20;

constexpr int64_t kDefaultAbandonAfter = 600;
constexpr int64_t kMinAbandonAfter = 10;
constexpr int64_t kMaxAbandonAfter = 30 * 86400;
constexpr int64_t kDefaultMissedGrace = 600;
constexpr int64_t kMaxMissedGrace = 7 * 86400;

enum class Kind { kBool, kInt, kString, kObject, kArray };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kBool:
      return "a boolean";
    case Kind::kInt:
      return "an integer";
    case Kind::kString:
      return "a string";
    case Kind::kObject:
      return "an object";
    case Kind::kArray:
      return "an array";
  }
  return "";
}

bool Is(const Json& j, Kind k) {
  switch (k) {
    case Kind::kBool:
      return j.is_boolean();
    case Kind::kInt:
      return j.is_number_integer();
    case Kind::kString:
      return j.is_string();
    case Kind::kObject:
      return j.is_object();
    case Kind::kArray:
      return j.is_array();
  }
  return false;
}

// A key that must have `kind` if present. `where` names it in messages ("StorageRole.Storage").
Result<void> Expect(const Json& parent, const char* key, Kind kind, const std::string& where) {
  if (!parent.is_object() || !parent.contains(key) || parent[key].is_null()) return {};
  if (!Is(parent[key], kind)) {
    return Fail(ErrorCode::kInvalidArgument, "halleyd.cfg: " + where + (where.empty() ? "" : ".") +
                                                 key + " must be " + KindName(kind));
  }
  return {};
}

const Json& Child(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

bool BoolOr(const Json& j, const char* key, bool def) {
  const Json& v = Child(j, key);
  return v.is_boolean() ? v.get<bool>() : def;
}

int64_t IntOr(const Json& j, const char* key, int64_t def) {
  const Json& v = Child(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : def;
}

// An integer key within [min, max] if present (its type is checked by Expect).
Result<void> ExpectRange(const Json& parent, const char* key, int64_t min, int64_t max,
                         const std::string& where) {
  const Json& v = Child(parent, key);
  if (!v.is_number_integer()) return {};
  const int64_t n = v.get<int64_t>();
  if (n < min || n > max) {
    return Fail(ErrorCode::kInvalidArgument, "halleyd.cfg: " + where + "." + key +
                                                 " must be between " + std::to_string(min) +
                                                 " and " + std::to_string(max));
  }
  return {};
}

Result<void> ValidateDestination(const Json& d, const std::string& where, bool allow_span) {
  HALLEY_RETURN_IF_ERROR(Expect(d, "DestinationType", Kind::kInt, where));
  HALLEY_RETURN_IF_ERROR(Expect(d, "LocalcopyPath", Kind::kString, where));
  HALLEY_RETURN_IF_ERROR(Expect(d, "SpanTargets", Kind::kArray, where));
  const int64_t type = IntOr(d, "DestinationType", kDestinationLocalPath);
  if (type == kDestinationLocalPath) {
    if (Child(d, "LocalcopyPath").get_ref<const std::string&>().empty()) {
      return Fail(ErrorCode::kInvalidArgument, "halleyd.cfg: " + where + ".LocalcopyPath is empty");
    }
    return {};
  }
  if (type == kDestinationS3 && allow_span) {
    for (const char* key :
         {"S3Server", "S3BucketName", "S3Subdir", "S3AccessKey", "S3SecretKey", "S3CustomRegion"}) {
      HALLEY_RETURN_IF_ERROR(Expect(d, key, Kind::kString, where));
    }
    HALLEY_RETURN_IF_ERROR(Expect(d, "S3UsesTLS", Kind::kBool, where));
    for (const char* key : {"S3Server", "S3BucketName"}) {
      if (!Child(d, key).is_string() || Child(d, key).get_ref<const std::string&>().empty()) {
        return Fail(ErrorCode::kInvalidArgument,
                    "halleyd.cfg: " + where + "." + key + " is needed for an S3 destination");
      }
    }
    return {};
  }
  if (type == kDestinationSpanned && allow_span) {
    const Json& targets = Child(d, "SpanTargets");
    if (!targets.is_array() || targets.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "halleyd.cfg: " + where + ".SpanTargets needs at least one target");
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      HALLEY_RETURN_IF_ERROR(ValidateDestination(
          targets[i], where + ".SpanTargets[" + std::to_string(i) + "]", false));
    }
    return {};
  }
  return Fail(ErrorCode::kNotSupported,
              "halleyd.cfg: " + where + ".DestinationType " + std::to_string(type) +
                  " is not supported for the Storage Role (use 1002 Local Path" +
                  (allow_span ? ", 1006 Spanned or 1000 S3-compatible)" : ")"));
}

}  // namespace

Result<void> ValidateStorageTemplates(const Json& templates) {
  std::set<std::string> ids;
  int defaults = 0;
  for (const Json& t : templates) {
    const std::string where = "AuthenticationRole.RemoteStorage[]";
    for (const char* key : {"Type", "ID", "Description", "RemoteAddress", "Username", "Password"}) {
      HALLEY_RETURN_IF_ERROR(Expect(t, key, Kind::kString, where));
    }
    HALLEY_RETURN_IF_ERROR(Expect(t, "Default", Kind::kBool, where));
    HALLEY_RETURN_IF_ERROR(Expect(t, "StorageLimitEnabled", Kind::kBool, where));
    HALLEY_RETURN_IF_ERROR(Expect(t, "StorageLimitBytes", Kind::kInt, where));
    const std::string id = t.is_object() ? t.value("ID", "") : "";
    if (id.empty() || t.value("Type", "").empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "halleyd.cfg: every Storage Template (" + where + ") needs an ID and a Type");
    }
    if (!ids.insert(id).second) {
      return Fail(ErrorCode::kInvalidArgument,
                  "halleyd.cfg: two Storage Templates have the ID '" + id + "'");
    }
    defaults += BoolOr(t, "Default", false) ? 1 : 0;
    const std::string address = t.value("RemoteAddress", "");
    if (!address.empty() && address.rfind("http://", 0) != 0 && address.rfind("https://", 0) != 0) {
      return Fail(ErrorCode::kInvalidArgument, "halleyd.cfg: Storage Template '" + id +
                                                   "': RemoteAddress must be an http:// or "
                                                   "https:// URL");
    }
    if (!address.empty() && t.value("Username", "").empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "halleyd.cfg: Storage Template '" + id +
                      "' needs the Username and Password of an administrator on " + address);
    }
  }
  if (defaults > 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "halleyd.cfg: only one Storage Template may be the Default");
  }
  return {};
}

Json ServerConfig::Default(const std::string& data_dir) {
  (void)data_dir;  // paths are stored relative to the data directory
  return Json{
      {"AdminUsers", Json::array()},
      {"AuthenticationRole",
       {{"RoleEnabled", true},
        {"DatabaseCheckLevel", 0},
        {"PruneLogsAfterDays", 90},
        {"GenerateMissedBackupEvents", true},
        {"NoMissedBackupEventsBefore", 0},
        {"MissedBackupGraceSeconds", kDefaultMissedGrace},
        {"AbandonJobsAfterSeconds", kDefaultAbandonAfter},
        // The default Storage Template: this server's own Storage Role ("" = self).
        {"RemoteStorage", Json::array({{{"Type", "comet"},
                                        {"Description", "This server's Storage Role"},
                                        {"RemoteAddress", ""},
                                        {"ID", "default-self"},
                                        {"Default", true}}})}}},
      {"StorageRole",
       {{"RoleEnabled", true},
        {"Storage", {{"DestinationType", kDestinationLocalPath}, {"LocalcopyPath", "storage"}}}}},
      {"ListenAddresses",
       Json::array(
           {{{"ListenAddress", "127.0.0.1:8060"}, {"SSLCertPath", ""}, {"SSLCertKey", ""}}})},
      {"TrustXForwardedFor", false},
      {"ExperimentalOptions", Json::array()},
      {"LoginProtection", {{"Enabled", true}, {"FailureThreshold", 10}, {"CooldownSeconds", 300}}},
      {"SessionSettings", {{"ExpiredInSeconds", 1800}}},
  };
}

Result<ServerConfig> ServerConfig::FromJson(Json doc, const std::string& data_dir) {
  ServerConfig config(std::move(doc), data_dir);
  HALLEY_RETURN_IF_ERROR(config.Validate());
  return config;
}

Result<ServerConfig> ServerConfig::LoadOrCreate(const std::string& path,
                                                const std::string& data_dir) {
  auto text = fs::ReadFileLimited(path, kMaxConfigBytes);
  if (!text && text.error().Code() == ErrorCode::kNotFound) {
    const std::string fresh = Default(data_dir).dump(2) + "\n";
    HALLEY_RETURN_IF_ERROR(fs::WriteFileAtomic(path, fresh, 0600));
    text = fresh;
  }
  if (!text) return Fail(text.error());
  auto doc = ParseJson(*text);
  if (!doc) return Fail(doc.error().WithContext(path));
  if (!doc->is_object()) {
    return Fail(ErrorCode::kInvalidArgument, path + ": the configuration must be a JSON object");
  }
  auto config = FromJson(std::move(*doc), data_dir);
  if (!config) return Fail(config.error().WithContext(path));
  return config;
}

Result<void> ServerConfig::Save(const std::string& path) const {
  return fs::WriteFileAtomic(path, doc_.dump(2) + "\n", 0600);
}

Result<void> ServerConfig::Validate() const {
  if (!doc_.is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "halleyd.cfg must be a JSON object");
  }
  HALLEY_RETURN_IF_ERROR(Expect(doc_, "AdminUsers", Kind::kArray, ""));
  for (const Json& admin : Child(doc_, "AdminUsers")) {
    HALLEY_RETURN_IF_ERROR(Expect(admin, "Username", Kind::kString, "AdminUsers[]"));
    HALLEY_RETURN_IF_ERROR(Expect(admin, "Password", Kind::kString, "AdminUsers[]"));
    HALLEY_RETURN_IF_ERROR(Expect(admin, "PasswordFormat", Kind::kInt, "AdminUsers[]"));
    HALLEY_RETURN_IF_ERROR(Expect(admin, "AllowPasswordLogin", Kind::kBool, "AdminUsers[]"));
    HALLEY_RETURN_IF_ERROR(Expect(admin, "OrganizationID", Kind::kString, "AdminUsers[]"));
    if (!admin.is_object() || !admin.contains("Username") || !admin["Username"].is_string() ||
        admin["Username"].get_ref<const std::string&>().empty()) {
      return Fail(ErrorCode::kInvalidArgument, "halleyd.cfg: AdminUsers[] needs a Username");
    }
  }
  HALLEY_RETURN_IF_ERROR(Expect(doc_, "Organizations", Kind::kObject, ""));
  for (const auto& [id, org] : Child(doc_, "Organizations").items()) {
    const std::string where = "Organizations." + id;
    if (!org.is_object()) {
      return Fail(ErrorCode::kInvalidArgument, "halleyd.cfg: " + where + " must be an object");
    }
    HALLEY_RETURN_IF_ERROR(Expect(org, "Name", Kind::kString, where));
    HALLEY_RETURN_IF_ERROR(Expect(org, "Hosts", Kind::kArray, where));
    HALLEY_RETURN_IF_ERROR(Expect(org, "IsSuspended", Kind::kBool, where));
  }
  for (const char* role : {"AuthenticationRole", "StorageRole"}) {
    HALLEY_RETURN_IF_ERROR(Expect(doc_, role, Kind::kObject, ""));
    HALLEY_RETURN_IF_ERROR(Expect(Child(doc_, role), "RoleEnabled", Kind::kBool, role));
  }
  const Json& auth = Child(doc_, "AuthenticationRole");
  HALLEY_RETURN_IF_ERROR(Expect(auth, "DatabaseCheckLevel", Kind::kInt, "AuthenticationRole"));
  HALLEY_RETURN_IF_ERROR(Expect(auth, "PruneLogsAfterDays", Kind::kInt, "AuthenticationRole"));
  HALLEY_RETURN_IF_ERROR(Expect(auth, "RemoteStorage", Kind::kArray, "AuthenticationRole"));
  HALLEY_RETURN_IF_ERROR(ValidateStorageTemplates(Child(auth, "RemoteStorage")));
  HALLEY_RETURN_IF_ERROR(
      Expect(auth, "GenerateMissedBackupEvents", Kind::kBool, "AuthenticationRole"));
  for (const char* key :
       {"NoMissedBackupEventsBefore", "MissedBackupGraceSeconds", "AbandonJobsAfterSeconds"}) {
    HALLEY_RETURN_IF_ERROR(Expect(auth, key, Kind::kInt, "AuthenticationRole"));
  }
  HALLEY_RETURN_IF_ERROR(ExpectRange(auth, "NoMissedBackupEventsBefore", 0,
                                     std::numeric_limits<int64_t>::max() / 2,
                                     "AuthenticationRole"));
  HALLEY_RETURN_IF_ERROR(
      ExpectRange(auth, "MissedBackupGraceSeconds", 0, kMaxMissedGrace, "AuthenticationRole"));
  HALLEY_RETURN_IF_ERROR(ExpectRange(auth, "AbandonJobsAfterSeconds", kMinAbandonAfter,
                                     kMaxAbandonAfter, "AuthenticationRole"));
  const Json& storage = Child(doc_, "StorageRole");
  HALLEY_RETURN_IF_ERROR(Expect(storage, "Storage", Kind::kObject, "StorageRole"));
  HALLEY_RETURN_IF_ERROR(Expect(storage, "VerifyUploads", Kind::kBool, "StorageRole"));
  if (StorageRoleEnabled()) {
    HALLEY_RETURN_IF_ERROR(
        ValidateDestination(Child(storage, "Storage"), "StorageRole.Storage", true));
  }
  HALLEY_RETURN_IF_ERROR(Expect(doc_, "ListenAddresses", Kind::kArray, ""));
  const Json& listen = Child(doc_, "ListenAddresses");
  if (!listen.is_array() || listen.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "halleyd.cfg: ListenAddresses needs an address");
  }
  for (const Json& l : listen) {
    for (const char* key : {"ListenAddress", "SSLCertPath", "SSLCertKey"}) {
      HALLEY_RETURN_IF_ERROR(Expect(l, key, Kind::kString, "ListenAddresses[]"));
    }
    if (!Child(l, "ListenAddress").is_string()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "halleyd.cfg: ListenAddresses[] needs a ListenAddress");
    }
  }
  HALLEY_RETURN_IF_ERROR(Expect(doc_, "TrustXForwardedFor", Kind::kBool, ""));
  HALLEY_RETURN_IF_ERROR(Expect(doc_, "ExperimentalOptions", Kind::kArray, ""));
  HALLEY_RETURN_IF_ERROR(Expect(doc_, "LoginProtection", Kind::kObject, ""));
  const Json& lp = Child(doc_, "LoginProtection");
  HALLEY_RETURN_IF_ERROR(Expect(lp, "Enabled", Kind::kBool, "LoginProtection"));
  HALLEY_RETURN_IF_ERROR(Expect(lp, "FailureThreshold", Kind::kInt, "LoginProtection"));
  HALLEY_RETURN_IF_ERROR(Expect(lp, "CooldownSeconds", Kind::kInt, "LoginProtection"));
  HALLEY_RETURN_IF_ERROR(Expect(doc_, "SessionSettings", Kind::kObject, ""));
  HALLEY_RETURN_IF_ERROR(
      Expect(Child(doc_, "SessionSettings"), "ExpiredInSeconds", Kind::kInt, "SessionSettings"));
  return {};
}

std::string ServerConfig::Resolve(const std::string& path) const {
  if (path.empty() || path.front() == '/') return path;
  return data_dir_ + "/" + path;
}

bool ServerConfig::AuthRoleEnabled() const {
  return BoolOr(Child(doc_, "AuthenticationRole"), "RoleEnabled", true);
}

bool ServerConfig::StorageRoleEnabled() const {
  return BoolOr(Child(doc_, "StorageRole"), "RoleEnabled", true);
}

std::vector<httpd::ListenSpec> ServerConfig::ListenAddresses() const {
  std::vector<httpd::ListenSpec> out;
  for (const Json& l : Child(doc_, "ListenAddresses")) {
    httpd::ListenSpec spec;
    spec.address = Child(l, "ListenAddress").get<std::string>();
    if (Child(l, "SSLCertPath").is_string()) spec.tls_cert_path = Resolve(l["SSLCertPath"]);
    if (Child(l, "SSLCertKey").is_string()) spec.tls_key_path = Resolve(l["SSLCertKey"]);
    out.push_back(std::move(spec));
  }
  return out;
}

std::vector<std::string> ServerConfig::StorageVolumes() const {
  const Json& storage = Child(Child(doc_, "StorageRole"), "Storage");
  std::vector<std::string> out;
  const int64_t type = IntOr(storage, "DestinationType", kDestinationLocalPath);
  if (type == kDestinationS3) return out;
  if (type == kDestinationSpanned) {
    for (const Json& t : Child(storage, "SpanTargets")) out.push_back(Resolve(t["LocalcopyPath"]));
  } else {
    out.push_back(Resolve(Child(storage, "LocalcopyPath").get<std::string>()));
  }
  return out;
}

std::optional<S3Destination> ServerConfig::StorageS3() const {
  const Json& storage = Child(Child(doc_, "StorageRole"), "Storage");
  if (IntOr(storage, "DestinationType", kDestinationLocalPath) != kDestinationS3) {
    return std::nullopt;
  }
  auto text = [&](const char* key) {
    const Json& v = Child(storage, key);
    return v.is_string() ? v.get<std::string>() : std::string();
  };
  std::string subdir = text("S3Subdir");
  while (subdir.starts_with('/')) subdir.erase(0, 1);
  while (subdir.ends_with('/')) subdir.pop_back();
  return S3Destination{(BoolOr(storage, "S3UsesTLS", true) ? "https://" : "http://") +
                           text("S3Server") + "/" + text("S3BucketName") +
                           (subdir.empty() ? "" : "/" + subdir),
                       text("S3AccessKey"), text("S3SecretKey"), text("S3CustomRegion")};
}

bool ServerConfig::VerifyUploads() const {
  return BoolOr(Child(doc_, "StorageRole"), "VerifyUploads", true);
}

Json ServerConfig::Organizations() const {
  const Json& orgs = Child(doc_, "Organizations");
  return orgs.is_object() ? orgs : Json::object();
}

std::optional<std::string> ServerConfig::AdminOrganization(std::string_view username) const {
  for (const Json& admin : Child(doc_, "AdminUsers")) {
    const Json& name = Child(admin, "Username");
    if (!name.is_string() || name.get_ref<const std::string&>() != username) continue;
    const Json& org = Child(admin, "OrganizationID");
    return org.is_string() ? org.get<std::string>() : std::string();
  }
  return std::nullopt;
}

bool ServerConfig::TrustXForwardedFor() const { return BoolOr(doc_, "TrustXForwardedFor", false); }

LoginProtection ServerConfig::Protection() const {
  const Json& lp = Child(doc_, "LoginProtection");
  LoginProtection p;
  p.enabled = BoolOr(lp, "Enabled", p.enabled);
  const int64_t threshold = IntOr(lp, "FailureThreshold", 0);
  const int64_t cooldown = IntOr(lp, "CooldownSeconds", 0);
  if (threshold > 0) p.failure_threshold = static_cast<int>(std::min<int64_t>(threshold, 1 << 20));
  if (cooldown > 0) p.cooldown_seconds = static_cast<int>(std::min<int64_t>(cooldown, 86400 * 30));
  return p;
}

int64_t ServerConfig::SessionSeconds() const {
  const int64_t s = IntOr(Child(doc_, "SessionSettings"), "ExpiredInSeconds", 0);
  return s > 0 ? s : 1800;
}

int ServerConfig::DatabaseCheckLevel() const {
  return static_cast<int>(IntOr(Child(doc_, "AuthenticationRole"), "DatabaseCheckLevel", 0));
}

int ServerConfig::PruneLogsAfterDays() const {
  const int64_t d = IntOr(Child(doc_, "AuthenticationRole"), "PruneLogsAfterDays", 90);
  return d > 0 ? static_cast<int>(std::min<int64_t>(d, 36500)) : 90;
}

int64_t ServerConfig::AbandonJobsAfterSeconds() const {
  const int64_t s =
      IntOr(Child(doc_, "AuthenticationRole"), "AbandonJobsAfterSeconds", kDefaultAbandonAfter);
  return std::clamp(s, kMinAbandonAfter, kMaxAbandonAfter);
}

bool ServerConfig::GenerateMissedBackupEvents() const {
  return BoolOr(Child(doc_, "AuthenticationRole"), "GenerateMissedBackupEvents", true);
}

int64_t ServerConfig::NoMissedBackupEventsBefore() const {
  return std::max<int64_t>(
      IntOr(Child(doc_, "AuthenticationRole"), "NoMissedBackupEventsBefore", 0), 0);
}

int64_t ServerConfig::MissedBackupGraceSeconds() const {
  const int64_t s =
      IntOr(Child(doc_, "AuthenticationRole"), "MissedBackupGraceSeconds", kDefaultMissedGrace);
  return std::clamp<int64_t>(s, 0, kMaxMissedGrace);
}

bool ServerConfig::HasAdmins() const { return !Child(doc_, "AdminUsers").empty(); }

Result<bool> ServerConfig::HashPlaintextPasswords() {
  bool changed = false;
  if (!doc_.contains("AdminUsers")) return false;
  for (Json& admin : doc_["AdminUsers"]) {
    if (IntOr(admin, "PasswordFormat", kPasswordFormatPlaintext) != kPasswordFormatPlaintext) {
      continue;
    }
    const std::string plain =
        Child(admin, "Password").is_string() ? admin["Password"].get<std::string>() : "";
    HALLEY_ASSIGN_OR_RETURN(std::string hash, crypto::BcryptSha512(AsBytes(plain)));
    admin["Password"] = hash;
    admin["PasswordFormat"] = kPasswordFormatBcryptSha512;
    changed = true;
  }
  return changed;
}

}  // namespace halley::server
