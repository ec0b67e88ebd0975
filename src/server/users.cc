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
};

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

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

Result<void> UserStore::Add(const std::string& username, const Json& profile) {
  HALLEY_RETURN_IF_ERROR(ValidateUsername(username));
  const std::string text = Dump(profile);
  auto added = db_.Execute("INSERT INTO users (username, profile, profile_hash) VALUES (?, ?, ?)",
                           {username, text, HashOf(text)});
  if (!added && added.error().Code() == ErrorCode::kAlreadyExists) {
    return Fail(ErrorCode::kAlreadyExists, "user '" + username + "' already exists");
  }
  if (!added) return Fail(added.error());
  return {};
}

Result<StoredProfile> UserStore::Get(const std::string& username) {
  HALLEY_ASSIGN_OR_RETURN(
      auto rows,
      db_.Query("SELECT profile, profile_hash FROM users WHERE username = ?", {username}));
  if (rows.empty()) return Fail(ErrorCode::kNotFound, "no user '" + username + "'");
  HALLEY_ASSIGN_OR_RETURN(Json profile, ParseJson(rows[0].Text(0)));
  return StoredProfile{std::move(profile), rows[0].Text(1)};
}

Result<std::vector<std::string>> UserStore::List() {
  HALLEY_ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT username FROM users ORDER BY username"));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.Text(0));
  return out;
}

Result<std::vector<std::pair<std::string, Json>>> UserStore::ListFull() {
  HALLEY_ASSIGN_OR_RETURN(auto rows,
                          db_.Query("SELECT username, profile FROM users ORDER BY username"));
  std::vector<std::pair<std::string, Json>> out;
  for (const auto& r : rows) {
    HALLEY_ASSIGN_OR_RETURN(Json profile, ParseJson(r.Text(1)));
    out.emplace_back(r.Text(0), std::move(profile));
  }
  return out;
}

Result<std::string> UserStore::Set(const std::string& username, const Json& profile,
                                   const std::optional<std::string>& require_hash) {
  const std::string text = Dump(profile);
  const std::string hash = HashOf(text);
  return db_.Transaction([&](db::Database& db) -> Result<std::string> {
    HALLEY_ASSIGN_OR_RETURN(
        auto rows, db.Query("SELECT profile_hash FROM users WHERE username = ?", {username}));
    if (rows.empty()) return Fail(ErrorCode::kNotFound, "no user '" + username + "'");
    if (require_hash && *require_hash != rows[0].Text(0)) {
      return Fail(ErrorCode::kLocked, "the profile changed since it was read (stale hash)");
    }
    HALLEY_RETURN_IF_ERROR(
        db.Execute("UPDATE users SET profile = ?, profile_hash = ? WHERE username = ?",
                   {text, hash, username}));
    return hash;
  });
}

Result<Json> UserStore::Update(const std::string& username,
                               const std::function<Result<void>(Json&)>& edit) {
  return db_.Transaction([&](db::Database& db) -> Result<Json> {
    HALLEY_ASSIGN_OR_RETURN(auto rows,
                            db.Query("SELECT profile FROM users WHERE username = ?", {username}));
    if (rows.empty()) return Fail(ErrorCode::kNotFound, "no user '" + username + "'");
    HALLEY_ASSIGN_OR_RETURN(Json profile, ParseJson(rows[0].Text(0)));
    HALLEY_RETURN_IF_ERROR(edit(profile));
    const std::string text = Dump(profile);
    HALLEY_RETURN_IF_ERROR(
        db.Execute("UPDATE users SET profile = ?, profile_hash = ? WHERE username = ?",
                   {text, HashOf(text), username}));
    return profile;
  });
}

Result<void> UserStore::Delete(const std::string& username) {
  HALLEY_ASSIGN_OR_RETURN(int64_t n,
                          db_.Execute("DELETE FROM users WHERE username = ?", {username}));
  if (n == 0) return Fail(ErrorCode::kNotFound, "no user '" + username + "'");
  return {};
}

}  // namespace halley::server
