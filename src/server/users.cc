// SPDX-License-Identifier: Apache-2.0
#include "server/users.h"

#include "crypto/hash.h"

namespace halley::server {
namespace {

constexpr std::string_view kSchema[] = {
    R"sql(CREATE TABLE users (
            username TEXT PRIMARY KEY,
            profile TEXT NOT NULL,
            profile_hash TEXT NOT NULL))sql",
    // Version 2: policies, and the profile fields that link users to policies and tenants as
    // indexed columns computed from the profile (so they can never disagree with it).
    R"sql(CREATE TABLE policies (
            id TEXT PRIMARY KEY,
            policy TEXT NOT NULL,
            policy_hash TEXT NOT NULL);
          ALTER TABLE users ADD COLUMN policy_id TEXT
            GENERATED ALWAYS AS (IFNULL(json_extract(profile, '$.PolicyID'), '')) VIRTUAL;
          ALTER TABLE users ADD COLUMN organization_id TEXT
            GENERATED ALWAYS AS (IFNULL(json_extract(profile, '$.OrganizationID'), '')) VIRTUAL;
          CREATE INDEX users_by_policy ON users (policy_id);
          CREATE INDEX users_by_organization ON users (organization_id))sql",
};

// How many linked users an error message names.
constexpr size_t kNamedUsers = 5;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string StringOr(const Json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "'alice', 'bob' and 3 more".
std::string Names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < kNamedUsers; ++i) {
    if (i > 0) out += ", ";
    out += "'" + names[i] + "'";
  }
  if (names.size() > kNamedUsers) {
    out += " and " + std::to_string(names.size() - kNamedUsers) + " more";
  }
  return out;
}

Result<std::vector<std::string>> Column(db::Database& db, std::string_view sql,
                                        std::initializer_list<db::Value> params) {
  HALLEY_ASSIGN_OR_RETURN(auto rows, db.Query(sql, params));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.Text(0));
  return out;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + static_cast<size_t>(n) > s.size()) return false;
    for (int k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) >> 6) != 2) return false;
    }
    i += static_cast<size_t>(n);
  }
  return true;
}

// Inserts the row of a new user or policy (key, JSON, the JSON's hash). An existing
// key is kAlreadyExists naming `what`.
Result<void> InsertNew(db::Database& db, std::string_view sql, const std::string& key,
                       const std::string& text, const std::string& what) {
  auto added = db.Execute(sql, {key, text, UserStore::HashOf(text)});
  if (!added && added.error().Code() == ErrorCode::kAlreadyExists) {
    return Fail(ErrorCode::kAlreadyExists, what + " already exists");
  }
  if (!added) return Fail(added.error());
  return {};
}

}  // namespace

Result<void> UserStore::ValidateUsername(std::string_view name) {
  const auto bad = [](std::string why) {
    return Fail(ErrorCode::kInvalidArgument, "invalid username: " + why);
  };
  if (name.empty() || name.size() > 128) return bad("it must be 1 to 128 bytes");
  if (!ValidUtf8(name)) return bad("it is not valid UTF-8");
  if (name.front() == ' ' || name.back() == ' ') return bad("leading or trailing space");
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '/' || c == '\\') {
      return bad("control characters, '/' and '\\' are not allowed");
    }
  }
  return {};
}

std::string UserStore::HashOf(const std::string& text) {
  return crypto::Sha256(AsBytes(text)).Hex();
}

Result<std::unique_ptr<UserStore>> UserStore::Open(const std::string& path) {
  HALLEY_ASSIGN_OR_RETURN(db::Database db, db::Database::Open(path));
  HALLEY_RETURN_IF_ERROR(db.Migrate(kSchema));
  return std::unique_ptr<UserStore>(new UserStore(std::move(db)));
}

Result<void> UserStore::LinkPolicy(db::Database& db, Json& profile,
                                   const std::optional<std::string>& stored_id) {
  const std::string id = StringOr(profile, "PolicyID");
  if (id.empty()) return {};
  HALLEY_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT policy FROM policies WHERE id = ?", {id}));
  if (rows.empty()) {
    if (stored_id == id) return {};
    return Fail(ErrorCode::kNotFound, "no policy '" + id + "' (PolicyID)");
  }
  HALLEY_ASSIGN_OR_RETURN(Json policy, ParseJson(rows[0].Text(0)));
  const std::string policy_org = StringOr(policy, "OrganizationID");
  const std::string user_org = StringOr(profile, "OrganizationID");
  if (policy_org != user_org) {
    return Fail(ErrorCode::kInvalidArgument,
                "policy '" + id + "' belongs to " +
                    (policy_org.empty() ? "the top-level organization"
                                        : "organization '" + policy_org + "'") +
                    ", not to the user's (" + (user_org.empty() ? "top level" : user_org) + ")");
  }
  const auto inner = policy.find("Policy");
  profile["Policy"] = inner != policy.end() && inner->is_object() ? *inner : Json::object();
  return {};
}

Result<std::string> UserStore::Write(db::Database& db, const std::string& username,
                                     const Json& profile) {
  const std::string text = Dump(profile);
  const std::string hash = HashOf(text);
  HALLEY_RETURN_IF_ERROR(db.Execute(
      "UPDATE users SET profile = ?, profile_hash = ? WHERE username = ?", {text, hash, username}));
  return hash;
}

Result<void> UserStore::Add(const std::string& username, const Json& profile) {
  HALLEY_RETURN_IF_ERROR(ValidateUsername(username));
  return db_.Transaction([&](db::Database& db) -> Result<void> {
    Json linked = profile;
    HALLEY_RETURN_IF_ERROR(LinkPolicy(db, linked, std::nullopt));
    return InsertNew(db, "INSERT INTO users (username, profile, profile_hash) VALUES (?, ?, ?)",
                     username, Dump(linked), "user '" + username + "'");
  });
}

Result<StoredProfile> UserStore::Get(const std::string& username) {
  HALLEY_ASSIGN_OR_RETURN(
      auto rows,
      db_.Query("SELECT profile, profile_hash FROM users WHERE username = ?", {username}));
  if (rows.empty()) return Fail(ErrorCode::kNotFound, "no user '" + username + "'");
  HALLEY_ASSIGN_OR_RETURN(Json profile, ParseJson(rows[0].Text(0)));
  return StoredProfile{std::move(profile), rows[0].Text(1)};
}

Result<std::vector<std::string>> UserStore::List(const std::optional<std::string>& organization) {
  if (organization) {
    return Column(db_, "SELECT username FROM users WHERE organization_id = ? ORDER BY username",
                  {*organization});
  }
  return Column(db_, "SELECT username FROM users ORDER BY username", {});
}

Result<std::vector<std::pair<std::string, Json>>> UserStore::ListFull(
    const std::optional<std::string>& organization) {
  HALLEY_ASSIGN_OR_RETURN(
      auto rows, organization
                     ? db_.Query("SELECT username, profile FROM users WHERE organization_id = ? "
                                 "ORDER BY username",
                                 {*organization})
                     : db_.Query("SELECT username, profile FROM users ORDER BY username"));
  std::vector<std::pair<std::string, Json>> out;
  for (const auto& r : rows) {
    HALLEY_ASSIGN_OR_RETURN(Json profile, ParseJson(r.Text(1)));
    out.emplace_back(r.Text(0), std::move(profile));
  }
  return out;
}

Result<std::string> UserStore::Set(const std::string& username, const Json& profile,
                                   const std::optional<std::string>& require_hash) {
  return db_.Transaction([&](db::Database& db) -> Result<std::string> {
    HALLEY_ASSIGN_OR_RETURN(
        auto rows,
        db.Query("SELECT profile, profile_hash FROM users WHERE username = ?", {username}));
    if (rows.empty()) return Fail(ErrorCode::kNotFound, "no user '" + username + "'");
    if (require_hash && *require_hash != rows[0].Text(1)) {
      return Fail(ErrorCode::kLocked, "the profile changed since it was read (stale hash)");
    }
    HALLEY_ASSIGN_OR_RETURN(Json stored, ParseJson(rows[0].Text(0)));
    Json linked = profile;
    HALLEY_RETURN_IF_ERROR(LinkPolicy(db, linked, StringOr(stored, "PolicyID")));
    return Write(db, username, linked);
  });
}

Result<Json> UserStore::Update(const std::string& username,
                               const std::function<Result<void>(Json&)>& edit) {
  return db_.Transaction([&](db::Database& db) -> Result<Json> {
    HALLEY_ASSIGN_OR_RETURN(auto rows,
                            db.Query("SELECT profile FROM users WHERE username = ?", {username}));
    if (rows.empty()) return Fail(ErrorCode::kNotFound, "no user '" + username + "'");
    HALLEY_ASSIGN_OR_RETURN(Json profile, ParseJson(rows[0].Text(0)));
    const std::string stored_id = StringOr(profile, "PolicyID");
    HALLEY_RETURN_IF_ERROR(edit(profile));
    HALLEY_RETURN_IF_ERROR(LinkPolicy(db, profile, stored_id));
    HALLEY_RETURN_IF_ERROR(Write(db, username, profile));
    return profile;
  });
}

Result<void> UserStore::Delete(const std::string& username) {
  HALLEY_ASSIGN_OR_RETURN(int64_t n,
                          db_.Execute("DELETE FROM users WHERE username = ?", {username}));
  if (n == 0) return Fail(ErrorCode::kNotFound, "no user '" + username + "'");
  return {};
}

Result<void> UserStore::AddPolicy(const std::string& id, const Json& policy) {
  return InsertNew(db_, "INSERT INTO policies (id, policy, policy_hash) VALUES (?, ?, ?)", id,
                   Dump(policy), "policy '" + id + "'");
}

Result<StoredPolicy> UserStore::GetPolicy(const std::string& id) {
  HALLEY_ASSIGN_OR_RETURN(auto rows,
                          db_.Query("SELECT policy, policy_hash FROM policies WHERE id = ?", {id}));
  if (rows.empty()) return Fail(ErrorCode::kNotFound, "no policy '" + id + "'");
  HALLEY_ASSIGN_OR_RETURN(Json policy, ParseJson(rows[0].Text(0)));
  return StoredPolicy{std::move(policy), rows[0].Text(1)};
}

Result<std::vector<std::pair<std::string, Json>>> UserStore::ListPolicies() {
  HALLEY_ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT id, policy FROM policies ORDER BY id"));
  std::vector<std::pair<std::string, Json>> out;
  for (const auto& r : rows) {
    HALLEY_ASSIGN_OR_RETURN(Json policy, ParseJson(r.Text(1)));
    out.emplace_back(r.Text(0), std::move(policy));
  }
  return out;
}

Result<std::vector<std::string>> UserStore::SetPolicy(
    const std::string& id, const Json& policy, const std::optional<std::string>& require_hash,
    bool create) {
  const std::string text = Dump(policy);
  return db_.Transaction([&](db::Database& db) -> Result<std::vector<std::string>> {
    HALLEY_ASSIGN_OR_RETURN(auto rows,
                            db.Query("SELECT policy_hash FROM policies WHERE id = ?", {id}));
    if (rows.empty() && !create) return Fail(ErrorCode::kNotFound, "no policy '" + id + "'");
    if (require_hash && (rows.empty() || *require_hash != rows[0].Text(0))) {
      return Fail(ErrorCode::kLocked, "the policy changed since it was read (stale hash)");
    }
    const std::string org = StringOr(policy, "OrganizationID");
    HALLEY_ASSIGN_OR_RETURN(
        auto strangers,
        Column(db,
               "SELECT username FROM users WHERE policy_id = ? AND organization_id != ? "
               "ORDER BY username",
               {id, org}));
    if (!strangers.empty()) {
      return Fail(ErrorCode::kLocked, "users of another organization than '" + org +
                                          "' are linked to policy '" + id +
                                          "': " + Names(strangers));
    }
    HALLEY_RETURN_IF_ERROR(
        db.Execute("INSERT INTO policies (id, policy, policy_hash) VALUES (?, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, "
                   "policy_hash = excluded.policy_hash",
                   {id, text, HashOf(text)}));
    HALLEY_ASSIGN_OR_RETURN(
        auto linked,
        db.Query("SELECT username, profile FROM users WHERE policy_id = ? ORDER BY username",
                 {id}));
    std::vector<std::string> changed;
    for (const auto& r : linked) {
      HALLEY_ASSIGN_OR_RETURN(Json profile, ParseJson(r.Text(1)));
      const Json before = profile;
      HALLEY_RETURN_IF_ERROR(LinkPolicy(db, profile, id));
      if (profile == before) continue;
      HALLEY_RETURN_IF_ERROR(Write(db, r.Text(0), profile));
      changed.push_back(r.Text(0));
    }
    return changed;
  });
}

Result<void> UserStore::DeletePolicy(const std::string& id) {
  return db_.Transaction([&](db::Database& db) -> Result<void> {
    HALLEY_ASSIGN_OR_RETURN(
        auto linked,
        Column(db, "SELECT username FROM users WHERE policy_id = ? ORDER BY username", {id}));
    if (!linked.empty()) {
      return Fail(ErrorCode::kLocked,
                  "policy '" + id + "' is still linked to " + std::to_string(linked.size()) +
                      (linked.size() == 1 ? " user: " : " users: ") + Names(linked) +
                      "; unlink them first (set their PolicyID to \"\")");
    }
    HALLEY_ASSIGN_OR_RETURN(int64_t n, db.Execute("DELETE FROM policies WHERE id = ?", {id}));
    if (n == 0) return Fail(ErrorCode::kNotFound, "no policy '" + id + "'");
    return {};
  });
}

Result<std::vector<std::string>> UserStore::LinkedToPolicy(const std::string& id) {
  return Column(db_, "SELECT username FROM users WHERE policy_id = ? ORDER BY username", {id});
}

}  // namespace halley::server
