// SPDX-License-Identifier: Apache-2.0
//
// A logged-in device's view of its account on halleyd: the profile (read, and changed with
// optimistic concurrency), device registration, Storage Vaults ready to open, and job reports.
// Every call is one or a few API requests (docs/server.md); nothing is cached between calls.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "client/login_state.h"
#include "client/profile.h"
#include "httpclient/server_api.h"

namespace halley::client {

// Seconds since the Unix epoch, as profiles and jobs record time.
int64_t UnixNow();

class Account {
 public:
  explicit Account(LoginState state);

  const LoginState& State() const { return state_; }
  // An API call as this account's user.
  Result<Json> Call(std::string_view endpoint, const Form& fields = {}) const;

  struct Profile {
    Json profile;
    std::string hash;
  };
  Result<Profile> GetProfile() const;
  // Reads the profile, applies `change` and saves it only if nobody changed it in between; on a
  // concurrent change it reads and applies again (up to 5 times, then kLocked). An error from
  // `change` is returned and nothing is saved. Returns the saved profile.
  Result<Json> UpdateProfile(const std::function<Result<void>(Json&)>& change) const;

  // Changes the account's password: derives the new L and R, re-wraps every key in the
  // profile under the new R and stores hash and profile in one call (retried on a concurrent
  // profile change). Returns the login state to save; this Account keeps the old one.
  Result<LoginState> ChangePassword(std::string_view new_password) const;

  // After an administrator reset the password (accounts with a recovery code only), the
  // profile's keys are still wrapped under the recovery key, the old R kept in
  // PasswordRecovery. This re-wraps them for this login's R, which becomes the recovery key.
  // Returns false when there was nothing to do (no recovery code, or it is this R already).
  Result<bool> FinishPasswordReset() const;

  // Adds or refreshes this device in the profile (register-device).
  Result<void> RegisterDevice(const std::string& friendly_name,
                              const std::string& client_version) const;

  // Asks the server for a new Storage Vault from a Storage Template ("" = the default one),
  // keeping its secrets on the device: the bucket key and the vault password are generated
  // here, the server gets only the key's bcrypt hash, and both are saved wrapped by R before
  // this returns. Returns the new vault's ID; the vault itself is created on first use.
  Result<std::string> RequestVault(const std::string& description,
                                   const std::string& provider) const;

  // The vault `name` (ID or description), ready to open. A vault without keys yet (requested
  // by an admin) gets a new vault password, saved wrapped before it is returned.
  Result<VaultAccess> OpenVault(std::string_view name) const;
  // The same from a profile just read with GetProfile (the server is asked again only for a
  // vault without keys).
  Result<VaultAccess> OpenVault(Profile p, std::string_view name) const;
  // Records that the vault now exists (RepoInitTimestamp), so its keys are never replaced.
  Result<void> MarkVaultInitialized(const std::string& id) const;

 private:
  // Re-wraps the profile's keys from the key `old_r` picks (empty: nothing to do, false) to
  // `next`'s R and stores them with `next`'s L hash (user/web/account/change-password),
  // retrying on a concurrent profile change. True when it stored something.
  Result<bool> StoreRewrapped(const LoginState& next,
                              const std::function<Result<ByteView>(const Json&)>& old_r) const;

  LoginState state_;
  ServerApi api_;
};

// Job classifications and statuses (reference/comet.md §2.5).
inline constexpr int kJobBackup = 4001;
inline constexpr int kJobRestore = 4002;
inline constexpr int kJobRetention = 4003;
inline constexpr int kJobUnlock = 4004;
inline constexpr int kJobDeleteCustom = 4005;
inline constexpr int kJobReindex = 4009;
inline constexpr int kJobDeepVerify = 4010;
inline constexpr int kJobSuccess = 5000;
inline constexpr int kJobWarning = 7001;
inline constexpr int kJobError = 7002;
inline constexpr int kJobQuotaExceeded = 7003;
inline constexpr int kJobCancelled = 7005;
inline constexpr int kJobSkippedAlreadyRunning = 7006;

// One job as the server records it (job/start, progress, log, finish). Reporting is best
// effort for the job itself: a failed report never fails a backup, and the caller decides
// whether to mention it. Thread-safe.
class JobReport {
 public:
  // Starts the job on the server: `job` holds Classification, SourceGUID, DestinationGUID;
  // DeviceID and ClientVersion are added.
  static Result<std::unique_ptr<JobReport>> Start(const Account& account, Json job,
                                                  const std::string& client_version);
  const std::string& Id() const { return id_; }

  // Queues a log entry: severity "D", "I", "W" or "E". Sent with the next Progress or Finish.
  void Log(const char* severity, std::string message);
  // Sends queued log entries and a progress report (a Counter is added).
  Result<void> Progress(Json progress);
  // Sends queued log entries and ends the job with `status` and its totals.
  Result<void> Finish(int status, Json totals);

 private:
  JobReport(const Account& account, std::string id) : account_(account), id_(std::move(id)) {}
  Result<void> FlushLog();

  const Account& account_;
  const std::string id_;
  std::mutex mu_;
  Json pending_ = Json::array();  // Guarded by mu_.
  int64_t counter_ = 0;           // Guarded by mu_.
};

}  // namespace halley::client
