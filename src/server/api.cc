// SPDX-License-Identifier: Apache-2.0
//
// The JSON API (reference/comet.md §2.1): POST /api/v1/<endpoint> with form fields, the
// caller's credentials in the same form (Username + AuthType Password|SessionKey), replies
// {"Status":N,"Message":"..."} or the resource's JSON. Bodies are limited to 1 MiB and JSON
// parameters to 64 levels; every failure is a 4xx/5xx with a message, never a crash.
#include <chrono>

#include "base/log.h"
#include "crypto/bcrypt.h"
#include "server/app.h"
#include "server/status.h"

namespace halley::server {
namespace {

using httpd::Response;

constexpr size_t kMaxApiBody = 1 << 20;
constexpr JsonLimits kApiJsonLimits{kMaxApiBody, 64};

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Response Ok() { return Response::Message(200, "OK"); }
Response ErrorReply(const Error& e) { return Response::Message(HttpStatus(e.Code()), e.Message()); }

// One API request: its form fields and, after authentication, who made it.
struct Call {
  App& app;
  httpd::Request& req;
  std::vector<std::pair<std::string, std::string>> form;
  std::string client;
  std::string user;

  // The first field named `name`, or null.
  const std::string* Get(std::string_view name) const {
    for (const auto& [n, v] : form) {
      if (n == name) return &v;
    }
    return nullptr;
  }
  std::string GetOr(std::string_view name, std::string def = {}) const {
    const std::string* v = Get(name);
    return v ? *v : def;
  }
  Result<std::string> Need(std::string_view name) const {
    const std::string* v = Get(name);
    if (!v || v->empty()) {
      return Fail(ErrorCode::kInvalidArgument, "missing parameter " + std::string(name));
    }
    return *v;
  }
  // A JSON-encoded non-string parameter (comet.md §2.1); `def` if absent.
  Result<int64_t> Int(std::string_view name, int64_t def) const {
    const std::string* v = Get(name);
    if (!v || v->empty()) return def;
    auto j = ParseJson(*v, kApiJsonLimits);
    if (!j || !j->is_number_integer()) {
      return Fail(ErrorCode::kInvalidArgument, "parameter " + std::string(name) + " must be an integer");
    }
    return j->get<int64_t>();
  }
};

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
    return Fail(ErrorCode::kPermissionDenied, "Too many failed logins; try again in " +
                                                  std::to_string(wait) + " seconds");
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
    config.MutableDocument()["AdminUsers"] = Json::array({{{"Username", *user},
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
  auto saved = c.app.UpdateConfig([&](ServerConfig& config) -> Result<void> {
    config = *next;
    return {};
  });
  if (!saved) return ErrorReply(saved.error());
  LogLine(LogLevel::kInfo, "server_config_set", {{"user", c.user}});
  // Listen addresses and storage volumes are read at start.
  return Response::Message(200, "OK (listen addresses and storage changes apply after a restart)");
}

Response AdminSessionStart(Call& c) {
  auto key = c.app.Sessions().Start(c.user, "admin");
  if (!key) return ErrorReply(key.error());
  return Response::Json(Dump(
      {{"Status", 200}, {"Message", "OK"}, {"SessionKey", *key}, {"SessionType", "admin"}}));
}

// --- storage ---

Json BucketJson(const BucketProperties& b) {
  return {{"OrganizationID", b.organization_id},
          {"CreateTime", b.create_time},
          {"ReadWriteKeyFormat", b.key_format},
          {"ReadWriteKey", b.key_hash}};
}

Response RegisterBucket(Call& c) {
  auto format = c.Int("SetKeyHashFormat", kPasswordFormatPlaintext);
  if (!format) return ErrorReply(format.error());
  auto added = c.app.Buckets().Register(c.GetOr("SetBucketValue"), static_cast<int>(*format),
                                        c.GetOr("SetKeyHashValue"), c.GetOr("SetOrganizationID"));
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
  for (const auto& b : *buckets) out[b.id] = BucketJson(b);
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

enum class Auth { kNone, kAdmin };
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
    {"admin/storage/register-bucket", Auth::kAdmin, Role::kStorage, RegisterBucket},
    {"admin/storage/list-buckets", Auth::kAdmin, Role::kStorage, ListBuckets},
    {"admin/storage/bucket-properties", Auth::kAdmin, Role::kStorage, BucketProperties},
    {"admin/storage/delete-bucket", Auth::kAdmin, Role::kStorage, DeleteBucket},
    {"admin/storage/free-space", Auth::kAdmin, Role::kStorage, FreeSpace},
};

}  // namespace

Response HandleApi(App& app, httpd::Request& req) {
  const std::string_view name = std::string_view(req.path).substr(std::string_view("/api/v1/").size());
  const Endpoint* endpoint = nullptr;
  for (const Endpoint& e : kEndpoints) {
    if (e.path == name) endpoint = &e;
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
  }
  return endpoint->handler(call);
}

}  // namespace halley::server
