// SPDX-License-Identifier: Apache-2.0
#include "server/login_guard.h"

namespace halley::server {

int64_t LoginGuard::Now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
}

int64_t LoginGuard::Remaining(const LoginProtection& p, const std::string& key, int64_t now) {
  auto it = records_.find(key);
  if (it == records_.end()) return 0;
  const int64_t elapsed = now - it->second.last_failure;
  if (elapsed >= p.cooldown_seconds) {
    records_.erase(it);  // the window has passed: start counting afresh
    return 0;
  }
  return it->second.failures >= p.failure_threshold ? p.cooldown_seconds - elapsed : 0;
}

int64_t LoginGuard::Blocked(const LoginProtection& p, const std::string& user,
                            const std::string& address) {
  if (!p.enabled) return 0;
  const int64_t now = Now();
  std::lock_guard lock(mu_);
  return std::max(Remaining(p, "u:" + user, now), Remaining(p, "a:" + address, now));
}

void LoginGuard::Failed(const LoginProtection& p, const std::string& user,
                        const std::string& address) {
  if (!p.enabled) return;
  const int64_t now = Now();
  std::lock_guard lock(mu_);
  // Bound the memory a flood of random usernames can take: forget the expired records.
  if (records_.size() > 100000) {
    for (auto it = records_.begin(); it != records_.end();) {
      it = now - it->second.last_failure >= p.cooldown_seconds ? records_.erase(it) : std::next(it);
    }
  }
  for (const std::string& key : {"u:" + user, "a:" + address}) {
    Record& r = records_[key];
    if (now - r.last_failure >= p.cooldown_seconds) r.failures = 0;
    ++r.failures;
    r.last_failure = now;
  }
}

void LoginGuard::Succeeded(const std::string& user) {
  std::lock_guard lock(mu_);
  records_.erase("u:" + user);
}

}  // namespace halley::server
