// SPDX-License-Identifier: Apache-2.0
//
// Tenants (reference/comet.md §5.6): Organizations{id: Organization} in halleyd.cfg, managed by
// top-level administrators through admin/organization/*, and the scoping of tenant
// administrators (an AdminUsers entry with an OrganizationID), all decided in AdmitAdmin: a
// tenant admin reaches only the endpoints listed in kTenantEndpoints, and only the users,
// jobs, live connections, buckets and policies of its own organization. Handlers that list
// objects filter them with Scope, InScope or UserScope; handlers that create objects put them
// in NewObjectOrganization.
#include <algorithm>
#include <cctype>
#include <span>

#include "base/log.h"
#include "crypto/random.h"
#include "server/api_call.h"

namespace halley::server::api {
namespace {

// The admin endpoints open to tenant administrators. Everything else (server configuration,
// organizations, Storage Templates, the registration lobby, free space of the whole Storage
// Role, and any endpoint added later) is for top-level administrators only. A trailing '*'
// matches any rest.
constexpr std::string_view kTenantEndpoints[] = {
    "admin/meta/version",
    "admin/account/session-start",
    "admin/account/session-revoke",
    "admin/storage/register-bucket",
    "admin/storage/list-buckets",
    "admin/storage/bucket-properties",
    "admin/storage/delete-bucket",
    "admin/list-users",
    "admin/list-users-full",
    "admin/add-user",
    "admin/add-user-from-profile",
    "admin/get-user-profile",
    "admin/get-user-profile-and-hash",
    "admin/get-user-profile-hash",
    "admin/set-user-profile",
    "admin/set-user-profile-hash",
    "admin/delete-user",
    "admin/reset-user-password",
    "admin/revoke-device",
    "admin/request-storage-vault",
    "admin/request-storage-vault-providers",
    "admin/get-jobs-for-user",
    "admin/get-jobs-recent",
    "admin/get-jobs-all",
    "admin/get-jobs-for-date-range",
    "admin/get-job-properties",
    "admin/get-job-log",
    "admin/get-job-log-entries",
    "admin/job/abandon",
    "admin/job/cancel",
    "admin/dispatcher/*",
    "admin/policies/list",
    "admin/policies/list-full",
    "admin/policies/get",
    "admin/policies/new",
    "admin/policies/set",
    "admin/policies/delete",
};

// Endpoints whose TargetUser is created by the call, so it need not exist yet.
constexpr std::string_view kCreatesUser[] = {"admin/add-user", "admin/add-user-from-profile"};

bool Listed(std::span<const std::string_view> list, std::string_view endpoint) {
  return std::any_of(list.begin(), list.end(), [&](std::string_view e) {
    return e.ends_with('*') ? endpoint.starts_with(e.substr(0, e.size() - 1)) : e == endpoint;
  });
}

// What a tenant admin hears of another organization's object: the same as of a missing one,
// so that names cannot be probed.
Error OtherOrganization(const std::string& kind, const std::string& id) {
  return Error(ErrorCode::kNotFound, "no " + kind + " '" + id + "'");
}

// The user `name` must exist (unless `may_be_new`) and be in the caller's organization; if not,
// `refused` (by default: no such user).
Result<void> CheckUser(Call& c, const std::string& name, bool may_be_new,
                       std::optional<Error> refused = std::nullopt) {
  auto p = c.app.Users().Get(name);
  if (!p) {
    if (p.error().Code() == ErrorCode::kNotFound && may_be_new) return {};
    return Fail(refused && p.error().Code() == ErrorCode::kNotFound ? *refused : p.error());
  }
  if (!InScope(c, StringField(p->profile, "OrganizationID"))) {
    return Fail(refused ? *refused : OtherOrganization("user", name));
  }
  return {};
}

// Org IDs: what NewUuid gives, or an admin's own (1-128 of [A-Za-z0-9_.-]).
Result<void> ValidateOrganizationId(const std::string& id) {
  const bool ok = !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
  });
  if (!ok) {
    return Fail(ErrorCode::kInvalidArgument,
                "OrganizationID must be 1 to 128 characters of A-Z, a-z, 0-9, '-', '_' and '.'");
  }
  return {};
}

}  // namespace

bool InScope(const Call& c, std::string_view org) {
  return c.organization.empty() || org == c.organization;
}

std::optional<std::string> Scope(const Call& c) {
  if (c.organization.empty()) return std::nullopt;
  return c.organization;
}

std::string NewObjectOrganization(const Call& c, std::string_view param) {
  return c.organization.empty() ? c.GetOr(param) : c.organization;
}

Result<UserScope> UserScope::Of(Call& c) {
  UserScope scope;
  if (c.organization.empty()) return scope;
  HALLEY_ASSIGN_OR_RETURN(auto users, c.app.Users().List(c.organization));
  scope.users_.emplace(users.begin(), users.end());
  return scope;
}

Result<void> AdmitAdmin(Call& c, std::string_view endpoint) {
  const std::optional<std::string> org = c.app.Config().AdminOrganization(c.user);
  if (!org) {
    // Its sessions end with it: a name given to a new admin later must not inherit them.
    (void)c.app.Sessions().EndAll(c.user, "admin");
    return Fail(ErrorCode::kUnauthenticated,
                "The administrator account '" + c.user + "' no longer exists");
  }
  c.organization = *org;
  if (c.organization.empty()) return {};
  if (!Listed(kTenantEndpoints, endpoint)) {
    return Fail(ErrorCode::kPermissionDenied,
                "This API is only available to administrators of the top-level organization");
  }
  for (const char* param : {"TargetOrganization", "SetOrganizationID"}) {
    const std::string value = c.GetOr(param);
    if (!value.empty() && value != c.organization) {
      return Fail(
          ErrorCode::kPermissionDenied,
          std::string(param) + ": you administer organization '" + c.organization + "' only");
    }
  }
  if (const std::string* user = c.Get("TargetUser"); user && !user->empty()) {
    HALLEY_RETURN_IF_ERROR(CheckUser(c, *user, Listed(kCreatesUser, endpoint)));
  }
  if (const std::string* id = c.Get("JobID"); id && !id->empty()) {
    HALLEY_ASSIGN_OR_RETURN(Json job, c.app.Jobs().Get(*id));
    HALLEY_RETURN_IF_ERROR(
        CheckUser(c, StringField(job, "Username"), false, OtherOrganization("job", *id)));
  }
  if (const std::string* id = c.Get("TargetID"); id && !id->empty()) {
    const std::optional<LiveDevice> device = c.app.Live().Find(*id);
    if (!device) return Fail(ErrorCode::kNotFound, "No live connection '" + *id + "'");
    if (device->username.empty()) {
      return Fail(ErrorCode::kPermissionDenied,
                  "The registration lobby is only available to top-level administrators");
    }
    HALLEY_RETURN_IF_ERROR(
        CheckUser(c, device->username, false,
                  Error(ErrorCode::kNotFound, "No live connection '" + *id + "'")));
  }
  if (const std::string* id = c.Get("BucketID"); id && !id->empty()) {
    HALLEY_ASSIGN_OR_RETURN(BucketProperties bucket, c.app.Buckets().Get(*id));
    if (!InScope(c, bucket.organization_id)) return Fail(OtherOrganization("bucket", *id));
  }
  if (const std::string* id = c.Get("PolicyID"); id && !id->empty()) {
    // One that does not exist is for the handler to refuse (or, for policies/set, to create
    // in the caller's organization).
    auto policy = c.app.Users().GetPolicy(*id);
    if (!policy && policy.error().Code() != ErrorCode::kNotFound) return Fail(policy.error());
    if (policy && !InScope(c, StringField(policy->policy, "OrganizationID"))) {
      return Fail(OtherOrganization("policy", *id));
    }
  }
  return {};
}

// --- admin/organization/* (top-level administrators only: AdmitAdmin) ---

Response OrganizationList(Call& c) { return Response::Json(Dump(c.app.Config().Organizations())); }

// OrganizationID (optional: a new ID), Organization (JSON): adds or replaces the organization.
Response OrganizationSet(Call& c) {
  std::string id = c.GetOr("OrganizationID");
  if (id.empty()) id = crypto::NewUuid();
  if (auto valid = ValidateOrganizationId(id); !valid) return ErrorReply(valid.error());
  auto org = c.JsonParam("Organization");
  if (!org) return ErrorReply(org.error());
  if (!org->is_object()) return Response::Message(400, "Organization must be a JSON object");
  auto saved = c.app.UpdateConfig([&](ServerConfig& config) -> Result<void> {
    Json doc = config.Document();
    if (!doc.contains("Organizations") || !doc["Organizations"].is_object()) {
      doc["Organizations"] = Json::object();
    }
    doc["Organizations"][id] = *org;
    HALLEY_ASSIGN_OR_RETURN(config,
                            ServerConfig::FromJson(std::move(doc), c.app.Options().data_dir));
    return {};
  });
  if (!saved) return ErrorReply(saved.error());
  LogLine(LogLevel::kInfo, "organization_set", {{"organization", id}, {"admin", c.user}});
  return Response::Json(
      Dump({{"Status", 200}, {"Message", "OK"}, {"ID", id}, {"Organization", *org}}));
}

// OrganizationID: deletes the organization, refused (409) while anything belongs to it: its
// users, buckets, policies or administrators would otherwise be left in an organization that
// no longer exists.
Response OrganizationDelete(Call& c) {
  auto id = c.Need("OrganizationID");
  if (!id) return ErrorReply(id.error());
  if (!c.app.Config().Organizations().contains(*id)) {
    return Response::Message(404, "no organization '" + *id + "'");
  }
  std::vector<std::string> members;
  auto users = c.app.Users().List(*id);
  if (!users) return ErrorReply(users.error());
  if (!users->empty()) members.push_back(std::to_string(users->size()) + " user(s)");
  auto buckets = c.app.Buckets().List();
  if (!buckets) return ErrorReply(buckets.error());
  const auto bucket_count = std::count_if(buckets->begin(), buckets->end(),
                                          [&](const auto& b) { return b.organization_id == *id; });
  if (bucket_count > 0) members.push_back(std::to_string(bucket_count) + " bucket(s)");
  auto policies = c.app.Users().ListPolicies();
  if (!policies) return ErrorReply(policies.error());
  const auto policy_count = std::count_if(policies->begin(), policies->end(), [&](const auto& p) {
    return StringField(p.second, "OrganizationID") == *id;
  });
  if (policy_count > 0) members.push_back(std::to_string(policy_count) + " policy(ies)");
  auto saved = c.app.UpdateConfig([&](ServerConfig& config) -> Result<void> {
    Json doc = config.Document();
    int admins = 0;
    for (const Json& a : doc.value("AdminUsers", Json::array())) {
      if (StringField(a, "OrganizationID") == *id) ++admins;
    }
    if (admins > 0) members.push_back(std::to_string(admins) + " administrator(s)");
    if (!members.empty()) {
      std::string list;
      for (const std::string& m : members) list += (list.empty() ? "" : ", ") + m;
      return Fail(ErrorCode::kLocked,
                  "organization '" + *id + "' still has " + list + "; move or delete them first");
    }
    doc["Organizations"].erase(*id);
    HALLEY_ASSIGN_OR_RETURN(config,
                            ServerConfig::FromJson(std::move(doc), c.app.Options().data_dir));
    return {};
  });
  if (!saved) return ErrorReply(saved.error());
  LogLine(LogLevel::kInfo, "organization_deleted", {{"organization", *id}, {"admin", c.user}});
  return Ok();
}

}  // namespace halley::server::api
