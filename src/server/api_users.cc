// SPDX-License-Identifier: Apache-2.0
//
// Users, profiles, devices and Storage Vault requests (reference/comet.md §2.2, §5.4). Zero
// knowledge (DESIGN §4): a profile holds PasswordHash = bcrypt(base64(SHA-512(L))); L is what a
// device sends in place of the password ("zkr1:" + hex), and a typed password (web login,
// add-user) is turned into L here and forgotten. R never reaches the server unless the account
// opted into recovery (StoreRecoveryCode).
#include <chrono>

#include "base/encoding.h"
#include "base/log.h"
#include "crypto/bcrypt.h"
#include "crypto/login.h"
#include "crypto/random.h"
#include "server/api_call.h"
#include "server/policies.h"
#include "server/remote_storage.h"

namespace halley::server::api {
namespace {

// Fields only reset-user-password changes.
constexpr const char* kPasswordFields[] = {"PasswordFormat", "PasswordHash", "PasswordRecovery"};
// Fields a user may not change in their own profile (an admin may). Devices come and go only
// through register-device (which enforces MaximumDevices) and revoke-device.
constexpr const char* kAdminOnlyFields[] = {"Devices",
                                            "IsSuspended",
                                            "LastSuspended",
                                            "AllProtectedItemsQuotaEnabled",
                                            "AllProtectedItemsQuotaBytes",
                                            "MaximumDevices",
                                            "QuotaOffice365ProtectedAccounts",
                                            "QuotaHyperVGuests",
                                            "QuotaVMwareGuests",
                                            "PolicyID",
                                            "Policy",
                                            "OrganizationID",
                                            "CreateTime",
                                            "CreationGUID",
                                            "AllowPasswordLogin",
                                            "RequirePasswordChange",
                                            "Username"};
constexpr const char* kObjectFields[] = {"Destinations", "Sources", "BackupRules", "Devices"};

int64_t Now(Call& c) {
  return std::chrono::duration_cast<std::chrono::seconds>(c.app.GetClock().Now().time_since_epoch())
      .count();
}

Result<std::string> LoginHash(const std::string& user, const std::string& password) {
  const crypto::LoginKeys keys = crypto::DeriveLoginKeys(user, password);
  return crypto::BcryptSha512(ByteView(keys.l.data(), keys.l.size()));
}

// A new profile with the product's defaults for `user`.
Json NewProfile(Call& c, const std::string& user, const std::string& organization) {
  return {{"Username", user},
          {"AccountName", ""},
          {"LocalTimezone", ""},
          {"LanguageCode", "en_US"},
          {"OrganizationID", organization},
          {"Emails", Json::array()},
          {"Destinations", Json::object()},
          {"Sources", Json::object()},
          {"BackupRules", Json::object()},
          {"Devices", Json::object()},
          {"SupportsDeviceAssociations", true},
          {"IsSuspended", false},
          {"AllowPasswordLogin", true},
          {"RequirePasswordChange", false},
          {"PasswordFormat", kPasswordFormatBcryptSha512},
          {"PasswordHash", ""},
          {"PasswordRecovery", ""},
          {"CreateTime", Now(c)},
          {"CreationGUID", crypto::NewUuid()}};
}

// Checks the shape of a profile sent by a client: an object whose fields that the server reads
// have the right types (so that a bad edit is refused here rather than breaking later logins).
Result<void> ValidateProfile(const Json& p) {
  if (!p.is_object()) return Fail(ErrorCode::kInvalidArgument, "ProfileData must be a JSON object");
  const auto wrong = [](const char* k, const char* what) {
    return Fail(ErrorCode::kInvalidArgument, std::string("ProfileData.") + k + " must be " + what);
  };
  for (const char* k : kObjectFields) {
    if (p.contains(k) && !p[k].is_object()) return wrong(k, "an object");
  }
  for (const char* k : {"IsSuspended", "AllowPasswordLogin", "RequirePasswordChange"}) {
    if (p.contains(k) && !p[k].is_boolean()) return wrong(k, "a boolean");
  }
  for (const char* k : {"MaximumDevices", "PasswordFormat", "CreateTime"}) {
    if (p.contains(k) && !p[k].is_number_integer()) return wrong(k, "an integer");
  }
  for (const char* k :
       {"Username", "OrganizationID", "PasswordHash", "PasswordRecovery", "PolicyID"}) {
    if (p.contains(k) && !p[k].is_string()) return wrong(k, "a string");
  }
  // Each Storage Vault is an object with an integer type: a null or malformed entry would be a
  // vault deleted (or retyped) past the policy checks.
  if (p.contains("Destinations")) {
    for (const auto& [id, v] : p["Destinations"].items()) {
      if (!v.is_object() || !v.contains("DestinationType") ||
          !v["DestinationType"].is_number_integer()) {
        return Fail(ErrorCode::kInvalidArgument,
                    "ProfileData.Destinations." + id +
                        " must be an object with an integer DestinationType");
      }
    }
  }
  if (p.contains("Policy") && !p["Policy"].is_object()) return wrong("Policy", "an object");
  return {};
}

// `incoming` with the fields in `keep` taken from `stored` (absent stays absent).
Json Preserve(Json incoming, const Json& stored, std::initializer_list<const char*> keep_a,
              std::span<const char* const> keep_b = {}) {
  auto keep = [&](const char* k) {
    if (stored.contains(k)) {
      incoming[k] = stored[k];
    } else {
      incoming.erase(k);
    }
  };
  for (const char* k : keep_a) keep(k);
  for (const char* k : keep_b) keep(k);
  return incoming;
}

Result<std::string> TargetUser(Call& c) {
  HALLEY_ASSIGN_OR_RETURN(std::string user, c.Need("TargetUser"));
  HALLEY_RETURN_IF_ERROR(UserStore::ValidateUsername(user));
  return user;
}

Response ProfileAndHash(const StoredProfile& p) {
  return Response::Json(
      Dump({{"Status", 200}, {"Message", "OK"}, {"ProfileHash", p.hash}, {"Profile", p.profile}}));
}

// Writes a profile sent by a client over the stored one, keeping the fields the caller may not
// change; with `require_hash` only if nobody changed it since.
Response WriteProfile(Call& c, const std::string& user, bool as_admin, bool with_hash) {
  auto incoming = c.JsonParam("ProfileData");
  if (!incoming) return ErrorReply(incoming.error());
  if (auto v = ValidateProfile(*incoming); !v) return ErrorReply(v.error());
  std::optional<std::string> require;
  if (with_hash) {
    auto hash = c.Need("RequireHash");
    if (!hash) return ErrorReply(hash.error());
    require = *hash;
  }
  auto stored = c.app.Users().Get(user);
  if (!stored) return ErrorReply(stored.error());
  Json next = as_admin
                  ? Preserve(std::move(*incoming), stored->profile, {"Username"}, kPasswordFields)
                  : Preserve(Preserve(std::move(*incoming), stored->profile, {}, kPasswordFields),
                             stored->profile, {}, kAdminOnlyFields);
  // A tenant admin's users stay in its organization; a user's write obeys their policy.
  if (as_admin && !c.organization.empty()) next["OrganizationID"] = c.organization;
  if (!as_admin) {
    if (auto allowed = CheckUserProfileWrite(stored->profile, next); !allowed) {
      return ErrorReply(allowed.error());
    }
  }
  auto hash = c.app.Users().Set(user, next, require);
  if (!hash) return ErrorReply(hash.error());
  return Response::Json(Dump({{"Status", 200}, {"Message", "OK"}, {"ProfileHash", *hash}}));
}

// Registers a bucket on this server's Storage Role for template `provider` and adds a Storage
// Vault pointing at it to `user`'s profile. A device that sends SetKeyHashFormat=2 and a
// bcrypt(sha512) of its own key keeps the key to itself (zero knowledge); otherwise the key is
// generated here and stored in the profile.
Response AddRequestedVault(Call& c, const std::string& user) {
  auto owner = c.app.Users().Get(user);
  if (!owner) return ErrorReply(owner.error());
  const std::string provider = c.GetOr("StorageProvider");
  const ServerConfig config = c.app.Config();
  const Json templates = config.Document()
                             .value("AuthenticationRole", Json::object())
                             .value("RemoteStorage", Json::array());
  const Json* chosen = nullptr;
  for (const Json& t : templates) {
    if (!t.is_object()) continue;
    if (provider.empty() ? t.value("Default", false) : t.value("ID", "") == provider) chosen = &t;
  }
  if (!chosen) return Response::Message(404, "No Storage Template '" + provider + "'");
  if (chosen->value("Type", "") != "comet") {
    return Response::Message(501, "Storage Template '" + chosen->value("ID", "") +
                                      "' is of type '" + chosen->value("Type", "") +
                                      "'; only 'comet' templates (a Storage Role, this server's "
                                      "or another's) are supported so far");
  }
  const bool remote = IsRemoteTemplate(*chosen);
  if (!remote && !config.StorageRoleEnabled()) {
    return Response::Message(403, "This server's Storage Role is disabled");
  }
  auto format = c.Int("SetKeyHashFormat", kPasswordFormatPlaintext);
  if (!format) return ErrorReply(format.error());
  // The template's storage limit is enforced by the Storage Role (507), not only by clients.
  const bool limited = chosen->value("StorageLimitEnabled", false);
  const BucketRequest request{
      static_cast<int>(*format), c.GetOr("SetKeyHashValue"),
      owner->profile.value("OrganizationID", ""),
      limited ? std::max<int64_t>(chosen->value("StorageLimitBytes", int64_t{0}), 0) : 0};
  RemoteBucket bucket;
  if (remote) {
    auto registered = RegisterRemoteBucket(*chosen, request);
    if (!registered) return ErrorReply(registered.error());
    bucket = std::move(*registered);
  } else {
    auto registered =
        c.app.Buckets().Register("", request.key_format, request.key_hash, request.organization,
                                 static_cast<uint64_t>(request.limit_bytes));
    if (!registered) return ErrorReply(registered.error());
    bucket.id = registered->id;
    bucket.key = registered->key;
    bucket.server = c.GetOr("SelfAddress");
    if (bucket.server.empty()) {
      bucket.server = c.req.scheme + "://" + std::string(c.req.Header("host")) + "/";
    }
    if (bucket.server.back() != '/') bucket.server += '/';
  }
  const auto undo = [&] {
    auto deleted =
        remote ? DeleteRemoteBucket(*chosen, bucket.id) : c.app.Buckets().Delete(bucket.id);
    if (!deleted) {
      LogLine(LogLevel::kWarning, "bucket_undo_failed",
              {{"bucket", bucket.id}, {"error", deleted.error().Message()}});
    }
  };
  const std::string id = crypto::NewUuid();
  const int64_t now = Now(c);
  Json vault = {{"Description", chosen->value("Description", "Storage Vault")},
                {"DestinationType", 1003},
                {"CometServer", bucket.server},
                {"CometBucket", bucket.id},
                {"CometBucketKey", bucket.key},
                {"CreateTime", now},
                {"ModifyTime", now},
                {"EncryptionKeyEncryptionMethod", 0},
                {"EncryptedEncryptionKey", ""},
                {"RepoInitTimestamp", 0},
                {"StorageLimitEnabled", chosen->value("StorageLimitEnabled", false)},
                {"StorageLimitBytes", request.limit_bytes}};
  auto updated = c.app.Users().Update(user, [&](Json& profile) -> Result<void> {
    profile["Destinations"][id] = vault;
    return {};
  });
  if (!updated) {
    undo();
    return ErrorReply(updated.error());
  }
  LogLine(LogLevel::kInfo, "storage_vault_requested",
          {{"user", user}, {"bucket", bucket.id}, {"server", bucket.server}, {"vault", id}});
  return Response::Json(Dump({{"Status", 200}, {"Message", "OK"}, {"DestinationID", id}}));
}

}  // namespace

Result<void> AuthenticateUserPassword(Call& c, const std::string& user,
                                      const std::string& password) {
  static const std::string kDummy = *crypto::BcryptSha512(AsBytes("not a login secret"));
  const auto refused = [] {
    return Fail(ErrorCode::kUnauthenticated, "Incorrect authentication credentials");
  };
  auto stored = user.empty() ? Result<StoredProfile>(Fail(ErrorCode::kNotFound, ""))
                             : c.app.Users().Get(user);
  if (!stored) {
    (void)crypto::BcryptSha512Verify(AsBytes(password), kDummy);
    return refused();
  }
  const Json& p = stored->profile;
  if (!p.value("AllowPasswordLogin", true)) return refused();
  const std::string hash = p.value("PasswordHash", "");
  const bool ok = c.app.UserSecrets().Check("user:" + user, hash, password, [&] {
    std::array<uint8_t, 24> l;
    if (auto sent = crypto::DecodeLoginSecret(password)) {
      l = *sent;
    } else {
      l = crypto::DeriveLoginKeys(user, password).l;  // a typed password (web login)
    }
    return crypto::BcryptSha512Verify(ByteView(l.data(), l.size()), hash);
  });
  if (!ok) return refused();
  if (p.value("IsSuspended", false)) {
    return Fail(ErrorCode::kPermissionDenied, "This account is suspended");
  }
  return {};
}

Response ListUsers(Call& c) {
  auto users = c.app.Users().List(Scope(c));
  if (!users) return ErrorReply(users.error());
  return Response::Json(Dump(*users));
}

Response ListUsersFull(Call& c) {
  auto users = c.app.Users().ListFull(Scope(c));
  if (!users) return ErrorReply(users.error());
  Json out = Json::object();
  for (auto& [name, profile] : *users) out[name] = std::move(profile);
  return Response::Json(Dump(out));
}

Response AddUser(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  auto password = c.Need("TargetPassword");
  if (!password) return ErrorReply(password.error());
  auto recovery = c.Int("StoreRecoveryCode", 0);
  if (!recovery) return ErrorReply(recovery.error());
  Json profile = NewProfile(c, *user, NewObjectOrganization(c, "TargetOrganization"));
  auto hash = LoginHash(*user, *password);
  if (!hash) return ErrorReply(hash.error());
  profile["PasswordHash"] = *hash;
  profile["RequirePasswordChange"] = c.GetOr("RequirePasswordChange") == "true";
  if (*recovery == 1) {
    // Opted in: the server keeps R, so an admin can reset the password later.
    const crypto::LoginKeys keys = crypto::DeriveLoginKeys(*user, *password);
    profile["PasswordRecovery"] = HexEncode(ByteView(keys.r.data(), keys.r.size()));
  }
  if (auto added = c.app.Users().Add(*user, profile); !added) return ErrorReply(added.error());
  LogLine(LogLevel::kInfo, "user_added", {{"user", *user}, {"admin", c.user}});
  return Ok();
}

Response AddUserFromProfile(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  auto incoming = c.JsonParam("ProfileData");
  if (!incoming) return ErrorReply(incoming.error());
  if (auto v = ValidateProfile(*incoming); !v) return ErrorReply(v.error());
  Json profile = NewProfile(c, *user, NewObjectOrganization(c, "TargetOrganization"));
  for (auto it = incoming->begin(); it != incoming->end(); ++it) profile[it.key()] = it.value();
  profile["Username"] = *user;
  if (!c.organization.empty()) profile["OrganizationID"] = c.organization;
  if (auto added = c.app.Users().Add(*user, profile); !added) return ErrorReply(added.error());
  LogLine(LogLevel::kInfo, "user_added", {{"user", *user}, {"admin", c.user}});
  return Ok();
}

Response GetUserProfile(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  auto p = c.app.Users().Get(*user);
  if (!p) return ErrorReply(p.error());
  return Response::Json(Dump(p->profile));
}

Response GetUserProfileAndHash(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  auto p = c.app.Users().Get(*user);
  if (!p) return ErrorReply(p.error());
  return ProfileAndHash(*p);
}

Response GetUserProfileHash(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  auto p = c.app.Users().Get(*user);
  if (!p) return ErrorReply(p.error());
  return Response::Json(Dump({{"Status", 200}, {"Message", "OK"}, {"ProfileHash", p->hash}}));
}

Response SetUserProfile(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  return WriteProfile(c, *user, true, false);
}

Response SetUserProfileHash(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  return WriteProfile(c, *user, true, true);
}

Response DeleteUser(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  if (auto r = c.app.Users().Delete(*user); !r) return ErrorReply(r.error());
  // Job history goes with the account; buckets stay for the Constellation Role (comet.md §2.2).
  if (auto r = c.app.Jobs().DeleteForUser(*user); !r) return ErrorReply(r.error());
  if (auto r = c.app.Sessions().EndAll(*user, "user"); !r) return ErrorReply(r.error());
  LogLine(LogLevel::kInfo, "user_deleted", {{"user", *user}, {"admin", c.user}});
  c.app.Live().DropDevices(*user);
  return Ok();
}

Response ResetUserPassword(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  auto p = c.app.Users().Get(*user);
  if (!p) return ErrorReply(p.error());
  if (p->profile.value("PasswordRecovery", "").empty()) {
    return Response::Message(
        403,
        "This account was created without a recovery code (StoreRecoveryCode), so the "
        "server holds no key that can re-encrypt its Storage Vault keys. Its password can "
        "only be changed from a device that is logged in (backup-tool login passwd).");
  }
  auto password = c.Need("NewPassword");
  if (!password) return ErrorReply(password.error());
  if (password->empty()) return Response::Message(400, "NewPassword must not be empty");
  auto hash = LoginHash(*user, *password);
  if (!hash) return ErrorReply(hash.error());
  // The vault keys stay wrapped under the recovery key (the old R, kept in PasswordRecovery):
  // the next device to log in with the new password re-wraps them for its R and makes that
  // the recovery key (backup-tool login prompt; docs/client.md). The server re-wraps nothing.
  auto updated = c.app.Users().Update(*user, [&](Json& profile) -> Result<void> {
    profile["PasswordFormat"] = kPasswordFormatBcryptSha512;
    profile["PasswordHash"] = *hash;
    return {};
  });
  if (!updated) return ErrorReply(updated.error());
  if (auto ended = c.app.Sessions().EndAll(*user, "user"); !ended) {
    return ErrorReply(ended.error());
  }
  LogLine(LogLevel::kInfo, "password_reset", {{"user", *user}});
  return Ok();
}

Response RevokeDevice(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  auto device = c.Need("TargetDevice");
  if (!device) return ErrorReply(device.error());
  auto updated = c.app.Users().Update(*user, [&](Json& profile) -> Result<void> {
    if (!profile.contains("Devices") || !profile["Devices"].contains(*device)) {
      return Fail(ErrorCode::kNotFound, "no device '" + *device + "'");
    }
    profile["Devices"].erase(*device);
    return {};
  });
  if (!updated) return ErrorReply(updated.error());
  LogLine(LogLevel::kInfo, "device_revoked", {{"user", *user}, {"device", *device}});
  c.app.Live().DropDevices(*user, *device);
  return Ok();
}

Response RequestStorageVault(Call& c) {
  auto user = TargetUser(c);
  if (!user) return ErrorReply(user.error());
  return AddRequestedVault(c, *user);
}

Response RequestStorageVaultProviders(Call& c) {
  Json out = Json::object();
  const Json templates = c.app.Config()
                             .Document()
                             .value("AuthenticationRole", Json::object())
                             .value("RemoteStorage", Json::array());
  for (const Json& t : templates) {
    if (t.is_object() && t.contains("ID")) out[t.value("ID", "")] = t.value("Description", "");
  }
  return Response::Json(Dump(out));
}

// Storage Templates (admin/meta/remote-storage-vault/*): the RemoteStorage array of the
// config, read, replaced as a whole (validated like server-config/set) and tried out.
Response RemoteStorageGet(Call& c) {
  return Response::Json(Dump(c.app.Config()
                                 .Document()
                                 .value("AuthenticationRole", Json::object())
                                 .value("RemoteStorage", Json::array())));
}

Response RemoteStorageSet(Call& c) {
  auto templates = c.JsonParam("RemoteStorageOptions");
  if (!templates) return ErrorReply(templates.error());
  if (!templates->is_array()) {
    return Response::Message(400, "RemoteStorageOptions must be a JSON array of templates");
  }
  auto saved = c.app.UpdateConfig([&](ServerConfig& config) -> Result<void> {
    Json doc = config.Document();
    doc["AuthenticationRole"]["RemoteStorage"] = *templates;
    HALLEY_ASSIGN_OR_RETURN(config,
                            ServerConfig::FromJson(std::move(doc), c.app.Options().data_dir));
    return {};
  });
  if (!saved) return ErrorReply(saved.error());
  LogLine(LogLevel::kInfo, "storage_templates_set",
          {{"user", c.user}, {"templates", templates->size()}});
  return Ok();
}

Response RemoteStorageTest(Call& c) {
  auto tmpl = c.JsonParam("TemplateOptions");
  if (!tmpl) return ErrorReply(tmpl.error());
  if (auto valid = ValidateStorageTemplates(Json::array({*tmpl})); !valid) {
    return ErrorReply(valid.error());
  }
  if (tmpl->value("Type", "") != "comet") {
    return Response::Message(501, "Only 'comet' Storage Templates can be tested so far");
  }
  if (!IsRemoteTemplate(*tmpl)) {
    return c.app.Config().StorageRoleEnabled()
               ? Ok()
               : Response::Message(403, "This server's Storage Role is disabled");
  }
  auto tested = TestRemoteTemplate(*tmpl);
  if (!tested) return ErrorReply(tested.error());
  Json out = *tested;
  out["Status"] = 200;
  out["Message"] = "OK";
  return Response::Json(Dump(out));
}

Response UserSessionStart(Call& c) {
  auto key = c.app.Sessions().Start(c.user, "user");
  if (!key) return ErrorReply(key.error());
  return Response::Json(
      Dump({{"Status", 200}, {"Message", "OK"}, {"SessionKey", *key}, {"SessionType", "user"}}));
}

Response UserGetProfileAndHash(Call& c) {
  auto p = c.app.Users().Get(c.user);
  if (!p) return ErrorReply(p.error());
  return ProfileAndHash(*p);
}

Response UserSetProfileHash(Call& c) { return WriteProfile(c, c.user, false, true); }

// The device changes the password: it derived the new L and R, re-wrapped every key in the
// profile under the new R, and sends both here to be stored in one transaction, so that no
// reader ever sees keys wrapped for one password beside the hash of another. The password
// itself never arrives (zero knowledge), hence only the "zkr1:" form is accepted.
Response UserChangePassword(Call& c) {
  auto secret = c.Need("NewPassword");
  if (!secret) return ErrorReply(secret.error());
  auto l = crypto::DecodeLoginSecret(*secret);
  if (!l) {
    return Response::Message(400,
                             "NewPassword must be the new password's login secret (\"zkr1:\" and "
                             "48 hex digits): the device re-wraps the profile's keys, so the "
                             "password itself is never sent");
  }
  auto incoming = c.JsonParam("ProfileData");
  if (!incoming) return ErrorReply(incoming.error());
  if (auto v = ValidateProfile(*incoming); !v) return ErrorReply(v.error());
  auto require = c.Need("RequireHash");
  if (!require) return ErrorReply(require.error());
  auto stored = c.app.Users().Get(c.user);
  if (!stored) return ErrorReply(stored.error());
  if (auto allowed =
          CheckPolicyFlag(stored->profile, kPreventChangeAccountPassword, "changing its password");
      !allowed) {
    return ErrorReply(allowed.error());
  }
  Json next = Preserve(Preserve(std::move(*incoming), stored->profile, {}, kPasswordFields),
                       stored->profile, {}, kAdminOnlyFields);
  if (auto allowed = CheckUserProfileWrite(stored->profile, next); !allowed) {
    return ErrorReply(allowed.error());
  }
  // An account that opted into admin resets keeps a recovery code: the new R replaces it.
  if (!stored->profile.value("PasswordRecovery", "").empty()) {
    const std::string recovery = c.GetOr("NewRecoveryCode");
    auto r = HexDecode(recovery);
    if (!r || r->size() != 24) {
      return Response::Message(400,
                               "This account keeps a recovery code: send the new one "
                               "(NewRecoveryCode, 48 hex digits)");
    }
    next["PasswordRecovery"] = recovery;
  }
  auto hash = crypto::BcryptSha512(ByteView(l->data(), l->size()));
  if (!hash) return ErrorReply(hash.error());
  next["PasswordFormat"] = kPasswordFormatBcryptSha512;
  next["PasswordHash"] = *hash;
  next["RequirePasswordChange"] = false;
  auto saved = c.app.Users().Set(c.user, next, *require);
  if (!saved) return ErrorReply(saved.error());
  // Sessions opened with the old password end with it.
  if (auto ended = c.app.Sessions().EndAll(c.user, "user"); !ended) {
    return ErrorReply(ended.error());
  }
  LogLine(LogLevel::kInfo, "password_changed", {{"user", c.user}});
  return Response::Json(Dump({{"Status", 200}, {"Message", "OK"}, {"ProfileHash", *saved}}));
}

Response UserRegisterDevice(Call& c) {
  auto device = c.Need("DeviceID");
  if (!device) return ErrorReply(device.error());
  if (device->size() > 256) return Response::Message(400, "DeviceID is too long");
  Json platform = Json::object();
  if (c.Get("PlatformVersion")) {
    auto j = c.JsonParam("PlatformVersion");
    if (!j || !j->is_object())
      return Response::Message(400, "PlatformVersion must be a JSON object");
    platform = *j;
  }
  auto updated = c.app.Users().Update(c.user, [&](Json& profile) -> Result<void> {
    Json& devices = profile["Devices"];
    if (!devices.is_object()) devices = Json::object();
    const int64_t max = profile.value("MaximumDevices", int64_t{0});
    if (!devices.contains(*device) && max > 0 && static_cast<int64_t>(devices.size()) >= max) {
      return Fail(ErrorCode::kPermissionDenied,
                  "This account may register at most " + std::to_string(max) + " devices");
    }
    Json& d = devices[*device];
    if (!d.is_object()) d = {{"RegistrationTime", Now(c)}, {"Sources", Json::object()}};
    d["FriendlyName"] = c.GetOr("FriendlyName", d.value("FriendlyName", ""));
    d["PlatformVersion"] = platform;
    d["ClientVersion"] = c.GetOr("ClientVersion");
    d["DeviceTimezone"] = c.GetOr("DeviceTimezone");
    return {};
  });
  if (!updated) return ErrorReply(updated.error());
  LogLine(LogLevel::kInfo, "device_registered", {{"user", c.user}, {"device", *device}});
  return Ok();
}

Response UserRequestStorageVault(Call& c) {
  auto p = c.app.Users().Get(c.user);
  if (!p) return ErrorReply(p.error());
  if (auto allowed =
          CheckPolicyFlag(p->profile, kPreventRequestStorageVault, "requesting Storage Vaults");
      !allowed) {
    return ErrorReply(allowed.error());
  }
  return AddRequestedVault(c, c.user);
}

}  // namespace halley::server::api
