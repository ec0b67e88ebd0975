// SPDX-License-Identifier: Apache-2.0
//
// Web and API sessions (halley-sessions.db3): a session key stands in for a password until it
// has been idle for SessionSettings.ExpiredInSeconds. Only the SHA-256 of each key is stored,
// so the database alone cannot be used to log in. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/error.h"
#include "db/db.h"

namespace halley::server {

struct Session {
  std::string username;
  std::string type;  // "admin" or "user"
};

class SessionStore {
 public:
  static Result<std::unique_ptr<SessionStore>> Open(const std::string& path, Clock& clock);

  // Creates a session and returns its key (64 hex digits, shown once).
  Result<std::string> Start(const std::string& username, const std::string& type);
  // The session of `key` if it exists and was used within `max_idle_seconds`; refreshes its
  // last use. kUnauthenticated otherwise (an expired session is deleted).
  Result<Session> Check(const std::string& key, int64_t max_idle_seconds);
  // Ends the session of `key` (sign-out); a key that is not a session is no error.
  Result<void> End(const std::string& key);
  // Ends every session of a user (password change, deletion).
  Result<void> EndAll(const std::string& username, const std::string& type);

 private:
  SessionStore(db::Database db, Clock& clock) : db_(std::move(db)), clock_(clock) {}
  int64_t Now() const;

  db::Database db_;
  Clock& clock_;
};

}  // namespace halley::server
