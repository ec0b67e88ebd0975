// SPDX-License-Identifier: Apache-2.0
#include "repo/lock.h"

#include <unistd.h>

#include <vector>

#include "base/host.h"
#include "base/json.h"

namespace halley::repo {

using storage::ObjectType;

std::string EncodeLock(const LockInfo& l) {
  std::string out = "{\"time\":";
  AppendGoJsonString(out, FormatRfc3339Nano(l.time));
  out += l.exclusive ? ",\"exclusive\":true" : ",\"exclusive\":false";
  out += ",\"hostname\":";
  AppendGoJsonString(out, l.hostname);
  out += ",\"username\":";
  AppendGoJsonString(out, l.username);
  out += ",\"pid\":" + std::to_string(l.pid);
  if (l.uid != 0) out += ",\"uid\":" + std::to_string(l.uid);
  if (l.gid != 0) out += ",\"gid\":" + std::to_string(l.gid);
  out += "}";
  return out;
}

Result<LockInfo> DecodeLock(std::string_view json) {
  HALLEY_ASSIGN_OR_RETURN(Json j, ParseJson(json, JsonLimits{.max_bytes = 1 << 16}));
  if (!j.is_object()) return Fail(ErrorCode::kCorruption, "lock is not a JSON object");
  LockInfo l;
  HALLEY_ASSIGN_OR_RETURN(std::string t, JsonString(j, "time"));
  HALLEY_ASSIGN_OR_RETURN(l.time, ParseRfc3339(t));
  HALLEY_ASSIGN_OR_RETURN(l.exclusive, JsonBool(j, "exclusive"));
  HALLEY_ASSIGN_OR_RETURN(l.hostname, OptionalJsonString(j, "hostname"));
  HALLEY_ASSIGN_OR_RETURN(l.username, OptionalJsonString(j, "username"));
  auto pid = j.find("pid");
  if (pid != j.end() && pid->is_number_integer()) l.pid = pid->get<int64_t>();
  HALLEY_ASSIGN_OR_RETURN(uint64_t uid, OptionalJsonUint(j, "uid"));
  HALLEY_ASSIGN_OR_RETURN(uint64_t gid, OptionalJsonUint(j, "gid"));
  l.uid = static_cast<uint32_t>(uid);
  l.gid = static_cast<uint32_t>(gid);
  return l;
}

bool IsStale(const LockInfo& lock, Time now, const std::string& local_hostname) {
  if (now.UnixNanos() - lock.time.UnixNanos() >
      std::chrono::duration_cast<std::chrono::nanoseconds>(kStaleLockAge).count()) {
    return true;
  }
  return !local_hostname.empty() && lock.hostname == local_hostname && !ProcessExists(lock.pid);
}

namespace {

std::string FormatAge(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  int64_t h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
  std::string out;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  out += std::to_string(s) + "s";
  return out;
}

struct Existing {
  Id id;
  std::optional<LockInfo> info;  // nullopt: empty file, ignored as restic 0.15+ does
};

Result<std::vector<Existing>> LoadLocks(Repository& repo) {
  std::vector<storage::ObjectInfo> files;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kLock, [&](const storage::ObjectInfo& i) {
    files.push_back(i);
    return Result<void>{};
  }));
  std::vector<Existing> out;
  for (const auto& f : files) {
    auto id = Id::FromHex(f.name);
    if (!id) continue;
    if (f.size == 0) {
      out.push_back({*id, std::nullopt});
      continue;
    }
    auto text = repo.LoadUnpacked(ObjectType::kLock, *id);
    if (!text) {
      if (text.error().Code() == ErrorCode::kNotFound) continue;  // removed meanwhile
      return Fail(ErrorCode::kLocked,
                  "invalid lock file " + id->Short() + ": " + text.error().Message() +
                      "\nthe `unlock --remove-all` command can be used to remove invalid locks");
    }
    auto info = DecodeLock(*text);
    if (!info) {
      return Fail(ErrorCode::kLocked,
                  "invalid lock file " + id->Short() + ": " + info.error().Message() +
                      "\nthe `unlock --remove-all` command can be used to remove invalid locks");
    }
    out.push_back({*id, *info});
  }
  return out;
}

Result<void> CheckConflicts(Repository& repo, bool exclusive, const std::optional<Id>& own,
                            Time now) {
  HALLEY_ASSIGN_OR_RETURN(auto locks, LoadLocks(repo));
  for (const auto& l : locks) {
    if (!l.info || (own && l.id == *own)) continue;
    if (exclusive || l.info->exclusive) {
      return Fail(ErrorCode::kLocked, DescribeLock(*l.info, l.id, now));
    }
  }
  return {};
}

LockInfo MakeInfo(bool exclusive, Time now) {
  LockInfo info;
  info.time = now;
  info.exclusive = exclusive;
  info.hostname = Hostname();
  info.username = Username();
  info.pid = getpid();
  info.uid = geteuid();
  info.gid = getegid();
  return info;
}

}  // namespace

std::string DescribeLock(const LockInfo& l, const Id& id, Time now) {
  std::string out =
      std::string("repository is already locked ") + (l.exclusive ? "exclusively " : "") +
      "by PID " + std::to_string(l.pid) + " on " + l.hostname + " by " + l.username + " (UID " +
      std::to_string(l.uid) + ", GID " + std::to_string(l.gid) + ")\nlock was created at " +
      FormatHuman(l.time) + " (" + FormatAge(now.seconds - l.time.seconds) + " ago)\nstorage ID " +
      id.Short() + "\nthe `unlock` command can be used to remove stale locks";
  return out;
}

VaultLock::VaultLock(Repository& repo, LockInfo info, Id id, const Clock& clock,
                     LockOptions options)
    : repo_(repo), info_(std::move(info)), clock_(clock), options_(options), id_(id) {
  last_refresh_ = info_.time;
  refresher_ = std::thread([this] { RefreshLoop(); });
}

Result<std::unique_ptr<VaultLock>> VaultLock::Acquire(Repository& repo, bool exclusive,
                                                      const Clock& clock, LockOptions options) {
  HALLEY_RETURN_IF_ERROR(CheckConflicts(repo, exclusive, std::nullopt, clock.NowTime()));
  LockInfo info = MakeInfo(exclusive, clock.NowTime());
  HALLEY_ASSIGN_OR_RETURN(Id id, repo.SaveUnpacked(ObjectType::kLock, EncodeLock(info)));
  // Another client may have written its lock at the same moment: wait, then look again.
  std::this_thread::sleep_for(options.settle);
  auto again = CheckConflicts(repo, exclusive, id, clock.NowTime());
  if (!again) {
    (void)repo.Store().Remove({ObjectType::kLock, id.Hex()});
    return Fail(again.error());
  }
  return std::unique_ptr<VaultLock>(new VaultLock(repo, std::move(info), id, clock, options));
}

VaultLock::~VaultLock() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  std::lock_guard lock(mu_);
  (void)repo_.Store().Remove({ObjectType::kLock, id_.Hex()});
}

const Id& VaultLock::CurrentId() const {
  std::lock_guard lock(mu_);
  return id_;
}

Result<void> VaultLock::CheckValid() const {
  std::lock_guard lock(mu_);
  // restic cancels once refreshing has failed for 30 - 7.5 minutes (#2715).
  auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(kStaleLockAge).count() * 3 / 4;
  if (clock_.NowTime().UnixNanos() - last_refresh_.UnixNanos() > limit) {
    return Fail(ErrorCode::kLocked,
                "the vault lock could not be refreshed in time; another client may have removed "
                "it, so nothing more is written");
  }
  return {};
}

void VaultLock::RefreshLoop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.refresh, [&] { return stop_; });
    if (stop_) return;
    Id old = id_;
    LockInfo info = info_;
    info.time = clock_.NowTime();
    lock.unlock();
    // A new file with a fresh time, then remove the old one (restic's refresh).
    auto id = repo_.SaveUnpacked(ObjectType::kLock, EncodeLock(info));
    if (id) (void)repo_.Store().Remove({ObjectType::kLock, old.Hex()});
    lock.lock();
    if (id) {
      id_ = *id;
      last_refresh_ = info.time;
    }
  }
}

Result<size_t> RemoveLocks(Repository& repo, bool remove_all, const Clock& clock) {
  std::vector<storage::ObjectInfo> files;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kLock, [&](const storage::ObjectInfo& i) {
    files.push_back(i);
    return Result<void>{};
  }));
  std::string host = Hostname();
  size_t removed = 0;
  for (const auto& f : files) {
    auto id = Id::FromHex(f.name);
    if (!id) continue;
    bool remove = remove_all || f.size == 0;
    if (!remove) {
      auto text = repo.LoadUnpacked(ObjectType::kLock, *id);
      if (!text) continue;  // unreadable locks need --remove-all
      auto info = DecodeLock(*text);
      remove = info && IsStale(*info, clock.NowTime(), host);
    }
    if (remove) {
      HALLEY_RETURN_IF_ERROR(repo.Store().Remove({ObjectType::kLock, f.name}));
      ++removed;
    }
  }
  return removed;
}

}  // namespace halley::repo
