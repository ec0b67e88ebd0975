// SPDX-License-Identifier: Apache-2.0
//
// LoginProtection: after FailureThreshold failed logins for one account, or from one address,
// within CooldownSeconds, further attempts for that account or address are refused until the
// cooldown has passed since the last failure. Other accounts and addresses are unaffected.
// In memory (a restart forgets it). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "base/clock.h"
#include "server/config.h"

namespace halley::server {

class LoginGuard {
 public:
  explicit LoginGuard(Clock& clock) : clock_(clock) {}

  // Seconds until `user` from `address` may try again; 0 if allowed now.
  int64_t Blocked(const LoginProtection& p, const std::string& user, const std::string& address);
  void Failed(const LoginProtection& p, const std::string& user, const std::string& address);
  void Succeeded(const std::string& user);

 private:
  struct Record {
    int failures = 0;
    int64_t last_failure = 0;
  };
  int64_t Now() const;
  int64_t Remaining(const LoginProtection& p, const std::string& key, int64_t now);

  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Record> records_;  // "u:<user>" and "a:<address>"; guarded by mu_
};

}  // namespace halley::server
