// SPDX-License-Identifier: Apache-2.0
#include "fs/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "base/host.h"

namespace halley::fs {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    Reset();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

Fd::~Fd() { Reset(); }

void Fd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<struct stat> Lstat(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Fail(ErrnoError("lstat " + path, errno));
  return st;
}

Result<struct stat> Fstat(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Fail(ErrnoError("fstat", errno));
  return st;
}

namespace {

struct CloseDir {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirHandle = std::unique_ptr<DIR, CloseDir>;

// Opens the directory `path` into `dir` and reads its entry names (without "." and ".."),
// sorted bytewise.
Result<std::vector<std::string>> ReadSortedNames(const std::string& path, DirHandle& dir) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Fail(ErrnoError("open " + path, errno));
  dir.reset(::fdopendir(fd));
  if (dir == nullptr) {
    int e = errno;
    ::close(fd);
    return Fail(ErrnoError("opendir " + path, e));
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    struct dirent* de = ::readdir(dir.get());
    if (de == nullptr) break;
    std::string_view n(de->d_name);
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  if (int e = errno; e != 0) return Fail(ErrnoError("readdir " + path, e));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<std::vector<std::string>> ListDirectory(const std::string& path) {
  DirHandle dir;
  return ReadSortedNames(path, dir);
}

Result<std::vector<DirEntry>> ListDirectoryWithStat(
    const std::string& path, const std::function<bool(const std::string& name)>& want) {
  DirHandle dir;
  HALLEY_ASSIGN_OR_RETURN(std::vector<std::string> names, ReadSortedNames(path, dir));
  std::vector<DirEntry> entries;
  entries.reserve(names.size());
  for (auto& name : names) {
    if (want && !want(name)) continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir.get()), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      entries.push_back({std::move(name), st});
    } else {
      std::string child = path == "/" ? "/" + name : path + "/" + name;
      entries.push_back({std::move(name), Fail(ErrnoError("lstat " + child, errno))});
    }
  }
  return entries;
}

Result<std::string> ReadLink(const std::string& path) {
  std::string buf(256, '\0');
  while (true) {
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return Fail(ErrnoError("readlink " + path, errno));
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

namespace {

// `list(buf, size)` and `get(name, buf, size)` are listxattr and getxattr bound to one file, by
// path or by descriptor; `what` names it in errors.
template <class List, class Get>
Result<std::vector<Xattr>> ReadXattrsWith(const std::string& what, List list, Get get) {
  std::vector<Xattr> out;
  std::string names;
  while (true) {
    ssize_t n = list(nullptr, 0);
    if (n < 0) {
      if (errno == ENOTSUP || errno == ENOSYS) return out;
      return Fail(ErrnoError("listxattr " + what, errno));
    }
    if (n == 0) return out;
    names.resize(static_cast<size_t>(n));
    n = list(names.data(), names.size());
    if (n < 0 && errno == ERANGE) continue;  // grew meanwhile
    if (n < 0) return Fail(ErrnoError("listxattr " + what, errno));
    names.resize(static_cast<size_t>(n));
    break;
  }
  size_t pos = 0;
  while (pos < names.size()) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty()) continue;
    Bytes value;
    while (true) {
      ssize_t n = get(name.c_str(), nullptr, 0);
      if (n < 0) break;  // removed meanwhile, or not readable: skip it
      value.resize(static_cast<size_t>(n));
      n = get(name.c_str(), value.data(), value.size());
      if (n < 0 && errno == ERANGE) continue;
      if (n >= 0) {
        value.resize(static_cast<size_t>(n));
        out.push_back({std::move(name), std::move(value)});
      }
      break;
    }
  }
  std::sort(out.begin(), out.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return out;
}

}  // namespace

Result<std::vector<Xattr>> ReadXattrs(const std::string& path) {
  return ReadXattrsWith(
      path, [&](char* buf, size_t size) { return ::llistxattr(path.c_str(), buf, size); },
      [&](const char* name, void* buf, size_t size) {
        return ::lgetxattr(path.c_str(), name, buf, size);
      });
}

Result<std::vector<Xattr>> ReadXattrs(int fd, const std::string& path) {
  return ReadXattrsWith(
      path, [&](char* buf, size_t size) { return ::flistxattr(fd, buf, size); },
      [&](const char* name, void* buf, size_t size) { return ::fgetxattr(fd, name, buf, size); });
}

Result<Fd> OpenForReading(const std::string& path) {
  int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int fd = ::open(path.c_str(), flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), flags);  // O_NOATIME needs ownership
  if (fd < 0) return Fail(ErrnoError("open " + path, errno));
  // O_NONBLOCK only kept a FIFO swapped in for the file from blocking the open.
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return Fd(fd);
}

Result<size_t> ReadFull(int fd, uint8_t* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::read(fd, buf + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError("read", errno));
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

Result<void> WriteFullAt(int fd, const uint8_t* buf, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError("write", errno));
    }
    done += static_cast<size_t>(w);
  }
  return {};
}

std::string NameCache::User(uint32_t uid) {
  std::lock_guard lock(mu_);
  auto it = users_.find(uid);
  if (it != users_.end()) return it->second;
  return users_[uid] = UserNameForUid(uid);
}

std::string NameCache::Group(uint32_t gid) {
  std::lock_guard lock(mu_);
  auto it = groups_.find(gid);
  if (it != groups_.end()) return it->second;
  return groups_[gid] = GroupNameForGid(gid);
}

bool IsSafeName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

Result<Fd> OpenDirBeneath(int root_fd, const std::vector<std::string>& components) {
  int d = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return Fail(ErrnoError("dup", errno));
  Fd cur(d);
  for (const auto& c : components) {
    if (!IsSafeName(c)) return Fail(ErrorCode::kInvalidArgument, "unsafe name \"" + c + "\"");
    int fd = ::openat(cur.Get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == ELOOP || e == ENOTDIR) {
        return Fail(ErrorCode::kInvalidArgument, "\"" + c + "\" is not a directory");
      }
      return Fail(ErrnoError("open " + c, e));
    }
    cur = Fd(fd);
  }
  return cur;
}

Result<void> WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Fail(ErrnoError("create " + tmp, errno));
  Fd file(fd);
  auto fail = [&](Error e) -> Result<void> {
    file.Reset();
    ::unlink(tmp.c_str());
    return Fail(std::move(e));
  };
  if (::fchmod(fd, mode) != 0) return fail(ErrnoError("chmod " + tmp, errno));
  if (auto w = WriteFullAt(fd, reinterpret_cast<const uint8_t*>(data.data()), data.size(), 0); !w) {
    return fail(w.error());
  }
  if (::fsync(fd) != 0) return fail(ErrnoError("fsync " + tmp, errno));
  file.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(ErrnoError("rename " + tmp, errno));
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Fail(ErrnoError("open " + dir, errno));
  Fd dir_fd(dfd);
  if (::fsync(dfd) != 0) return Fail(ErrnoError("fsync " + dir, errno));
  return {};
}

Result<std::string> ReadFileLimited(const std::string& path, size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(ErrnoError("open " + path, errno));
  Fd file(fd);
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrnoError("read " + path, errno));
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > limit) {
      return Fail(ErrorCode::kInvalidArgument,
                  path + " is larger than " + std::to_string(limit) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace halley::fs
