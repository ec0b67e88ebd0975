// SPDX-License-Identifier: Apache-2.0
//
// The JSON API (reference/comet.md §2.1): POST /api/v1/<endpoint> with form fields, the
// caller's credentials in the same form (Username + AuthType Password|SessionKey), replies
// {"Status":N,"Message":"..."} or the resource's JSON. Bodies are limited to 1 MiB and JSON
// parameters to 64 levels; every failure is a 4xx/5xx with a message, never a crash.
#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "crypto/bcrypt.h"
#include "server/api_call.h"

namespace halley::server {
namespace api {
namespace {

// Admin accounts are checked against bcrypt hashes in halleyd.cfg; an unknown name costs the
// same bcrypt as a wrong password.
bool VerifyAdminPassword(App& app, const ServerConfig& config, const std::string& user,
                         const std::string& password) {
  static const std::string kDummy = *crypto::BcryptSha512(AsBytes("not a password"));
  for (const Json& admin : config.Document().value("AdminUsers", Json::array())) {
    if (admin.value("Username", "") != user) continue;
    if (!admin.value("AllowPasswordLogin", true)) return false;
    const std::string hash = admin.value("Password", "");
    const int format = admin.value("PasswordFormat", kPasswordFormatPlaintext);
    return app.AdminSecrets().Check(user, hash, password, [&] {
      if (format == kPasswordFormatBcryptSha512) {
        return crypto::BcryptSha512Verify(AsBytes(password), hash);
      }
      return format == kPasswordFormatBcrypt && crypto::BcryptVerify(password, hash);
    });
  }
  (void)crypto::BcryptSha512Verify(AsBytes(password), kDummy);
  return false;
}

Result<void> AuthenticateAdmin(Call& c) {
  const ServerConfig config = c.app.Config();
  const std::string user = c.GetOr("Username");
  const std::string type = c.GetOr("AuthType");
  if (type == "SessionKey") {
    auto session = c.app.Sessions().Check(c.GetOr("SessionKey"), config.SessionSeconds());
    if (!session || session->type != "admin" || (!user.empty() && user != session->username)) {
      return Fail(ErrorCode::kUnauthenticated, "Invalid session key");
    }
    c.user = session->username;
    return {};
  }
  if (type != "Password") {
    return Fail(ErrorCode::kUnauthenticated,
                type.empty() ? "Missing AuthType" : "Unsupported AuthType '" + type + "'");
  }
  const LoginProtection protection = config.Protection();
  if (const int64_t wait = c.app.Guard().Blocked(protection, user, c.client); wait > 0) {
    return Fail(ErrorCode::kPermissionDenied,
                "Too many failed logins; try again in " + std::to_string(wait) + " seconds");
  }
  if (user.empty() || !VerifyAdminPassword(c.app, config, user, c.GetOr("Password"))) {
    c.app.Guard().Failed(protection, user, c.client);
    LogLine(LogLevel::kWarning, "login_failed", {{"user", user}, {"client", c.client}});
    return Fail(ErrorCode::kUnauthenticated, "Incorrect authentication credentials");
  }
  c.app.Guard().Succeeded(user);
  c.user = user;
  return {};
}

// --- meta ---

Response AddFirstAdminUser(Call& c) {
  auto user = c.Need("TargetUser");
  if (!user) return ErrorReply(user.error());
  auto password = c.Need("TargetPassword");
  if (!password) return ErrorReply(password.error());
  auto hash = crypto::BcryptSha512(AsBytes(*password));
  if (!hash) return ErrorReply(hash.error());
  auto added = c.app.UpdateConfig([&](ServerConfig& config) -> Result<void> {
    if (config.HasAdmins()) {
      return Fail(ErrorCode::kPermissionDenied, "An administrator account already exists");
    }
    config.MutableDocument()["AdminUsers"] =
        Json::array({{{"Username", *user},
                      {"OrganizationID", ""},
                      {"PasswordFormat", kPasswordFormatBcryptSha512},
                      {"Password", *hash},
                      {"AllowPasswordLogin", true},
                      {"Permissions", Json::object()}}});
    return {};
  });
  if (!added) return ErrorReply(added.error());
  LogLine(LogLevel::kInfo, "first_admin_added", {{"user", *user}, {"client", c.client}});
  return Ok();
}

Response MetaVersion(Call& c) {
  const ServerConfig config = c.app.Config();
  Json j = {{"Status", 200},
            {"Message", "OK"},
            {"Version", c.app.Options().version},
            {"ServerStartTime", c.app.StartTime()},
            {"AuthenticationRole", config.AuthRoleEnabled()},
            {"StorageRole", config.StorageRoleEnabled()},
            {"SoftwareBuildRole", false},
            {"ConstellationRole", false},
            {"ExperimentalOptions", config.Document().value("ExperimentalOptions", Json::array())}};
  return Response::Json(Dump(j));
}

// The admins of `before` that `after` removes or gives another password or organization.
std::vector<std::string> ChangedAdmins(const Json& before, const Json& after) {
  std::vector<std::string> out;
  const Json after_admins = after.value("AdminUsers", Json::array());
  for (const Json& old : before.value("AdminUsers", Json::array())) {
    const std::string name = old.value("Username", "");
    const auto same = std::find_if(after_admins.begin(), after_admins.end(),
                                   [&](const Json& a) { return a.value("Username", "") == name; });
    if (same == after_admins.end() || same->value("Password", "") != old.value("Password", "") ||
        same->value("OrganizationID", "") != old.value("OrganizationID", "")) {
      out.push_back(name);
    }
  }
  return out;
}

Response ServerConfigGet(Call& c) { return Response::Json(Dump(c.app.Config().Document())); }

Response ServerConfigSet(Call& c) {
  auto text = c.Need("Config");
  if (!text) return ErrorReply(text.error());
  auto doc = ParseJson(*text, kApiJsonLimits);
  if (!doc) return Response::Message(400, "Config is not valid JSON: " + doc.error().Message());
  auto next = ServerConfig::FromJson(std::move(*doc), c.app.Options().data_dir);
  if (!next) return ErrorReply(next.error());
  if (!next->HasAdmins()) {
    return Response::Message(400, "The configuration must keep at least one administrator");
  }
  if (auto hashed = next->HashPlaintextPasswords(); !hashed) return ErrorReply(hashed.error());
  std::vector<std::string> changed_admins;
  auto saved = c.app.UpdateConfig([&](ServerConfig& config) -> Result<void> {
    changed_admins = ChangedAdmins(config.Document(), next->Document());
    config = *next;
    return {};
  });
  if (!saved) return ErrorReply(saved.error());
  // A removed admin, or one whose password or organization changed, signs in again: a leaked
  // password is rotated by changing it, and a reused name gets none of the old sessions.
  for (const std::string& name : changed_admins) {
    if (auto ended = c.app.Sessions().EndAll(name, "admin"); !ended) {
      return ErrorReply(ended.error());
    }
  }
  LogLine(LogLevel::kInfo, "server_config_set", {{"user", c.user}});
  // Listen addresses and storage volumes are read at start.
  return Response::Message(200, "OK (listen addresses and storage changes apply after a restart)");
}

// Sign-out: the session the call was made with ends (with a password there is none to end).
Response SessionRevoke(Call& c) {
  if (c.GetOr("AuthType") != "SessionKey") return Ok();
  if (auto ended = c.app.Sessions().End(c.GetOr("SessionKey")); !ended) {
    return ErrorReply(ended.error());
  }
  return Ok();
}

Response AdminSessionStart(Call& c) {
  auto key = c.app.Sessions().Start(c.user, "admin");
  if (!key) return ErrorReply(key.error());
  return Response::Json(
      Dump({{"Status", 200}, {"Message", "OK"}, {"SessionKey", *key}, {"SessionType", "admin"}}));
}

// --- storage ---

Json BucketJson(const BucketProperties& b) {
  return {{"OrganizationID", b.organization_id},
          {"CreateTime", b.create_time},
          {"ReadWriteKeyFormat", b.key_format},
          {"ReadWriteKey", b.key_hash},
          {"StorageLimitBytes", b.limit_bytes}};
}

Response RegisterBucket(Call& c) {
  auto format = c.Int("SetKeyHashFormat", kPasswordFormatPlaintext);
  if (!format) return ErrorReply(format.error());
  auto limit = c.Int("SetStorageLimitBytes", 0);
  if (!limit) return ErrorReply(limit.error());
  if (*limit < 0) return Response::Message(400, "SetStorageLimitBytes must not be negative");
  auto added = c.app.Buckets().Register(
      c.GetOr("SetBucketValue"), static_cast<int>(*format), c.GetOr("SetKeyHashValue"),
      NewObjectOrganization(c, "SetOrganizationID"), static_cast<uint64_t>(*limit));
  if (!added) return ErrorReply(added.error());
  LogLine(LogLevel::kInfo, "bucket_registered", {{"bucket", added->id}, {"user", c.user}});
  return Response::Json(Dump({{"Status", 200},
                              {"Message", "OK"},
                              {"NewBucketID", added->id},
                              {"NewBucketKey", added->key}}));
}

Response ListBuckets(Call& c) {
  auto buckets = c.app.Buckets().List();
  if (!buckets) return ErrorReply(buckets.error());
  Json out = Json::object();
  for (const auto& b : *buckets) {
    if (InScope(c, b.organization_id)) out[b.id] = BucketJson(b);
  }
  return Response::Json(Dump(out));
}

Response BucketProperties(Call& c) {
  auto id = c.Need("BucketID");
  if (!id) return ErrorReply(id.error());
  auto bucket = c.app.Buckets().Get(*id);
  if (!bucket) return ErrorReply(bucket.error());
  const auto now = [&] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               c.app.GetClock().Now().time_since_epoch())
        .count();
  };
  const int64_t started = now();
  auto size = c.app.Storage().MeasureBucket(*id);
  if (!size) return ErrorReply(size.error());
  Json j = BucketJson(*bucket);
  j["Size"] = {{"Size", *size}, {"MeasureStarted", started}, {"MeasureCompleted", now()}};
  return Response::Json(Dump(j));
}

Response DeleteBucket(Call& c) {
  auto id = c.Need("BucketID");
  if (!id) return ErrorReply(id.error());
  // Forget the key first: once the bucket is unregistered nobody can write into it again.
  if (auto r = c.app.Buckets().Delete(*id); !r) return ErrorReply(r.error());
  if (auto r = c.app.Storage().DeleteBucketData(*id); !r) return ErrorReply(r.error());
  LogLine(LogLevel::kInfo, "bucket_deleted", {{"bucket", *id}, {"user", c.user}});
  return Ok();
}

Response FreeSpace(Call& c) { return Response::Json(Dump(c.app.Storage().FreeSpace())); }

}  // namespace

// The caller a user endpoint acts for: the user's own password or L secret, or a user session.
Result<void> AuthenticateUser(Call& c) {
  const std::string user = c.GetOr("Username");
  const std::string type = c.GetOr("AuthType");
  if (type == "SessionKey") {
    auto session = c.app.Sessions().Check(c.GetOr("SessionKey"), c.app.Config().SessionSeconds());
    if (!session || session->type != "user" || (!user.empty() && user != session->username)) {
      return Fail(ErrorCode::kUnauthenticated, "Invalid session key");
    }
    c.user = session->username;
    return {};
  }
  if (type != "Password") {
    return Fail(ErrorCode::kUnauthenticated,
                type.empty() ? "Missing AuthType" : "Unsupported AuthType '" + type + "'");
  }
  const LoginProtection protection = c.app.Config().Protection();
  if (const int64_t wait = c.app.Guard().Blocked(protection, user, c.client); wait > 0) {
    return Fail(ErrorCode::kPermissionDenied,
                "Too many failed logins; try again in " + std::to_string(wait) + " seconds");
  }
  auto ok = AuthenticateUserPassword(c, user, c.GetOr("Password"));
  if (!ok) {
    if (ok.error().Code() == ErrorCode::kUnauthenticated) {
      c.app.Guard().Failed(protection, user, c.client);
      LogLine(LogLevel::kWarning, "login_failed", {{"user", user}, {"client", c.client}});
    }
    return ok;
  }
  c.app.Guard().Succeeded(user);
  c.user = user;
  return {};
}

namespace {

enum class Auth { kNone, kAdmin, kUser };
enum class Role { kAny, kAuthentication, kStorage };

struct Endpoint {
  std::string_view path;
  Auth auth;
  Role role;
  Response (*handler)(Call&);
};

constexpr Endpoint kEndpoints[] = {
    {"admin/add-first-admin-user", Auth::kNone, Role::kAny, AddFirstAdminUser},
    {"admin/meta/version", Auth::kAdmin, Role::kAny, MetaVersion},
    {"admin/meta/server-config/get", Auth::kAdmin, Role::kAny, ServerConfigGet},
    {"admin/meta/server-config/set", Auth::kAdmin, Role::kAny, ServerConfigSet},
    {"admin/account/session-start", Auth::kAdmin, Role::kAny, AdminSessionStart},
    {"admin/account/session-revoke", Auth::kAdmin, Role::kAny, SessionRevoke},
    {"admin/meta/remote-storage-vault/get", Auth::kAdmin, Role::kAuthentication, RemoteStorageGet},
    {"admin/meta/remote-storage-vault/set", Auth::kAdmin, Role::kAuthentication, RemoteStorageSet},
    {"admin/meta/remote-storage-vault/test", Auth::kAdmin, Role::kAuthentication,
     RemoteStorageTest},
    {"admin/storage/register-bucket", Auth::kAdmin, Role::kStorage, RegisterBucket},
    {"admin/storage/list-buckets", Auth::kAdmin, Role::kStorage, ListBuckets},
    {"admin/storage/bucket-properties", Auth::kAdmin, Role::kStorage, BucketProperties},
    {"admin/storage/delete-bucket", Auth::kAdmin, Role::kStorage, DeleteBucket},
    {"admin/storage/free-space", Auth::kAdmin, Role::kStorage, FreeSpace},
    {"admin/list-users", Auth::kAdmin, Role::kAuthentication, ListUsers},
    {"admin/list-users-full", Auth::kAdmin, Role::kAuthentication, ListUsersFull},
    {"admin/add-user", Auth::kAdmin, Role::kAuthentication, AddUser},
    {"admin/add-user-from-profile", Auth::kAdmin, Role::kAuthentication, AddUserFromProfile},
    {"admin/get-user-profile", Auth::kAdmin, Role::kAuthentication, GetUserProfile},
    {"admin/get-user-profile-and-hash", Auth::kAdmin, Role::kAuthentication, GetUserProfileAndHash},
    {"admin/get-user-profile-hash", Auth::kAdmin, Role::kAuthentication, GetUserProfileHash},
    {"admin/set-user-profile", Auth::kAdmin, Role::kAuthentication, SetUserProfile},
    {"admin/set-user-profile-hash", Auth::kAdmin, Role::kAuthentication, SetUserProfileHash},
    {"admin/delete-user", Auth::kAdmin, Role::kAuthentication, DeleteUser},
    {"admin/reset-user-password", Auth::kAdmin, Role::kAuthentication, ResetUserPassword},
    {"admin/revoke-device", Auth::kAdmin, Role::kAuthentication, RevokeDevice},
    {"admin/request-storage-vault", Auth::kAdmin, Role::kAuthentication, RequestStorageVault},
    {"admin/request-storage-vault-providers", Auth::kAdmin, Role::kAuthentication,
     RequestStorageVaultProviders},
    {"admin/get-jobs-for-user", Auth::kAdmin, Role::kAuthentication, GetJobsForUser},
    {"admin/get-jobs-recent", Auth::kAdmin, Role::kAuthentication, GetJobsRecent},
    {"admin/get-jobs-all", Auth::kAdmin, Role::kAuthentication, GetJobsAll},
    {"admin/get-jobs-for-date-range", Auth::kAdmin, Role::kAuthentication, GetJobsForDateRange},
    {"admin/get-job-properties", Auth::kAdmin, Role::kAuthentication, GetJobProperties},
    {"admin/get-job-log", Auth::kAdmin, Role::kAuthentication, GetJobLog},
    {"admin/get-job-log-entries", Auth::kAdmin, Role::kAuthentication, GetJobLogEntries},
    {"admin/job/abandon", Auth::kAdmin, Role::kAuthentication, AdminJobAbandon},
    {"admin/job/cancel", Auth::kAdmin, Role::kAuthentication, AdminJobCancel},
    {"admin/dispatcher/list-active", Auth::kAdmin, Role::kAuthentication, DispatcherListActive},
    {"admin/dispatcher/*", Auth::kAdmin, Role::kAuthentication, DispatcherAction},
    {"admin/installation/list-active", Auth::kAdmin, Role::kAuthentication, InstallationListActive},
    {"admin/installation/dispatch/register-device", Auth::kAdmin, Role::kAuthentication,
     InstallationRegisterDevice},
    {"admin/policies/list", Auth::kAdmin, Role::kAuthentication, PoliciesList},
    {"admin/policies/list-full", Auth::kAdmin, Role::kAuthentication, PoliciesListFull},
    {"admin/policies/get", Auth::kAdmin, Role::kAuthentication, PoliciesGet},
    {"admin/policies/new", Auth::kAdmin, Role::kAuthentication, PoliciesNew},
    {"admin/policies/set", Auth::kAdmin, Role::kAuthentication, PoliciesSet},
    {"admin/policies/delete", Auth::kAdmin, Role::kAuthentication, PoliciesDelete},
    {"admin/organization/list", Auth::kAdmin, Role::kAny, OrganizationList},
    {"admin/organization/set", Auth::kAdmin, Role::kAny, OrganizationSet},
    {"admin/organization/delete", Auth::kAdmin, Role::kAny, OrganizationDelete},
    {"user/web/session/start", Auth::kUser, Role::kAuthentication, UserSessionStart},
    {"user/web/session/revoke", Auth::kUser, Role::kAuthentication, SessionRevoke},
    {"user/web/get-user-profile-and-hash", Auth::kUser, Role::kAuthentication,
     UserGetProfileAndHash},
    {"user/web/set-user-profile-hash", Auth::kUser, Role::kAuthentication, UserSetProfileHash},
    {"user/web/account/change-password", Auth::kUser, Role::kAuthentication, UserChangePassword},
    {"user/web/register-device", Auth::kUser, Role::kAuthentication, UserRegisterDevice},
    {"user/web/request-storage-vault", Auth::kUser, Role::kAuthentication, UserRequestStorageVault},
    {"user/web/get-jobs", Auth::kUser, Role::kAuthentication, UserGetJobs},
    {"user/web/job/start", Auth::kUser, Role::kAuthentication, UserJobStart},
    {"user/web/job/progress", Auth::kUser, Role::kAuthentication, UserJobProgress},
    {"user/web/job/log", Auth::kUser, Role::kAuthentication, UserJobLog},
    {"user/web/job/finish", Auth::kUser, Role::kAuthentication, UserJobFinish},
    {"user/web/device/schedule-plan", Auth::kUser, Role::kAuthentication, UserSchedulePlan},
};

}  // namespace
}  // namespace api

httpd::Response HandleApi(App& app, httpd::Request& req) {
  using namespace api;
  const std::string_view name =
      std::string_view(req.path).substr(std::string_view("/api/v1/").size());
  const Endpoint* endpoint = nullptr;
  if (name == "device/live" || name == "device/lobby") {
    return HandleLiveUpgrade(app, req, name == "device/lobby");
  }
  for (const Endpoint& e : kEndpoints) {
    // "x/*" matches what starts with "x/"; the first match wins.
    const bool wildcard = e.path.ends_with('*');
    if (wildcard ? name.starts_with(e.path.substr(0, e.path.size() - 1)) : e.path == name) {
      endpoint = &e;
      break;
    }
  }
  if (!endpoint) return Response::Message(404, "Unknown API endpoint");
  if (req.method != "POST") return Response::Message(405, "The API takes POST requests");
  const std::string_view type = req.Header("content-type");
  if (!type.empty() && type.rfind("application/x-www-form-urlencoded", 0) != 0) {
    return Response::Message(415, "Send parameters as application/x-www-form-urlencoded");
  }
  auto body = req.ReadBody(kMaxApiBody);
  if (!body) return Response::Message(413, body.error().Message());
  auto form = httpd::ParseForm(*body);
  if (!form) return Response::Message(400, form.error().Message());
  Call call{app, req, std::move(*form), app.ClientAddress(req), ""};

  const ServerConfig config = app.Config();
  if (endpoint->role == Role::kStorage && !config.StorageRoleEnabled()) {
    return Response::Message(403, "This API requires the Storage Role to be enabled");
  }
  if (endpoint->role == Role::kAuthentication && !config.AuthRoleEnabled()) {
    return Response::Message(403, "This API requires the Authentication Role to be enabled");
  }
  if (endpoint->auth == Auth::kAdmin) {
    if (auto ok = AuthenticateAdmin(call); !ok) return ErrorReply(ok.error());
    if (auto ok = AdmitAdmin(call, name); !ok) return ErrorReply(ok.error());
  } else if (endpoint->auth == Auth::kUser) {
    if (auto ok = AuthenticateUser(call); !ok) return ErrorReply(ok.error());
  }
  Response res = endpoint->handler(call);
  // The account's devices learn at once that their profile changed (new Schedules, vaults).
  static constexpr std::string_view kProfileWriters[] = {
      "admin/set-user-profile",         "admin/set-user-profile-hash",
      "admin/add-user-from-profile",    "admin/request-storage-vault",
      "user/web/set-user-profile-hash", "user/web/request-storage-vault"};
  if (res.status == 200 && std::find(std::begin(kProfileWriters), std::end(kProfileWriters),
                                     name) != std::end(kProfileWriters)) {
    app.Live().Notify(endpoint->auth == Auth::kAdmin ? call.GetOr("TargetUser") : call.user,
                      "refetch-profile");
  }
  return res;
}

}  // namespace halley::server
