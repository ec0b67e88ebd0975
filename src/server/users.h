// SPDX-License-Identifier: Apache-2.0
//
// User accounts of the Authentication Role (halley-users.db3): one UserProfileConfig JSON per
// user (reference/comet.md §2.4), kept whole so that fields this version does not know survive
// a round trip. A profile's hash (SHA-256 of its stored text, hex) lets clients and admins edit
// it with optimistic concurrency. Thread-safe.
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

class UserStore {
 public:
  static Result<std::unique_ptr<UserStore>> Open(const std::string& path);

  // kInvalidArgument unless `name` is 1-128 bytes of valid UTF-8 without control characters,
  // '/' or '\\', and without leading or trailing spaces.
  static Result<void> ValidateUsername(std::string_view name);
  static std::string HashOf(const std::string& text);

  // kAlreadyExists if the user exists.
  Result<void> Add(const std::string& username, const Json& profile);
  // kNotFound if there is no such user.
  Result<StoredProfile> Get(const std::string& username);
  Result<std::vector<std::string>> List();
  Result<std::vector<std::pair<std::string, Json>>> ListFull();
  // Replaces the profile. With `require_hash`, fails with kLocked ("the profile changed since
  // it was read") unless the stored profile still has that hash; the check and the write are
  // one transaction. Returns the new hash.
  Result<std::string> Set(const std::string& username, const Json& profile,
                          const std::optional<std::string>& require_hash);
  // Reads, edits and writes a profile in one transaction (for server-side edits such as
  // registering a device or adding a vault).
  Result<Json> Update(const std::string& username, const std::function<Result<void>(Json&)>& edit);
  Result<void> Delete(const std::string& username);

 private:
  explicit UserStore(db::Database db) : db_(std::move(db)) {}
  db::Database db_;
};

}  // namespace halley::server
