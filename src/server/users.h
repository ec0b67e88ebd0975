// SPDX-License-Identifier: Apache-2.0
//
// User accounts of the Authentication Role (halley-users.db3): one UserProfileConfig JSON per
// user (reference/comet.md §2.4), kept whole so that fields this version does not know survive
// a round trip. A profile's hash (SHA-256 of its stored text, hex) lets clients and admins edit
// it with optimistic concurrency. Thread-safe.
//
// The same database holds the policies (GroupPolicy JSON, comet.md §5.5), so that linking a
// profile to a policy and changing or deleting a policy are each one transaction. A profile
// whose PolicyID names a policy gets that policy's "Policy" object (the UserPolicy) copied into
// its own "Policy" on every write, by whatever path (LinkPolicy below): nobody can write a
// profile that disagrees with its policy, and a policy change rewrites its linked profiles.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "db/db.h"

namespace halley::server {

struct StoredProfile {
  Json profile;
  std::string hash;
};

struct StoredPolicy {
  Json policy;  // the GroupPolicy
  std::string hash;
};

class UserStore {
 public:
  static Result<std::unique_ptr<UserStore>> Open(const std::string& path);

  // kInvalidArgument unless `name` is 1-128 bytes of valid UTF-8 without control characters,
  // '/' or '\\', and without leading or trailing spaces.
  static Result<void> ValidateUsername(std::string_view name);
  static std::string HashOf(const std::string& text);

  // Every write below (Add, Set, Update) links the profile to its policy (LinkPolicy) in the
  // same transaction, and fails as LinkPolicy does.

  // kAlreadyExists if the user exists.
  Result<void> Add(const std::string& username, const Json& profile);
  // kNotFound if there is no such user.
  Result<StoredProfile> Get(const std::string& username);
  // Usernames (sorted), or with `organization` only those whose profile's OrganizationID is
  // that ("" = the top-level organization; a profile without the field counts as "").
  Result<std::vector<std::string>> List(
      const std::optional<std::string>& organization = std::nullopt);
  Result<std::vector<std::pair<std::string, Json>>> ListFull(
      const std::optional<std::string>& organization = std::nullopt);
  // Replaces the profile (its Policy follows its PolicyID, see LinkPolicy). With
  // `require_hash`, fails with kLocked ("the profile changed since it was read") unless the
  // stored profile still has that hash; the check and the write are one transaction. Returns
  // the new hash.
  Result<std::string> Set(const std::string& username, const Json& profile,
                          const std::optional<std::string>& require_hash);
  // Reads, edits and writes a profile in one transaction (for server-side edits such as
  // registering a device or adding a vault).
  Result<Json> Update(const std::string& username, const std::function<Result<void>(Json&)>& edit);
  Result<void> Delete(const std::string& username);

  // --- policies ---

  // kAlreadyExists if the ID is taken.
  Result<void> AddPolicy(const std::string& id, const Json& policy);
  // kNotFound if there is no such policy.
  Result<StoredPolicy> GetPolicy(const std::string& id);
  // Every policy, sorted by ID.
  Result<std::vector<std::pair<std::string, Json>>> ListPolicies();
  // Replaces policy `id` (or, with `create`, adds it if it does not exist; else kNotFound),
  // and in the same transaction copies its new "Policy" into the profile of every user linked
  // to it. With `require_hash`, kLocked unless the stored policy still has that hash (a policy
  // that does not exist has none). kLocked if users linked to it belong to another
  // organization than the policy's new OrganizationID. Returns the users whose profile
  // changed (their devices should refetch it).
  Result<std::vector<std::string>> SetPolicy(const std::string& id, const Json& policy,
                                             const std::optional<std::string>& require_hash,
                                             bool create);
  // Deletes the policy. kNotFound if there is none; kLocked (naming them) while users are
  // linked to it: unlinking them silently would lift restrictions an admin chose, so the
  // admin unlinks them first.
  Result<void> DeletePolicy(const std::string& id);
  // The users linked to policy `id` (sorted).
  Result<std::vector<std::string>> LinkedToPolicy(const std::string& id);

 private:
  explicit UserStore(db::Database db) : db_(std::move(db)) {}

  // What every profile write does inside its transaction, given the profile about to be
  // written and the stored one's PolicyID (nullopt for a new user). A non-empty PolicyID that
  // names a policy makes "Policy" a copy of that policy's "Policy" ({} if it has none), or
  // fails with kInvalidArgument if the policy's OrganizationID differs from the profile's. A
  // PolicyID naming no policy is kNotFound when it is new (differs from the stored one); one
  // already stored (its policy gone behind our back) leaves "Policy" as it is, so that the
  // user's other writes keep working. An empty PolicyID leaves "Policy" alone: the admin may
  // then edit it directly.
  static Result<void> LinkPolicy(db::Database& db, Json& profile,
                                 const std::optional<std::string>& stored_id);
  static Result<std::string> Write(db::Database& db, const std::string& username,
                                   const Json& profile);

  db::Database db_;
};

}  // namespace halley::server
