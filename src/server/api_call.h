// SPDX-License-Identifier: Apache-2.0
//
// Internal to the API implementation (api*.cc): one request's parsed form and caller, reply
// helpers, and the endpoint handlers each file provides to the table in api.cc.
#pragma once

#include <optional>
#include <set>
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
  // An administrator's OrganizationID ("" = the top-level organization), set by AdmitAdmin.
  std::string organization = {};

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
Response RemoteStorageGet(Call& c);
Response RemoteStorageSet(Call& c);
Response RemoteStorageTest(Call& c);
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

// Policies (api_policies.cc).
Response PoliciesList(Call& c);
Response PoliciesListFull(Call& c);
Response PoliciesGet(Call& c);
Response PoliciesNew(Call& c);
Response PoliciesSet(Call& c);
Response PoliciesDelete(Call& c);

// Tenants (api_tenants.cc): organizations, and the scoping of tenant administrators.
Response OrganizationList(Call& c);
Response OrganizationSet(Call& c);
Response OrganizationDelete(Call& c);
// The one gate of tenant scoping, run on every admin call once the credentials are checked:
// sets c.organization from the admin account (kUnauthenticated if it no longer exists). A
// top-level admin may call everything. A tenant admin (non-empty OrganizationID) may call only
// the endpoints listed as open to tenants (kPermissionDenied for the rest, e.g.
// admin/meta/server-config/* and admin/organization/*; an endpoint added later stays closed
// to tenants until it is listed), and only about objects of its organization: the TargetUser,
// the user of a JobID or of a live connection (TargetID), the BucketID, the PolicyID, and
// TargetOrganization and SetOrganizationID must be its organization's (kPermissionDenied
// otherwise; kNotFound for a user, job, connection or bucket that does not exist).
Result<void> AdmitAdmin(Call& c, std::string_view endpoint);
// True if the caller may see an object of organization `org` (a top-level admin sees all).
bool InScope(const Call& c, std::string_view org);
// The organization a call's listing is limited to: nullopt for a top-level admin (everything).
std::optional<std::string> Scope(const Call& c);
// The organization an object created by this call belongs to: a tenant admin's own; for a
// top-level admin the parameter `param` (TargetOrganization, SetOrganizationID), "" if absent.
std::string NewObjectOrganization(const Call& c, std::string_view param);
// Which users' objects (jobs, live connections) the caller may see.
class UserScope {
 public:
  static Result<UserScope> Of(Call& c);
  bool Sees(const std::string& username) const { return !users_ || users_->contains(username); }

 private:
  std::optional<std::set<std::string>> users_;  // nullopt: every user
};

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
