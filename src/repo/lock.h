// SPDX-License-Identifier: Apache-2.0
//
// Vault locks with restic's semantics (restic.md §1.10): a lock file in locks/ names its holder;
// an exclusive lock conflicts with every other lock, a non-exclusive one only with exclusive
// locks. Stale locks (older than 30 minutes, or held by a dead process on this host) still
// block: only `unlock` removes them. A held lock is refreshed every 5 minutes by writing a new
// lock file and removing the old one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/error.h"
#include "base/id.h"
#include "base/time.h"
#include "repo/repository.h"

namespace halley::repo {

struct LockInfo {
  Time time;
  bool exclusive = false;
  std::string hostname;
  std::string username;
  int64_t pid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

std::string EncodeLock(const LockInfo& lock);
Result<LockInfo> DecodeLock(std::string_view json);

inline constexpr std::chrono::minutes kStaleLockAge{30};
inline constexpr std::chrono::minutes kLockRefreshInterval{5};

// True if `lock` is older than 30 minutes at `now`, or was made on `local_hostname` by a
// process that no longer exists.
bool IsStale(const LockInfo& lock, Time now, const std::string& local_hostname);

// restic's description of a conflicting lock, ending with the hint to run `unlock`.
std::string DescribeLock(const LockInfo& lock, const Id& id, Time now);

struct LockOptions {
  std::chrono::milliseconds settle{200};  // wait between writing our lock and re-checking
  std::chrono::milliseconds refresh = kLockRefreshInterval;
};

// A held lock. Destroying it stops the refresher and removes the lock file.
class VaultLock {
 public:
  // Takes the lock or returns kLocked describing the holder of a conflicting lock.
  static Result<std::unique_ptr<VaultLock>> Acquire(Repository& repo, bool exclusive,
                                                    const Clock& clock = Clock::System(),
                                                    LockOptions options = {});
  ~VaultLock();
  VaultLock(const VaultLock&) = delete;
  VaultLock& operator=(const VaultLock&) = delete;

  // kLocked if refreshing has failed for so long that another client may consider the lock
  // stale; a writer must not commit (write a snapshot) after that.
  Result<void> CheckValid() const;
  const Id& CurrentId() const;

 private:
  VaultLock(Repository& repo, LockInfo info, Id id, const Clock& clock, LockOptions options);
  void RefreshLoop();

  Repository& repo_;
  LockInfo info_;
  const Clock& clock_;
  LockOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Id id_;              // Guarded by mu_.
  Time last_refresh_;  // Guarded by mu_.
  bool stop_ = false;  // Guarded by mu_.
  std::thread refresher_;
};

// Removes lock files: the stale ones, or all of them with `remove_all`. Returns how many.
Result<size_t> RemoveLocks(Repository& repo, bool remove_all, const Clock& clock = Clock::System());

}  // namespace halley::repo
