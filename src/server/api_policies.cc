// SPDX-License-Identifier: Apache-2.0
//
// Policies (reference/comet.md §5.5): admin/policies/*. A GroupPolicy is kept whole (fields
// this version does not know survive a round trip) in halley-users.db3; UserStore copies its
// Policy into every linked profile, and the user API enforces it (policies.h). A policy
// belongs to an organization: a tenant administrator sees and changes only its own
// organization's (AdmitAdmin checks PolicyID; the lists are filtered here), and the policies it
// creates are its organization's.
#include <algorithm>
#include <cctype>
#include <chrono>

#include "base/log.h"
#include "crypto/random.h"
#include "server/api_call.h"
#include "server/policies.h"

namespace halley::server::api {
namespace {

int64_t Now(Call& c) {
  return std::chrono::duration_cast<std::chrono::seconds>(c.app.GetClock().Now().time_since_epoch())
      .count();
}

// The GroupPolicy parameter: `Policy`, as the product's SDK sends it, or `PolicyData`.
Result<Json> PolicyParam(Call& c) {
  HALLEY_ASSIGN_OR_RETURN(Json policy, c.JsonParam(c.Get("Policy") ? "Policy" : "PolicyData"));
  HALLEY_RETURN_IF_ERROR(ValidateGroupPolicy(policy));
  return policy;
}

// Policy IDs: what NewUuid gives, or an admin's own (1-128 of [A-Za-z0-9_.-]).
Result<std::string> PolicyId(Call& c) {
  HALLEY_ASSIGN_OR_RETURN(std::string id, c.Need("PolicyID"));
  const bool ok =
      id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
      });
  if (!ok) {
    return Fail(ErrorCode::kInvalidArgument,
                "PolicyID must be 1 to 128 characters of A-Z, a-z, 0-9, '-', '_' and '.'");
  }
  return id;
}

// Tells the devices of users whose profile a policy change rewrote to read it again.
void NotifyLinked(Call& c, const std::vector<std::string>& users) {
  for (const std::string& user : users) c.app.Live().Notify(user, "refetch-profile");
}

Response List(Call& c, bool full) {
  auto policies = c.app.Users().ListPolicies();
  if (!policies) return ErrorReply(policies.error());
  Json out = Json::object();
  for (auto& [id, policy] : *policies) {
    if (!InScope(c, StringField(policy, "OrganizationID"))) continue;
    out[id] = full ? std::move(policy) : Json(StringField(policy, "Description"));
  }
  return Response::Json(Dump(out));
}

}  // namespace

Response PoliciesList(Call& c) { return List(c, false); }
Response PoliciesListFull(Call& c) { return List(c, true); }

Response PoliciesGet(Call& c) {
  auto id = PolicyId(c);
  if (!id) return ErrorReply(id.error());
  auto stored = c.app.Users().GetPolicy(*id);
  if (!stored) return ErrorReply(stored.error());
  return Response::Json(Dump({{"Status", 200},
                              {"Message", "OK"},
                              {"Policy", stored->policy},
                              {"PolicyHash", stored->hash}}));
}

// Policy (or PolicyData): a GroupPolicy, stored under a new ID. CreatedDate and ModifiedDate
// are set here; a tenant admin's policy is its organization's.
Response PoliciesNew(Call& c) {
  auto policy = PolicyParam(c);
  if (!policy) return ErrorReply(policy.error());
  if (!c.organization.empty()) (*policy)["OrganizationID"] = c.organization;
  const int64_t now = Now(c);
  (*policy)["CreatedDate"] = now;
  (*policy)["ModifiedDate"] = now;
  const std::string id = crypto::NewUuid();
  if (auto added = c.app.Users().AddPolicy(id, *policy); !added) return ErrorReply(added.error());
  LogLine(LogLevel::kInfo, "policy_added", {{"policy", id}, {"admin", c.user}});
  return Response::Json(Dump({{"Status", 200}, {"Message", "OK"}, {"PolicyID", id}}));
}

// PolicyID, Policy (or PolicyData), opt CheckPolicyHash: replaces the policy (creating it under
// that ID if there is none, as the product does) and rewrites the Policy of every linked
// profile in the same transaction; their devices are told to refetch their profile.
Response PoliciesSet(Call& c) {
  auto id = PolicyId(c);
  if (!id) return ErrorReply(id.error());
  auto policy = PolicyParam(c);
  if (!policy) return ErrorReply(policy.error());
  if (!c.organization.empty()) (*policy)["OrganizationID"] = c.organization;
  const int64_t now = Now(c);
  auto stored = c.app.Users().GetPolicy(*id);
  if (!stored && stored.error().Code() != ErrorCode::kNotFound) return ErrorReply(stored.error());
  const Json created = stored ? stored->policy.value("CreatedDate", Json(now)) : Json(now);
  (*policy)["CreatedDate"] = created.is_number_integer() ? created : Json(now);
  (*policy)["ModifiedDate"] = now;
  std::optional<std::string> require;
  if (const std::string* hash = c.Get("CheckPolicyHash"); hash && !hash->empty()) require = *hash;
  auto changed = c.app.Users().SetPolicy(*id, *policy, require, true);
  if (!changed) return ErrorReply(changed.error());
  LogLine(LogLevel::kInfo, "policy_set",
          {{"policy", *id}, {"admin", c.user}, {"profiles_updated", changed->size()}});
  NotifyLinked(c, *changed);
  return Ok();
}

// PolicyID: refused (409, naming them) while users are linked to the policy; see
// UserStore::DeletePolicy.
Response PoliciesDelete(Call& c) {
  auto id = PolicyId(c);
  if (!id) return ErrorReply(id.error());
  if (auto deleted = c.app.Users().DeletePolicy(*id); !deleted) return ErrorReply(deleted.error());
  LogLine(LogLevel::kInfo, "policy_deleted", {{"policy", *id}, {"admin", c.user}});
  return Ok();
}

}  // namespace halley::server::api
