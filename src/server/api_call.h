// SPDX-License-Identifier: Apache-2.0
//
// Internal to the API implementation (api*.cc): one request's parsed form and caller, reply
// helpers, and the endpoint handlers each file provides to the table in api.cc.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "httpd/http.h"
#include "server/app.h"
#include "server/status.h"

namespace halley::server::api {

using httpd::Response;

inline constexpr size_t kMaxApiBody = 1 << 20;
inline constexpr JsonLimits kApiJsonLimits{kMaxApiBody, 64};

inline std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

inline Response Ok() { return Response::Message(200, "OK"); }
inline Response ErrorReply(const Error& e) {
  return Response::Message(HttpStatus(e.Code()), e.Message());
}

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
      return Fail(ErrorCode::kInvalidArgument,
                  "parameter " + std::string(name) + " must be an integer");
    }
    return j->get<int64_t>();
  }
  // A JSON-encoded object parameter (ProfileData, Entries, ...).
  Result<Json> JsonParam(std::string_view name) const {
    HALLEY_ASSIGN_OR_RETURN(std::string text, Need(name));
    auto j = ParseJson(text, kApiJsonLimits);
    if (!j) {
      return Fail(ErrorCode::kInvalidArgument,
                  std::string(name) + " is not valid JSON: " + j.error().Message());
    }
    return j;
  }
};

// Users and profiles (api_users.cc).
Response ListUsers(Call& c);
Response ListUsersFull(Call& c);
Response AddUser(Call& c);
Response AddUserFromProfile(Call& c);
Response GetUserProfile(Call& c);
Response GetUserProfileAndHash(Call& c);
Response GetUserProfileHash(Call& c);
Response SetUserProfile(Call& c);
Response SetUserProfileHash(Call& c);
Response DeleteUser(Call& c);
Response ResetUserPassword(Call& c);
Response RevokeDevice(Call& c);
Response RequestStorageVault(Call& c);
Response RequestStorageVaultProviders(Call& c);
Response UserSessionStart(Call& c);
Response UserGetProfileAndHash(Call& c);
Response UserSetProfileHash(Call& c);
Response UserChangePassword(Call& c);
Response UserRegisterDevice(Call& c);
Response UserRequestStorageVault(Call& c);
// Verifies the user's login (an L secret or a typed password) against their profile.
Result<void> AuthenticateUserPassword(Call& c, const std::string& user,
                                      const std::string& password);

// The caller a user endpoint acts for (api.cc): sets c.user, or fails with kUnauthenticated.
Result<void> AuthenticateUser(Call& c);

// Live connections (api_live.cc).
Response HandleLiveUpgrade(App& app, httpd::Request& req, bool lobby);
Response DispatcherListActive(Call& c);
Response DispatcherAction(Call& c);
Response AdminJobCancel(Call& c);
Response InstallationListActive(Call& c);
Response InstallationRegisterDevice(Call& c);

// Jobs (api_jobs.cc).
Response GetJobsForUser(Call& c);
Response GetJobsRecent(Call& c);
Response GetJobsAll(Call& c);
Response GetJobsForDateRange(Call& c);
Response GetJobProperties(Call& c);
Response GetJobLog(Call& c);
Response GetJobLogEntries(Call& c);
Response AdminJobAbandon(Call& c);
Response UserGetJobs(Call& c);
Response UserJobStart(Call& c);
Response UserJobProgress(Call& c);
Response UserJobLog(Call& c);
Response UserJobFinish(Call& c);
Response UserSchedulePlan(Call& c);

}  // namespace halley::server::api
