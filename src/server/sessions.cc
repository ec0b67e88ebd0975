// SPDX-License-Identifier: Apache-2.0
#include "server/sessions.h"

#include "base/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"

namespace halley::server {
namespace {

constexpr std::string_view kSchema[] = {
    R"sql(CREATE TABLE sessions (
            key_digest TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            type TEXT NOT NULL,
            created INTEGER NOT NULL,
            last_used INTEGER NOT NULL);
          CREATE INDEX sessions_by_user ON sessions (username, type))sql",
};

std::string Digest(const std::string& key) { return crypto::Sha256(AsBytes(key)).Hex(); }

}  // namespace

Result<std::unique_ptr<SessionStore>> SessionStore::Open(const std::string& path, Clock& clock) {
  HALLEY_ASSIGN_OR_RETURN(db::Database db, db::Database::Open(path));
  HALLEY_RETURN_IF_ERROR(db.Migrate(kSchema));
  return std::unique_ptr<SessionStore>(new SessionStore(std::move(db), clock));
}

int64_t SessionStore::Now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
}

Result<std::string> SessionStore::Start(const std::string& username, const std::string& type) {
  const std::string key = HexEncode(crypto::RandomBytes(32));
  const int64_t now = Now();
  HALLEY_RETURN_IF_ERROR(db_.Execute(
      "INSERT INTO sessions (key_digest, username, type, created, last_used) VALUES (?,?,?,?,?)",
      {Digest(key), username, type, now, now}));
  return key;
}

Result<Session> SessionStore::Check(const std::string& key, int64_t max_idle_seconds) {
  const std::string digest = Digest(key);
  HALLEY_ASSIGN_OR_RETURN(
      auto rows,
      db_.Query("SELECT username, type, last_used FROM sessions WHERE key_digest = ?", {digest}));
  const auto invalid = [] {
    return Fail(ErrorCode::kUnauthenticated, "the session key is invalid or has expired");
  };
  if (rows.empty()) return invalid();
  const int64_t now = Now();
  if (now - rows[0].Int(2) > max_idle_seconds) {
    HALLEY_RETURN_IF_ERROR(db_.Execute("DELETE FROM sessions WHERE key_digest = ?", {digest}));
    return invalid();
  }
  // At most one write a minute per session: an fsync per API call would be the cost otherwise.
  if (now - rows[0].Int(2) >= 60) {
    HALLEY_RETURN_IF_ERROR(
        db_.Execute("UPDATE sessions SET last_used = ? WHERE key_digest = ?", {now, digest}));
  }
  return Session{rows[0].Text(0), rows[0].Text(1)};
}

Result<void> SessionStore::End(const std::string& key) {
  HALLEY_RETURN_IF_ERROR(db_.Execute("DELETE FROM sessions WHERE key_digest = ?", {Digest(key)}));
  return {};
}

Result<void> SessionStore::EndAll(const std::string& username, const std::string& type) {
  HALLEY_RETURN_IF_ERROR(
      db_.Execute("DELETE FROM sessions WHERE username = ? AND type = ?", {username, type}));
  return {};
}

}  // namespace halley::server
