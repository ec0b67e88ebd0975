// SPDX-License-Identifier: Apache-2.0
#include "storage/local_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace halley::storage {
namespace {

// Largest single read()/write(); Linux transfers at most ~2 GiB per call anyway.
constexpr size_t kMaxIo = size_t{1} << 30;
constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0400;  // vault objects are immutable
constexpr mode_t kTempMode = 0600;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes and returns close()'s result: NFS and some FUSE filesystems report deferred write
  // errors only there.
  int Close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_ = -1;
};

// Removes a temporary file unless dismissed, so that every failed Put() cleans up after itself.
class TempFileGuard {
 public:
  TempFileGuard(int dir_fd, std::string name) : dir_fd_(dir_fd), name_(std::move(name)) {}
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  ~TempFileGuard() { RemoveNow(); }

  void Dismiss() { dir_fd_ = -1; }
  void RemoveNow() {
    if (dir_fd_ >= 0) ::unlinkat(dir_fd_, name_.c_str(), 0);  // best effort; List skips it
    dir_fd_ = -1;
  }

 private:
  int dir_fd_;
  std::string name_;
};

// Every fd this file opens is O_CLOEXEC so that a child the process spawns (restic, ssh, a
// pre/post command) never inherits vault files.
int OpenAt(int dir_fd, const std::string& path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::openat(dir_fd, path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Some filesystems (certain FUSE and network mounts) cannot fsync; like restic we accept
// that rather than refusing to work there.
bool FsyncUnsupported(int err) { return err == EINVAL || err == EOPNOTSUPP; }

Result<void> Fsync(int fd, const std::string& what) {
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && !FsyncUnsupported(errno)) return Fail(ErrnoError("fsync " + what, errno));
  return {};
}

Result<void> FsyncDir(const std::string& path) {
  UniqueFd fd(OpenAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY));
  if (!fd.Valid()) return Fail(ErrnoError("open " + path, errno));
  return Fsync(fd.Get(), path);
}

Result<void> WriteAll(int fd, ByteView data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    const size_t chunk = std::min(data.size() - done, kMaxIo);
    const ssize_t n = ::write(fd, data.data() + done, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError("write " + what, errno));
    }
    if (n == 0) return Fail(ErrorCode::kIoError, "write " + what + ": no progress");
    done += static_cast<size_t>(n);
  }
  return {};
}

std::string ParentPath(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes one directory. Returns whether it was created (its parent then needs an fsync);
// an existing directory is fine, an existing non-directory is not.
Result<bool> MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), kDirMode) == 0) return true;
  const int err = errno;
  if (err != EEXIST) return Fail(ErrnoError("mkdir " + path, err));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Fail(ErrnoError("stat " + path, errno));
  if (!S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, path + " exists and is not a directory");
  }
  return false;
}

// mkdir -p; records the parents of the directories it created in `dirty`.
Result<void> MakeDirAll(const std::string& path, std::set<std::string>& dirty) {
  auto made = MakeDir(path);
  if (!made && made.error().Code() == ErrorCode::kNotFound) {
    const std::string parent = ParentPath(path);
    if (parent == path || parent == ".") return Fail(made.error());
    HALLEY_RETURN_IF_ERROR(MakeDirAll(parent, dirty));
    made = MakeDir(path);
  }
  if (!made) return Fail(made.error());
  if (*made) dirty.insert(ParentPath(path));
  return {};
}

Result<void> FsyncDirs(const std::set<std::string>& dirs) {
  for (const std::string& d : dirs) HALLEY_RETURN_IF_ERROR(FsyncDir(d));
  return {};
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

Result<DirPtr> OpenDirStream(UniqueFd fd, const std::string& path) {
  DIR* d = ::fdopendir(fd.Get());
  if (d == nullptr) return Fail(ErrnoError("opendir " + path, errno));
  fd.Release();  // owned by the DIR now
  return DirPtr(d);
}

// Calls `fn` for each regular file in `dir` whose name is a valid object name starting with
// `prefix`. Files in the wrong shard are skipped: Get() could not find them under that name.
Result<void> ListFiles(UniqueFd dir, const std::string& path, std::string_view prefix,
                       const ListCallback& fn) {
  HALLEY_ASSIGN_OR_RETURN(DirPtr stream, OpenDirStream(std::move(dir), path));
  const int dfd = ::dirfd(stream.get());
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(stream.get());
    if (e == nullptr) {
      if (errno != 0) return Fail(ErrnoError("readdir " + path, errno));
      return {};
    }
    const std::string_view name = e->d_name;
    if (!IsObjectName(name) || !name.starts_with(prefix)) continue;
    if (e->d_type != DT_REG && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) continue;
    struct stat st;
    if (::fstatat(dfd, e->d_name, &st, 0) != 0) {
      if (errno == ENOENT) continue;  // removed while we listed
      return Fail(ErrnoError("stat " + path + "/" + e->d_name, errno));
    }
    if (!S_ISREG(st.st_mode)) continue;
    HALLEY_RETURN_IF_ERROR(fn(ObjectInfo{std::string(name), static_cast<uint64_t>(st.st_size)}));
  }
}

Error NotRegular(const std::string& path) {
  return Error(ErrorCode::kIoError, path + ": not a regular file");
}

}  // namespace

Result<BlobStorePtr> LocalBlobStore::Open(std::string root) { return Open(std::move(root), {}); }

Result<BlobStorePtr> LocalBlobStore::Open(std::string root, Options options) {
  if (root.empty()) return Fail(ErrorCode::kInvalidArgument, "empty vault path");
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return BlobStorePtr(new LocalBlobStore(std::move(root), options));
}

namespace {

std::string DirPath(const std::string& root, const ObjectHandle& h) {
  if (h.type == ObjectType::kConfig) return root;
  std::string p = root + "/" + std::string(ObjectTypeDir(h.type));
  if (h.type == ObjectType::kData) p.append("/").append(h.name, 0, 2);
  return p;
}

std::string FilePath(const std::string& root, const ObjectHandle& h) {
  return root + "/" + h.Path();
}

// Opens the directory that holds `h`. Missing type and shard directories are created, but
// never the root: a vault that does not exist is kNotFound, not a new empty vault.
Result<UniqueFd> OpenParentDir(const std::string& root, const ObjectHandle& h) {
  const std::string dir = DirPath(root, h);
  UniqueFd fd(OpenAt(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY));
  if (fd.Valid()) return fd;
  if (errno != ENOENT || h.type == ObjectType::kConfig) {
    return Fail(ErrnoError("open " + dir, errno));
  }
  std::set<std::string> dirty;
  const std::string type_dir = root + "/" + std::string(ObjectTypeDir(h.type));
  HALLEY_ASSIGN_OR_RETURN(bool made_type_dir, MakeDir(type_dir));
  if (made_type_dir) dirty.insert(root);
  if (h.type == ObjectType::kData) {
    HALLEY_ASSIGN_OR_RETURN(bool made_shard, MakeDir(dir));
    if (made_shard) dirty.insert(type_dir);
  }
  HALLEY_RETURN_IF_ERROR(FsyncDirs(dirty));
  fd.Reset(OpenAt(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY));
  if (!fd.Valid()) return Fail(ErrnoError("open " + dir, errno));
  return fd;
}

}  // namespace

Result<void> LocalBlobStore::Create() {
  const std::string config = root_ + "/config";
  struct stat st;
  if (::lstat(config.c_str(), &st) == 0) {
    return Fail(ErrorCode::kAlreadyExists, config + " exists: there is a vault here already");
  }
  if (errno != ENOENT) return Fail(ErrnoError("stat " + config, errno));

  std::set<std::string> dirty;  // directories that gained entries and need an fsync
  HALLEY_RETURN_IF_ERROR(MakeDirAll(root_, dirty));
  for (ObjectType type : kAllObjectTypes) {
    if (type == ObjectType::kConfig) continue;
    HALLEY_ASSIGN_OR_RETURN(bool made, MakeDir(root_ + "/" + std::string(ObjectTypeDir(type))));
    if (made) dirty.insert(root_);
  }
  const std::string data = root_ + "/data";
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    const char shard[3] = {kHex[i >> 4], kHex[i & 15], '\0'};
    HALLEY_ASSIGN_OR_RETURN(bool made, MakeDir(data + "/" + shard));
    if (made) dirty.insert(data);
  }
  return FsyncDirs(dirty);
}

namespace {

// Opens the directory of `type` (the root for config), creating a missing type directory but
// never the root.
Result<UniqueFd> OpenTypeDir(const std::string& root, ObjectType type, std::string& path) {
  path = type == ObjectType::kConfig ? root : root + "/" + std::string(ObjectTypeDir(type));
  UniqueFd fd(OpenAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY));
  if (fd.Valid()) return fd;
  if (errno != ENOENT || type == ObjectType::kConfig)
    return Fail(ErrnoError("open " + path, errno));
  HALLEY_ASSIGN_OR_RETURN(bool made, MakeDir(path));
  if (made) HALLEY_RETURN_IF_ERROR(FsyncDir(root));
  fd.Reset(OpenAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY));
  if (!fd.Valid()) return Fail(ErrnoError("open " + path, errno));
  return fd;
}

// A temporary file in the type directory, published under its final name by Commit().
class LocalObjectWriter final : public ObjectWriter {
 public:
  LocalObjectWriter(std::string root, LocalBlobStore::Options options, ObjectType type,
                    UniqueFd dir, std::string dir_path, std::string tmp, UniqueFd file)
      : root_(std::move(root)),
        options_(options),
        type_(type),
        dir_(std::move(dir)),
        dir_path_(std::move(dir_path)),
        file_(std::move(file)),
        guard_(dir_.Get(), tmp),
        tmp_(std::move(tmp)) {}

  Result<void> Write(ByteView data) override {
    if (!file_.Valid()) return Fail(ErrorCode::kInvalidArgument, "write after commit");
    return WriteAll(file_.Get(), data, dir_path_ + "/" + tmp_);
  }

  Result<void> Commit(const ObjectHandle& h) override;

 private:
  const std::string root_;
  const LocalBlobStore::Options options_;
  const ObjectType type_;
  UniqueFd dir_;
  const std::string dir_path_;
  UniqueFd file_;
  TempFileGuard guard_;
  const std::string tmp_;
};

Result<void> LocalObjectWriter::Commit(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  if (h.type != type_ || !file_.Valid()) {
    return Fail(ErrorCode::kInvalidArgument, "commit of " + h.Path() + ": wrong type or twice");
  }
  const std::string path = FilePath(root_, h);
  // Read-only before it gets its final name, so the object is never visible writable.
  // Filesystems without permissions (vfat, some FUSE mounts) refuse; that is harmless.
  if (::fchmod(file_.Get(), kFileMode) != 0 && errno != EPERM && errno != EOPNOTSUPP) {
    return Fail(ErrnoError("chmod " + path, errno));
  }
  HALLEY_RETURN_IF_ERROR(Fsync(file_.Get(), path));
  if (file_.Close() != 0) return Fail(ErrnoError("close " + path, errno));
  HALLEY_ASSIGN_OR_RETURN(UniqueFd target, OpenParentDir(root_, h));

  // Publish without ever replacing an existing object, atomically: renameat2 if the
  // filesystem supports RENAME_NOREPLACE, else link() (which also fails on an existing name)
  // followed by removing the temporary name.
  int rc = -1;
  int err = EINVAL;
  if (options_.rename_noreplace) {
    rc = ::renameat2(dir_.Get(), tmp_.c_str(), target.Get(), h.name.c_str(), RENAME_NOREPLACE);
    err = errno;
  }
  bool renamed = rc == 0;
  if (rc != 0 && (err == EINVAL || err == ENOSYS)) {
    rc = ::linkat(dir_.Get(), tmp_.c_str(), target.Get(), h.name.c_str(), 0);
    err = errno;
  }
  if (rc != 0) {
    if (err == EEXIST) return Fail(ErrorCode::kAlreadyExists, path + ": already exists");
    return Fail(ErrnoError("publish " + path, err));
  }
  if (renamed) {
    guard_.Dismiss();
  } else {
    guard_.RemoveNow();  // the object is published; drop the second name before the dir fsync
  }
  return Fsync(target.Get(), DirPath(root_, h));
}

}  // namespace

Result<std::unique_ptr<ObjectWriter>> LocalBlobStore::NewWriter(ObjectType type, size_t) {
  std::string dir_path;
  HALLEY_ASSIGN_OR_RETURN(UniqueFd dir, OpenTypeDir(root_, type, dir_path));
  std::string tmp;
  UniqueFd file;
  for (int attempt = 0;; ++attempt) {
    tmp = TempName();
    file.Reset(OpenAt(dir.Get(), tmp, O_WRONLY | O_CREAT | O_EXCL, kTempMode));
    if (file.Valid()) break;
    if (errno != EEXIST || attempt == 5) {
      return Fail(ErrnoError("create " + dir_path + "/" + tmp, errno));
    }
  }
  return std::unique_ptr<ObjectWriter>(new LocalObjectWriter(
      root_, options_, type, std::move(dir), std::move(dir_path), std::move(tmp), std::move(file)));
}

Result<void> LocalBlobStore::Put(const ObjectHandle& h, ByteView data) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(auto writer, NewWriter(h.type));
  HALLEY_RETURN_IF_ERROR(writer->Write(data));
  return writer->Commit(h);
}

Result<Bytes> LocalBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  Bytes out;
  HALLEY_RETURN_IF_ERROR(Read(h, offset, length, [&](uint64_t n) {
    out.resize(n);
    return MutableByteView(out);
  }));
  return out;
}

Result<void> LocalBlobStore::ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) {
  if (out.empty()) return {};
  return Read(h, offset, out.size(), [&](uint64_t) { return out; });
}

Result<void> LocalBlobStore::Read(const ObjectHandle& h, uint64_t offset, uint64_t length,
                                  const std::function<MutableByteView(uint64_t)>& buffer) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  const std::string path = FilePath(root_, h);
  UniqueFd fd(OpenAt(AT_FDCWD, path, O_RDONLY));
  if (!fd.Valid()) return Fail(ErrnoError("open " + path, errno));
  struct stat st;
  if (::fstat(fd.Get(), &st) != 0) return Fail(ErrnoError("stat " + path, errno));
  if (!S_ISREG(st.st_mode)) return Fail(NotRegular(path));

  // Checked before allocating, so a bogus range cannot ask for a huge buffer.
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || (length != 0 && length > size - offset)) {
    return Fail(ErrorCode::kCorruption, path + ": read of " + std::to_string(length) +
                                            " bytes at offset " + std::to_string(offset) +
                                            " beyond the end (size " + std::to_string(size) + ")");
  }
  if (length == 0) length = size - offset;

  MutableByteView out = buffer(length);
  uint64_t done = 0;
  while (done < length) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(length - done, kMaxIo));
    const ssize_t n =
        ::pread(fd.Get(), out.data() + done, chunk, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError("read " + path, errno));
    }
    if (n == 0) {
      return Fail(ErrorCode::kCorruption,
                  path + ": file ended after " + std::to_string(offset + done) + " bytes");
    }
    done += static_cast<uint64_t>(n);
  }
  return {};
}

Result<uint64_t> LocalBlobStore::Stat(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  const std::string path = FilePath(root_, h);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Fail(ErrnoError("stat " + path, errno));
  if (!S_ISREG(st.st_mode)) return Fail(NotRegular(path));
  return static_cast<uint64_t>(st.st_size);
}

Result<size_t> LocalBlobStore::RemoveStaleTemporaries(std::chrono::seconds min_age) {
  const auto cutoff = std::chrono::system_clock::now() - min_age;
  size_t removed = 0;
  for (ObjectType type : kAllObjectTypes) {
    if (type == ObjectType::kConfig) continue;  // written through a temporary in a type dir
    const std::string dir = root_ + "/" + std::string(ObjectTypeDir(type));
    UniqueFd fd(OpenAt(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY));
    if (!fd.Valid()) {
      if (errno == ENOENT) continue;
      return Fail(ErrnoError("open " + dir, errno));
    }
    HALLEY_ASSIGN_OR_RETURN(DirPtr stream, OpenDirStream(std::move(fd), dir));
    const int dfd = ::dirfd(stream.get());
    for (;;) {
      errno = 0;
      const dirent* e = ::readdir(stream.get());
      if (e == nullptr) {
        if (errno != 0) return Fail(ErrnoError("readdir " + dir, errno));
        break;
      }
      if (!std::string_view(e->d_name).starts_with(".tmp-")) continue;
      struct stat st;
      if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
        continue;  // gone meanwhile, or not ours
      }
      const auto mtime = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::seconds(st.st_mtim.tv_sec) +
              std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
      if (mtime >= cutoff) continue;
      if (::unlinkat(dfd, e->d_name, 0) != 0) {
        if (errno == ENOENT) continue;
        return Fail(ErrnoError("remove " + dir + "/" + e->d_name, errno));
      }
      ++removed;
    }
  }
  return removed;
}

Result<void> LocalBlobStore::List(ObjectType type, const ListCallback& fn) {
  if (type == ObjectType::kConfig) {
    auto size = Stat(ObjectHandle::Config());
    if (!size) {
      if (size.error().Code() == ErrorCode::kNotFound) return {};
      return Fail(size.error());
    }
    return fn(ObjectInfo{"config", *size});
  }

  const std::string dir = root_ + "/" + std::string(ObjectTypeDir(type));
  UniqueFd fd(OpenAt(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY));
  if (!fd.Valid()) {
    if (errno == ENOENT) return {};  // nothing of this type was ever stored
    return Fail(ErrnoError("open " + dir, errno));
  }
  if (type != ObjectType::kData) return ListFiles(std::move(fd), dir, "", fn);

  HALLEY_ASSIGN_OR_RETURN(DirPtr shards, OpenDirStream(std::move(fd), dir));
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(shards.get());
    if (e == nullptr) {
      if (errno != 0) return Fail(ErrnoError("readdir " + dir, errno));
      return {};
    }
    const std::string_view name = e->d_name;
    if (!IsShardName(name)) continue;
    UniqueFd shard(OpenAt(::dirfd(shards.get()), e->d_name, O_RDONLY | O_DIRECTORY));
    if (!shard.Valid()) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      return Fail(ErrnoError("open " + dir + "/" + e->d_name, errno));
    }
    HALLEY_RETURN_IF_ERROR(ListFiles(std::move(shard), dir + "/" + e->d_name, name, fn));
  }
}

Result<void> LocalBlobStore::Remove(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  const std::string dir_path = DirPath(root_, h);
  UniqueFd dir(OpenAt(AT_FDCWD, dir_path, O_RDONLY | O_DIRECTORY));
  if (!dir.Valid()) {
    if (errno == ENOENT) return {};
    return Fail(ErrnoError("open " + dir_path, errno));
  }
  if (::unlinkat(dir.Get(), h.name.c_str(), 0) != 0) {
    if (errno == ENOENT) return {};
    return Fail(ErrnoError("remove " + FilePath(root_, h), errno));
  }
  return Fsync(dir.Get(), dir_path);
}

}  // namespace halley::storage
