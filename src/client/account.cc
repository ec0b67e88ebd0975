// SPDX-License-Identifier: Apache-2.0
#include "client/account.h"

#include <sys/utsname.h>

#include <chrono>

#include "base/encoding.h"
#include "crypto/bcrypt.h"
#include "crypto/login.h"
#include "crypto/random.h"

namespace halley::client {
namespace {

constexpr int kProfileUpdateAttempts = 5;
constexpr size_t kMaxLogEntriesPerCall = 10000;  // the server's limit (docs/server.md)

httpclient::ClientOptions HttpOptions(const LoginState& s) {
  httpclient::ClientOptions o;
  o.ca_file = s.ca_file;
  return o;
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

ByteView R(const LoginState& s) { return ByteView(s.r.data(), s.r.size()); }

}  // namespace

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Account::Account(LoginState state)
    : state_(std::move(state)), api_(state_.server, HttpOptions(state_)) {}

Result<Json> Account::Call(std::string_view endpoint, const Form& fields) const {
  return api_.Call(endpoint, fields, state_.Creds());
}

Result<Account::Profile> Account::GetProfile() const {
  HALLEY_ASSIGN_OR_RETURN(Json reply, Call("user/web/get-user-profile-and-hash"));
  if (!reply.is_object() || !reply.contains("Profile") || !reply["Profile"].is_object() ||
      !reply.contains("ProfileHash") || !reply["ProfileHash"].is_string()) {
    return Fail(ErrorCode::kIoError, "the server's profile reply lacks Profile or ProfileHash");
  }
  return Profile{std::move(reply["Profile"]), reply["ProfileHash"].get<std::string>()};
}

Result<Json> Account::UpdateProfile(const std::function<Result<void>(Json&)>& change) const {
  for (int attempt = 1;; ++attempt) {
    HALLEY_ASSIGN_OR_RETURN(Profile p, GetProfile());
    HALLEY_RETURN_IF_ERROR(change(p.profile));
    auto saved = Call("user/web/set-user-profile-hash",
                      {{"ProfileData", Dump(p.profile)}, {"RequireHash", p.hash}});
    if (saved) return std::move(p.profile);
    if (saved.error().Code() != ErrorCode::kLocked || attempt == kProfileUpdateAttempts) {
      return Fail(saved.error());
    }
  }
}

Result<bool> Account::StoreRewrapped(
    const LoginState& next, const std::function<Result<ByteView>(const Json&)>& old_r) const {
  for (int attempt = 1;; ++attempt) {
    HALLEY_ASSIGN_OR_RETURN(Profile p, GetProfile());
    HALLEY_ASSIGN_OR_RETURN(ByteView from, old_r(p.profile));
    if (from.empty()) return false;
    HALLEY_RETURN_IF_ERROR(RewrapSecrets(p.profile, from, R(next)));
    Form form = {{"NewPassword", crypto::EncodeLoginSecret(next.l)},
                 {"ProfileData", Dump(p.profile)},
                 {"RequireHash", p.hash}};
    // An account with a recovery code (the admin may reset its password) keeps one.
    if (!StringField(p.profile, "PasswordRecovery").empty()) {
      form.emplace_back("NewRecoveryCode", HexEncode(R(next)));
    }
    auto stored = Call("user/web/account/change-password", form);
    if (stored) return true;
    if (stored.error().Code() != ErrorCode::kLocked || attempt == kProfileUpdateAttempts) {
      return Fail(stored.error());
    }
  }
}

Result<LoginState> Account::ChangePassword(std::string_view new_password) const {
  const crypto::LoginKeys keys = crypto::DeriveLoginKeys(state_.username, new_password);
  LoginState next = state_;
  next.l = keys.l;
  next.r = keys.r;
  HALLEY_RETURN_IF_ERROR(
      StoreRewrapped(next, [&](const Json&) -> Result<ByteView> { return R(state_); }));
  return next;
}

Result<bool> Account::FinishPasswordReset() const {
  Bytes recovery;
  auto changed = StoreRewrapped(state_, [&](const Json& profile) -> Result<ByteView> {
    const std::string hex = StringField(profile, "PasswordRecovery");
    if (hex.empty() || hex == HexEncode(R(state_))) return ByteView();
    auto r = HexDecode(hex);
    if (!r || r->size() != state_.r.size()) {
      return Fail(ErrorCode::kCorruption, "the profile's PasswordRecovery is not a key");
    }
    recovery = std::move(*r);
    return ByteView(recovery);
  });
  SecureZero(recovery.data(), recovery.size());
  return changed;
}

Result<void> Account::RegisterDevice(const std::string& friendly_name,
                                     const std::string& client_version) const {
  struct utsname u {};
  ::uname(&u);
  const Json platform = {{"version", u.release},
                         {"distribution", ""},
                         {"build", u.version},
                         {"os", "linux"},
                         {"arch", u.machine}};
  const char* tz = std::getenv("TZ");
  return Call("user/web/register-device", {{"DeviceID", state_.device_id},
                                           {"FriendlyName", friendly_name},
                                           {"PlatformVersion", Dump(platform)},
                                           {"ClientVersion", client_version},
                                           {"DeviceTimezone", tz ? tz : ""}})
      .map([](const Json&) {});
}

Result<std::string> Account::RequestVault(const std::string& description,
                                          const std::string& provider) const {
  std::string key = HexEncode(crypto::RandomBytes(16));
  std::string password = NewVaultPassword();
  HALLEY_ASSIGN_OR_RETURN(std::string hash, crypto::BcryptSha512(AsBytes(key)));
  Form form = {{"SetKeyHashFormat", "2"}, {"SetKeyHashValue", hash}};
  if (!provider.empty()) form.emplace_back("StorageProvider", provider);
  HALLEY_ASSIGN_OR_RETURN(Json reply, Call("user/web/request-storage-vault", form));
  if (!reply.is_object() || !reply.contains("DestinationID") ||
      !reply["DestinationID"].is_string()) {
    return Fail(ErrorCode::kIoError, "the server's reply lacks DestinationID");
  }
  const std::string id = reply["DestinationID"].get<std::string>();
  auto saved = UpdateProfile([&](Json& profile) -> Result<void> {
    Json& vaults = profile["Destinations"];
    if (!vaults.is_object() || !vaults.contains(id)) {
      return Fail(ErrorCode::kNotFound, "the new Storage Vault " + id + " vanished");
    }
    Json& v = vaults[id];
    v["Description"] = description;
    v["ModifyTime"] = UnixNow();
    SetBucketKey(v, R(state_), key);
    SetVaultPassword(v, R(state_), password);
    return {};
  });
  SecureZero(key.data(), key.size());
  SecureZero(password.data(), password.size());
  if (!saved) {
    return Fail(saved.error().Code(),
                "the server made Storage Vault " + id + " but its keys could not be saved (" +
                    saved.error().Message() + "); it cannot be used: ask for another");
  }
  return id;
}

Result<VaultAccess> Account::OpenVault(std::string_view name) const {
  HALLEY_ASSIGN_OR_RETURN(Profile p, GetProfile());
  return OpenVault(std::move(p), name);
}

Result<VaultAccess> Account::OpenVault(Profile p, std::string_view name) const {
  HALLEY_ASSIGN_OR_RETURN(std::string id, FindEntry(p.profile, "Destinations", name));
  Json profile = std::move(p.profile);
  if (!HasVaultKeys(profile["Destinations"][id])) {
    // First use of a vault an admin requested: this device chooses its password.
    std::string password = NewVaultPassword();
    auto saved = UpdateProfile([&](Json& fresh) -> Result<void> {
      Json& v = fresh["Destinations"][id];
      if (!v.is_object()) return Fail(ErrorCode::kNotFound, "the Storage Vault vanished");
      if (HasVaultKeys(v)) return {};  // another device was first
      if (IntField(v, "DestinationType") == kVaultHalleyBucket &&
          StringField(v, "CometBucketKey").empty()) {
        return Fail(ErrorCode::kInvalidArgument,
                    "the Storage Vault \"" + StringField(v, "Description") +
                        "\" names no bucket key: ask the administrator to set CometBucketKey");
      }
      SetVaultPassword(v, R(state_), password);
      v["ModifyTime"] = UnixNow();
      return {};
    });
    SecureZero(password.data(), password.size());
    HALLEY_ASSIGN_OR_RETURN(profile, std::move(saved));
  }
  return ReadVault(profile, id, R(state_));
}

Result<void> Account::MarkVaultInitialized(const std::string& id) const {
  return UpdateProfile([&](Json& profile) -> Result<void> {
           Json& v = profile["Destinations"][id];
           if (!v.is_object()) return Fail(ErrorCode::kNotFound, "the Storage Vault vanished");
           if (IntField(v, "RepoInitTimestamp") == 0) v["RepoInitTimestamp"] = UnixNow();
           return {};
         })
      .map([](const Json&) {});
}

Result<std::unique_ptr<JobReport>> JobReport::Start(const Account& account, Json job,
                                                    const std::string& client_version) {
  job["DeviceID"] = account.State().device_id;
  job["ClientVersion"] = client_version;
  HALLEY_ASSIGN_OR_RETURN(Json reply, account.Call("user/web/job/start", {{"Job", Dump(job)}}));
  if (!reply.is_object() || !reply.contains("JobID") || !reply["JobID"].is_string()) {
    return Fail(ErrorCode::kIoError, "the server's reply lacks JobID");
  }
  return std::unique_ptr<JobReport>(new JobReport(account, reply["JobID"].get<std::string>()));
}

void JobReport::Log(const char* severity, std::string message) {
  std::lock_guard lock(mu_);
  pending_.push_back(
      {{"Time", UnixNow()}, {"Severity", severity}, {"Message", std::move(message)}});
}

Result<void> JobReport::FlushLog() {
  Json entries;
  {
    std::lock_guard lock(mu_);
    entries = std::exchange(pending_, Json::array());
  }
  // Batches stay far below the server's 1 MiB body limit even after form encoding (up to 3
  // bytes per byte), whatever the messages hold.
  constexpr size_t kMaxBatchBytes = 256 << 10;
  size_t start = 0;
  while (start < entries.size()) {
    Json batch = Json::array();
    size_t bytes = 0;
    size_t end = start;
    while (end < entries.size() && batch.size() < kMaxLogEntriesPerCall) {
      const size_t size = entries[end].dump().size();
      if (!batch.empty() && bytes + size > kMaxBatchBytes) break;
      bytes += size;
      batch.push_back(entries[end++]);
    }
    auto sent = account_.Call("user/web/job/log", {{"JobID", id_}, {"Entries", Dump(batch)}});
    if (!sent) {
      // Kept for the next flush, before anything logged since.
      std::lock_guard lock(mu_);
      Json rest(entries.begin() + static_cast<std::ptrdiff_t>(start), entries.end());
      for (Json& e : pending_) rest.push_back(std::move(e));
      pending_ = std::move(rest);
      return Fail(sent.error());
    }
    start = end;
  }
  return {};
}

Result<void> JobReport::Progress(Json progress) {
  HALLEY_RETURN_IF_ERROR(FlushLog());
  {
    std::lock_guard lock(mu_);
    progress["Counter"] = ++counter_;
  }
  progress["SentTime"] = UnixNow();
  return account_.Call("user/web/job/progress", {{"JobID", id_}, {"Progress", Dump(progress)}})
      .map([](const Json&) {});
}

Result<void> JobReport::Finish(int status, Json totals) {
  auto flushed = FlushLog();
  HALLEY_ASSIGN_OR_RETURN(
      Json reply,
      account_.Call("user/web/job/finish",
                    {{"JobID", id_}, {"Status", std::to_string(status)}, {"Job", Dump(totals)}}));
  (void)reply;
  return flushed;
}

}  // namespace halley::client
