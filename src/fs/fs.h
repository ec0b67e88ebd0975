// SPDX-License-Identifier: Apache-2.0
//
// The source side of a backup and the target side of a restore: thin, error-returning wrappers
// over the POSIX calls the engine needs (lstat, directory listing, readlink, xattrs, names of
// users and groups), and safe creation beneath a root directory for restores, where every path
// component is opened with O_NOFOLLOW so that no symlink, planted or restored, is ever followed.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"

namespace halley::fs {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  void Reset();

 private:
  int fd_ = -1;
};

Result<struct stat> Lstat(const std::string& path);
Result<struct stat> Fstat(int fd);
// The entry names of a directory (without "." and ".."), sorted bytewise.
Result<std::vector<std::string>> ListDirectory(const std::string& path);
struct DirEntry {
  std::string name;
  Result<struct stat> st;  // the entry's lstat
};
// ListDirectory with each entry's lstat, taken by name relative to the open directory: the
// kernel does not look up the whole path again for every entry. Entries for which `want`
// returns false are left out without a stat.
Result<std::vector<DirEntry>> ListDirectoryWithStat(
    const std::string& path, const std::function<bool(const std::string& name)>& want = {});
Result<std::string> ReadLink(const std::string& path);

struct Xattr {
  std::string name;
  Bytes value;
};
// Extended attributes of `path` (not following a final symlink). Filesystems without xattr
// support give an empty list. Sorted by name.
Result<std::vector<Xattr>> ReadXattrs(const std::string& path);
// The same for an open file, without looking its path up again; `path` is for errors.
Result<std::vector<Xattr>> ReadXattrs(int fd, const std::string& path);

// Opens a regular file for reading without following symlinks and, where permitted, without
// updating its atime.
Result<Fd> OpenForReading(const std::string& path);
// Reads up to `n` bytes, retrying on EINTR and short reads; returns fewer only at end of file.
Result<size_t> ReadFull(int fd, uint8_t* buf, size_t n);
Result<void> WriteFullAt(int fd, const uint8_t* buf, size_t n, uint64_t offset);

// Caches user and group names by ID. Thread-safe.
class NameCache {
 public:
  std::string User(uint32_t uid);
  std::string Group(uint32_t gid);

 private:
  std::mutex mu_;
  std::unordered_map<uint32_t, std::string> users_;   // Guarded by mu_.
  std::unordered_map<uint32_t, std::string> groups_;  // Guarded by mu_.
};

// True if `name` can be created as one entry of a directory: not empty, not "." or "..", and
// without '/' or NUL. Snapshot metadata is hostile input: every name is checked before use.
bool IsSafeName(std::string_view name);

// Opens the directory `components` (each a safe name) beneath `root_fd`, one component at a
// time with O_NOFOLLOW, so the result is always inside root. kNotFound if a component is
// missing, kInvalidArgument if one is a symlink or not a directory.
Result<Fd> OpenDirBeneath(int root_fd, const std::vector<std::string>& components);

// Replaces the file at `path` with `data` so that readers and crashes see either the old or
// the new content: writes "<path>.tmp-<random>" with `mode`, fsyncs it, renames it over
// `path` and fsyncs the directory. The temporary file is removed on failure.
Result<void> WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode);

// Reads a whole file of at most `limit` bytes (kInvalidArgument above; kNotFound if missing).
Result<std::string> ReadFileLimited(const std::string& path, size_t limit);

}  // namespace halley::fs
