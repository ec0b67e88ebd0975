// SPDX-License-Identifier: Apache-2.0
#include "engine/restorer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/encoding.h"
#include "crypto/random.h"
#include "engine/snapshots.h"
#include "fs/fs.h"
#include "snapshot/go_quote.h"
#include "snapshot/mode.h"

namespace halley::engine {
namespace {

using snapshot::Node;
using snapshot::NodeType;

// A file's temporary name comes from 64 random bits, kept instead of the name itself: a restore
// of many small files holds one FileTarget per file until the end.
uint64_t NewTempId() {
  uint64_t id;
  crypto::RandomBytes(MutableByteView(reinterpret_cast<uint8_t*>(&id), sizeof id));
  return id;
}
std::string TempName(uint64_t id = NewTempId()) {
  return ".halley-restore-" + HexEncode(ByteView(reinterpret_cast<const uint8_t*>(&id), sizeof id));
}

struct timespec ToTimespec(const Time& t) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(t.seconds);
  ts.tv_nsec = t.nanos;
  return ts;
}

// A directory of the restore: its parent (index into the same list) and its name. Index 0 is
// the target itself.
struct DirEntry {
  size_t parent;
  std::string name;
};

// Directory descriptors beneath the target, opened on demand from the nearest open ancestor
// (openat with O_NOFOLLOW, one component at a time, so never through a symlink) and kept in an
// LRU cache. Thread-safe; `dirs` may grow between calls but not during one.
class DirCache {
 public:
  DirCache(int root_fd, const std::vector<DirEntry>& dirs) : root_fd_(root_fd), dirs_(dirs) {}

  // Runs fn(fd) with the descriptor of directory `index`, holding it open meanwhile.
  Result<void> With(size_t index, const std::function<Result<void>(int)>& fn) {
    if (index == 0) return fn(root_fd_);
    std::shared_ptr<fs::Fd> fd = Find(index);
    if (!fd) {
      // Climb to an open ancestor, then open the missing levels downwards.
      std::vector<size_t> chain;
      std::shared_ptr<fs::Fd> base;
      size_t i = index;
      while (i != 0 && !(base = Find(i))) {
        chain.push_back(i);
        i = dirs_[i].parent;
      }
      // Another thread may have opened this very directory since the Find above: then the
      // climb stops at once, with nothing left to open.
      if (chain.empty()) fd = base;
      int cur = base ? base->Get() : root_fd_;
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const std::string& name = dirs_[*it].name;
        int opened = ::openat(cur, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (opened < 0) {
          int e = errno;
          if (e == ELOOP || e == ENOTDIR) {
            return Fail(ErrorCode::kInvalidArgument, "\"" + name + "\" is not a directory");
          }
          return Fail(ErrnoError("open directory " + name, e));
        }
        fd = std::make_shared<fs::Fd>(opened);
        Insert(*it, fd);
        cur = opened;
      }
    }
    return fn(fd->Get());
  }

 private:
  std::shared_ptr<fs::Fd> Find(size_t index) {
    std::lock_guard lock(mu_);
    auto it = map_.find(index);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  void Insert(size_t index, std::shared_ptr<fs::Fd> fd) {
    std::lock_guard lock(mu_);
    if (map_.count(index)) return;
    lru_.emplace_front(index, std::move(fd));
    map_[index] = lru_.begin();
    if (lru_.size() > kCapacity) {
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

  static constexpr size_t kCapacity = 256;
  int root_fd_;
  const std::vector<DirEntry>& dirs_;
  std::mutex mu_;
  std::list<std::pair<size_t, std::shared_ptr<fs::Fd>>> lru_;  // Guarded by mu_.
  std::unordered_map<size_t, std::list<std::pair<size_t, std::shared_ptr<fs::Fd>>>::iterator>
      map_;  // Guarded by mu_.
};

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t, AlignedFree>;

// A page of a file written with direct I/O that holds the edge of a blob, and so belongs to two
// (or more) blobs: it is assembled here and written once, whole.
struct EdgePage {
  AlignedBuffer data;  // DirectUnit() bytes, zero where no blob has contributed yet
  size_t filled = 0;   // bytes contributed
};

struct FileTarget {
  size_t dir;        // index into dirs_
  const Node* node;  // its name is the file's; kept alive in trees_
  uint64_t tmp_id;   // TempName(tmp_id) while being written
  uint64_t size = 0;
  std::mutex mu;
  fs::Fd fd;                  // Guarded by mu: open while blobs are being written.
  fs::Fd direct;              // Guarded by mu: the same file opened O_DIRECT, if used (OpenDirect)
  bool preallocated = false;  // Guarded by mu: blocks reserved up front (Preallocate)
  std::unordered_map<uint64_t, EdgePage> edges;  // Guarded by mu: by offset, awaiting blobs
  bool edges_cached = false;  // Guarded by mu: spilled (AddEdge); edges go through the page cache
  std::vector<std::pair<uint64_t, uint64_t>> holes;  // Guarded by mu: zero runs (offset, length)
                                                     // skipped in a preallocated file
  int writers = 0;         // Guarded by mu: WriteBlob calls writing with mu released.
  size_t remaining = 0;    // Guarded by mu: blob placements still to write.
  bool failed = false;     // Guarded by mu.
  bool published = false;  // Guarded by mu: renamed into place, complete.
  ino_t inode = 0;         // Guarded by mu: of the file this restore wrote.
};

struct Placement {
  size_t file;
  uint64_t offset;
};

struct BlobPlan {
  Id id;
  repo::BlobLocation loc;
  std::vector<Placement> places;
};

struct PackPlan {
  Id pack;
  size_t first_use;  // order of first appearance, so files complete early
  std::vector<BlobPlan> blobs;
};

bool AllZero(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w != 0) return false;
  }
  for (; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// Big files are written with O_DIRECT where the file system supports it: copying their data
// into new page-cache pages was most of the kernel's time in a restore of a 4 GiB file (and
// dirty-page throttling the rest). A page of the file is either written whole with O_DIRECT
// (inside one blob, or an edge page assembled from its blobs) or written in pieces through the
// page cache (edges once the file has spilled), never both, so the two paths never share a
// cached page.
constexpr size_t kPage = 4096;           // the unit of holes
constexpr size_t kBounceSize = 1 << 20;  // a DirectWriteQueue buffer (aligned, for O_DIRECT)

// The unit of direct writes: a memory page (4 KiB, or 64 KiB on some arm64 and POWER systems).
size_t DirectUnit() {
  static const size_t unit = std::max<size_t>(kPage, static_cast<size_t>(::sysconf(_SC_PAGESIZE)));
  return unit;
}

// Opens `fd`'s file again with O_DIRECT (through /proc/self/fd, so the very same inode) if the
// file system takes direct writes aligned to DirectUnit(); an invalid Fd otherwise.
fs::Fd OpenDirect(int fd) {
  struct statx st;
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) != 0 || !(st.stx_mask & STATX_DIOALIGN) ||
      st.stx_dio_offset_align == 0 || DirectUnit() % st.stx_dio_offset_align != 0 ||
      DirectUnit() % st.stx_dio_mem_align != 0 || kBounceSize % DirectUnit() != 0) {
    return fs::Fd();
  }
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  return fs::Fd(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
}

// One blob placement's writes: the worker's own share, plus one per queued direct write. The
// last to finish calls `done` with the first error, if any.
struct WriteTicket {
  std::atomic<int> pending{1};
  std::mutex mu;
  Result<void> result;  // Guarded by mu until pending reaches 0.
  std::function<void(Result<void>)> done;

  void Finish(Result<void> r) {
    if (!r) {
      std::lock_guard lock(mu);
      if (result) result = std::move(r);
    }
    if (pending.fetch_sub(1) == 1) done(std::move(result));
  }
};

// Writes whole DirectUnit()s from aligned memory through `direct`. If the write is refused
// (stricter rules than statx reported) or cut short, the rest goes through the page cache, once
// the direct write has completed (no other write touches these pages).
Result<void> WriteDirect(int fd, int direct, const uint8_t* data, size_t n, uint64_t offset) {
  ssize_t w;
  do {
    w = ::pwrite(direct, data, n, static_cast<off_t>(offset));
  } while (w < 0 && errno == EINTR);
  if (w == static_cast<ssize_t>(n)) return {};
  if (w < 0 && errno != EINVAL) return Fail(ErrnoError("write", errno));
  const size_t done = w > 0 ? static_cast<size_t>(w) : 0;
  return fs::WriteFullAt(fd, data + done, n - done, offset + done);
}

// Direct writes run on threads of their own, so that a worker decodes its next blob while the
// disk takes this one (a direct write returns only once the device has the data). A fixed pool
// of aligned buffers bounds the memory that queued writes hold.
class DirectWriteQueue {
 public:
  struct Job {
    int fd;  // for the page-cache fallback
    int direct;
    AlignedBuffer data;
    size_t length;
    uint64_t offset;
    bool pooled;  // `data` goes back to the pool afterwards
    std::shared_ptr<WriteTicket> ticket;
  };

  DirectWriteQueue(size_t buffers, int threads) : unallocated_(buffers) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  // Completes every queued write first.
  ~DirectWriteQueue() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // A buffer of kBounceSize bytes; waits while all are in use.
  Result<AlignedBuffer> Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !pool_.empty() || unallocated_ > 0; });
    if (!pool_.empty()) {
      AlignedBuffer b = std::move(pool_.back());
      pool_.pop_back();
      return b;
    }
    AlignedBuffer b(static_cast<uint8_t*>(std::aligned_alloc(DirectUnit(), kBounceSize)));
    if (!b) return Fail(ErrorCode::kUnknown, "out of memory");
    --unallocated_;
    return b;
  }

  void Submit(Job job) {
    job.ticket->pending++;
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }

 private:
  void Loop() {
    while (true) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      auto r = WriteDirect(job.fd, job.direct, job.data.get(), job.length, job.offset);
      if (job.pooled) {
        lock.lock();
        pool_.push_back(std::move(job.data));
        lock.unlock();
        cv_.notify_all();
      }
      job.ticket->Finish(std::move(r));
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;             // Guarded by mu_.
  std::vector<AlignedBuffer> pool_;  // Guarded by mu_.
  size_t unallocated_;               // Guarded by mu_: buffers the pool may still allocate
  bool stopping_ = false;            // Guarded by mu_.
  std::vector<std::thread> threads_;
};

// Writes [data, data + n) at `offset`: the whole DirectUnit()s through `direct` (if valid),
// queued on `queue` under `ticket`, and the partial ones at either end through `fd`.
Result<void> WriteRun(int fd, int direct, const uint8_t* data, size_t n, uint64_t offset,
                      DirectWriteQueue* queue, const std::shared_ptr<WriteTicket>& ticket) {
  const uint64_t unit = DirectUnit();
  const uint64_t first = (offset + unit - 1) / unit * unit;
  const uint64_t last = (offset + n) / unit * unit;
  if (direct < 0 || first >= last) return fs::WriteFullAt(fd, data, n, offset);
  if (first > offset) HALLEY_RETURN_IF_ERROR(fs::WriteFullAt(fd, data, first - offset, offset));
  for (uint64_t at = first; at < last; at += kBounceSize) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(kBounceSize, last - at));
    HALLEY_ASSIGN_OR_RETURN(AlignedBuffer buffer, queue->Acquire());
    std::memcpy(buffer.get(), data + (at - offset), len);
    queue->Submit({fd, direct, std::move(buffer), len, at, true, ticket});
  }
  if (offset + n > last) {
    HALLEY_RETURN_IF_ERROR(fs::WriteFullAt(fd, data + (last - offset), offset + n - last, last));
  }
  return {};
}

// Writes `data` at `offset`, skipping page-sized runs of zeros, so that holes in the original
// (stored as zeros) become holes again. The file is new (or preallocated, whose unwritten blocks
// read as zeros too), so skipped ranges read as zeros; its final size is set separately.
// `direct` is -1 or the file opened by OpenDirect (then `queue` and `ticket` take its direct
// writes). The whole pages of each skipped run are appended to `holes` if it is not null.
Result<void> WriteSparse(int fd, int direct, ByteView data, uint64_t offset,
                         std::vector<std::pair<uint64_t, uint64_t>>* holes, DirectWriteQueue* queue,
                         const std::shared_ptr<WriteTicket>& ticket) {
  size_t pos = 0;
  while (pos < data.size()) {
    // The page containing `pos`, aligned to the file offset.
    size_t end = std::min<size_t>(data.size(), pos + (kPage - (offset + pos) % kPage));
    size_t run_start = pos;
    bool zero = AllZero(data.data() + pos, end - pos);
    // Extend the run while pages have the same kind.
    while (end < data.size()) {
      size_t next = std::min<size_t>(data.size(), end + kPage);
      if (AllZero(data.data() + end, next - end) != zero) break;
      end = next;
    }
    if (!zero) {
      HALLEY_RETURN_IF_ERROR(WriteRun(fd, direct, data.data() + run_start, end - run_start,
                                      offset + run_start, queue, ticket));
    } else if (holes) {
      const uint64_t from = (offset + run_start + kPage - 1) / kPage * kPage;
      const uint64_t to = (offset + end) / kPage * kPage;
      if (from < to) holes->emplace_back(from, to - from);
    }
    pos = end;
  }
  return {};
}

// Bytes of edge pages a restore holds in memory at once (1024 pages of 4 KiB). Blobs are
// restored roughly in file order, so a page waits for its other blob briefly and only a few
// wait at a time; past this (blobs of a file scattered across far-apart packs), the file that
// asks for one more spills: its edges go through the page cache from then on.
constexpr uint64_t kEdgeBudget = 4 << 20;

// A whole edge page, ready to be written.
struct ReadyPage {
  uint64_t offset;
  size_t length;  // DirectUnit(), or less for the file's last page
  AlignedBuffer data;
};

class Restorer {
 public:
  Restorer(repo::Repository& repo, const RestoreOptions& options) : repo_(repo), opts_(options) {}

  Result<RestoreResult> Run(const Id& root);

 private:
  // A directory being walked. The walk is iterative (an explicit stack), so a hostile snapshot
  // nested a million levels deep costs memory, not the call stack.
  struct Frame {
    const snapshot::Tree* tree;
    size_t next = 0;   // the next node of `tree` to restore
    size_t dir;        // index into dirs_
    std::string path;  // in the snapshot, for messages and include rules
    bool created;      // exists in the target (directories walked only for --include are
                       // created when the first included item beneath them is restored)
    const Node* node;  // the directory's node, for its metadata; null for the target
  };
  struct Leader {  // the first name of a hardlinked inode
    size_t dir;
    std::string name;
    size_t file = SIZE_MAX;  // the FileTarget writing it, if its content comes later
    bool ok = false;         // written completely by this restore
    ino_t inode = 0;
  };
  struct LinkJob {
    size_t dir;
    std::string name;
    std::pair<uint64_t, uint64_t> key;
    std::string path;
  };

  // Walk phase (single thread).
  Result<void> Walk(const snapshot::Tree& root, const std::string& root_path);
  Result<void> EnsureCreated(std::vector<Frame>& stack);
  Result<void> MakeDir(size_t parent, const std::string& name);
  Result<void> RestoreNode(const Node& node, size_t dir_index, int dir_fd, const std::string& path);
  bool Included(const std::string& path, bool is_dir, bool& descend) const;
  // Whether an existing entry `name` in dir_fd should be replaced by `node` (false: skip it).
  Result<bool> ShouldReplace(int dir_fd, const std::string& name, const Node& node);
  Result<void> ApplyMetadataFd(int fd, const Node& node, bool is_dir);
  Result<void> ApplyMetadataAt(int dir_fd, const std::string& name, const Node& node);
  Result<void> Publish(int dir_fd, const std::string& tmp, const std::string& name);
  void RecordError(const std::string& path, const Error& e);
  std::string DirPath(size_t dir, const std::string& name = "") const;

  // Content phase.
  Result<void> RestoreContents();
  Result<void> RestorePack(const PackPlan& plan, DirCache& dirs);
  // Writes one placement of a blob; the file learns of it in CompleteWrite, once every write
  // (queued ones included) has finished.
  Result<void> WriteBlob(ByteView data, const Placement& p, DirCache& dirs);
  void CompleteWrite(FileTarget& f, DirCache& dirs, Result<void> w,
                     const std::vector<std::pair<uint64_t, uint64_t>>& holes, uint64_t bytes);
  void Preallocate(FileTarget& f);
  void ReleaseReservation(FileTarget& f);
  Result<bool> AddEdge(FileTarget& f, uint64_t offset, const uint8_t* data, size_t n,
                       std::vector<ReadyPage>& ready);
  void DropEdges(FileTarget& f);
  void FinishFile(FileTarget& f, DirCache& dirs);
  // Marks `f` failed; closes it and removes its temporary file once no write to it is in flight
  // (otherwise the last writer comes back here). REQUIRES: f.mu held.
  void Discard(FileTarget& f, DirCache& dirs);
  void RestoreHardlinks(DirCache& dirs);

  repo::Repository& repo_;
  const RestoreOptions& opts_;
  RestoreResult result_;
  std::mutex result_mu_;
  std::vector<DirEntry> dirs_;                            // [0] is the target
  std::unique_ptr<DirCache> dirs_cache_;                  // once the target is open
  std::vector<std::pair<size_t, const Node*>> dir_meta_;  // dirs whose metadata is applied last
  std::vector<std::unique_ptr<snapshot::Tree>> trees_;    // keep nodes alive
  std::vector<std::unique_ptr<FileTarget>> files_;
  std::map<std::pair<uint64_t, uint64_t>, Leader> hardlink_leaders_;
  std::vector<LinkJob> links_;
  DirectWriteQueue* queue_ = nullptr;    // during RestoreContents
  std::atomic<uint64_t> edge_bytes_{0};  // edge pages held, all files (kEdgeBudget)
  std::mutex reserve_mu_;
  uint64_t reserved_ = 0;  // Guarded by reserve_mu_: bytes preallocated for unfinished files
};

std::string Restorer::DirPath(size_t dir, const std::string& name) const {
  std::vector<const std::string*> parts;
  for (size_t d = dir; d != 0; d = dirs_[d].parent) parts.push_back(&dirs_[d].name);
  std::string s;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) s += "/" + **it;
  if (!name.empty()) s += "/" + name;
  return s.empty() ? "/" : s;
}

void Restorer::RecordError(const std::string& path, const Error& e) {
  std::lock_guard lock(result_mu_);
  result_.errors.emplace_back(path, e);
  if (opts_.progress) opts_.progress->errors++;
  if (opts_.on_error) opts_.on_error(path, e);
}

bool Restorer::Included(const std::string& path, bool is_dir, bool& descend) const {
  for (const auto& e : opts_.excludes) {
    if (e.Matches(path)) {
      descend = false;
      return false;
    }
  }
  if (opts_.includes.empty()) {
    descend = true;
    return true;
  }
  bool match = false;
  descend = false;
  for (const auto& inc : opts_.includes) {
    if (inc.Matches(path)) match = true;
    if (is_dir && inc.MayMatchBeneath(path)) descend = true;
  }
  if (match) descend = true;
  return match;
}

Result<bool> Restorer::ShouldReplace(int dir_fd, const std::string& name, const Node& node) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return true;
    return Fail(ErrnoError("stat " + name, errno));
  }
  if (S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kAlreadyExists, "a directory is in the way");
  }
  switch (opts_.overwrite) {
    case Overwrite::kAlways:
      return true;
    case Overwrite::kNever:
      return false;
    case Overwrite::kIfNewer:
      return node.mtime > Time::Utc(st.st_mtim.tv_sec, static_cast<int32_t>(st.st_mtim.tv_nsec));
    case Overwrite::kIfDifferent: {
      bool same =
          S_ISREG(st.st_mode) && node.type == NodeType::kFile &&
          static_cast<uint64_t>(st.st_size) == node.size &&
          node.mtime == Time::Utc(st.st_mtim.tv_sec, static_cast<int32_t>(st.st_mtim.tv_nsec));
      return !same;
    }
  }
  return true;
}

Result<void> Restorer::ApplyMetadataFd(int fd, const Node& node, bool is_dir) {
  uint32_t mode = snapshot::PosixModeFromGo(node.mode) & 07777;
  if (opts_.restore_ownership) {
    if (::fchown(fd, node.uid, node.gid) != 0) return Fail(ErrnoError("chown", errno));
  } else {
    mode &= ~static_cast<uint32_t>(S_ISUID | S_ISGID);  // not ours to grant
    if (is_dir) mode |= S_IRWXU;                        // keep our own directories usable
  }
  for (const auto& x : node.xattrs) {
    if (::fsetxattr(fd, x.name.c_str(), x.value.data(), x.value.size(), 0) != 0 &&
        errno != ENOTSUP) {
      return Fail(ErrnoError("setxattr " + x.name, errno));
    }
  }
  if (::fchmod(fd, mode) != 0) return Fail(ErrnoError("chmod", errno));
  struct timespec times[2] = {ToTimespec(node.atime), ToTimespec(node.mtime)};
  if (::futimens(fd, times) != 0) return Fail(ErrnoError("utimens", errno));
  return {};
}

Result<void> Restorer::ApplyMetadataAt(int dir_fd, const std::string& name, const Node& node) {
  // For entries that cannot be opened (symlinks, FIFOs, devices); `name` is a temporary name
  // we created ourselves.
  if (opts_.restore_ownership &&
      ::fchownat(dir_fd, name.c_str(), node.uid, node.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return Fail(ErrnoError("chown", errno));
  }
  if (node.type != NodeType::kSymlink) {
    uint32_t mode = snapshot::PosixModeFromGo(node.mode) & 07777;
    if (!opts_.restore_ownership) mode &= ~static_cast<uint32_t>(S_ISUID | S_ISGID);
    if (::fchmodat(dir_fd, name.c_str(), mode, 0) != 0) return Fail(ErrnoError("chmod", errno));
  }
  struct timespec times[2] = {ToTimespec(node.atime), ToTimespec(node.mtime)};
  if (::utimensat(dir_fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return Fail(ErrnoError("utimens", errno));
  }
  return {};
}

Result<void> Restorer::Publish(int dir_fd, const std::string& tmp, const std::string& name) {
  // rename() replaces whatever has the final name, a planted symlink included, without
  // following it.
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    int e = errno;
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return Fail(ErrnoError("rename to " + name, e));
  }
  return {};
}

Result<void> Restorer::MakeDir(size_t parent, const std::string& name) {
  return dirs_cache_->With(parent, [&](int dir_fd) -> Result<void> {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
      // A file or a (possibly planted) symlink has the name: replace it, never follow it.
      if (opts_.overwrite != Overwrite::kAlways) {
        return Fail(ErrorCode::kAlreadyExists, "a non-directory is in the way");
      }
      if (::unlinkat(dir_fd, name.c_str(), 0) != 0) return Fail(ErrnoError("remove", errno));
    }
    if (::mkdirat(dir_fd, name.c_str(), 0700) != 0 && errno != EEXIST) {
      return Fail(ErrnoError("mkdir", errno));
    }
    return {};
  });
}

Result<void> Restorer::EnsureCreated(std::vector<Frame>& stack) {
  for (auto& f : stack) {
    if (f.created) continue;
    HALLEY_RETURN_IF_ERROR(MakeDir(dirs_[f.dir].parent, dirs_[f.dir].name));
    f.created = true;
    dir_meta_.emplace_back(f.dir, f.node);
    result_.dirs++;
  }
  return {};
}

Result<void> Restorer::RestoreNode(const Node& node, size_t dir_index, int dir_fd,
                                   const std::string& path) {
  const std::string& name = node.name;
  HALLEY_ASSIGN_OR_RETURN(bool replace, ShouldReplace(dir_fd, name, node));
  if (!replace) {
    result_.skipped++;
    return {};
  }
  std::optional<std::pair<uint64_t, uint64_t>> leader_key;
  if (node.type == NodeType::kFile && node.links > 1) {
    auto key = std::make_pair(node.device_id, node.inode);
    if (hardlink_leaders_.count(key)) {
      links_.push_back({dir_index, name, key, path});
      return {};
    }
    leader_key = key;  // registered below, once this name is known to be restored
  }

  const uint64_t tmp_id = NewTempId();
  const std::string tmp = TempName(tmp_id);
  switch (node.type) {
    case NodeType::kFile: {
      if (!node.content) return Fail(ErrorCode::kCorruption, "file has no content list");
      auto f = std::make_unique<FileTarget>();
      f->dir = dir_index;
      f->node = &node;
      f->tmp_id = tmp_id;
      uint64_t size = 0;
      for (const Id& id : *node.content) {
        auto loc = repo_.GetIndex().Lookup(repo::BlobType::kData, id);
        if (!loc) {
          return Fail(ErrorCode::kNotFound, "blob " + id.Short() + " not found in index");
        }
        size += loc->PlainSize();
      }
      f->size = size;
      if (opts_.progress) {
        opts_.progress->total_files++;
        opts_.progress->total_bytes += size;
      }
      if (node.content->empty()) {
        int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          0600);
        if (fd < 0) return Fail(ErrnoError("create", errno));
        fs::Fd owned(fd);
        auto st = fs::Fstat(fd);
        auto meta = st ? ApplyMetadataFd(fd, node, false) : Result<void>(Fail(st.error()));
        if (!meta) {
          ::unlinkat(dir_fd, tmp.c_str(), 0);
          return meta;
        }
        HALLEY_RETURN_IF_ERROR(Publish(dir_fd, tmp, name));
        if (leader_key)
          hardlink_leaders_[*leader_key] = {dir_index, name, SIZE_MAX, true, st->st_ino};
        result_.files++;
        if (opts_.progress) opts_.progress->files_done++;
        return {};
      }
      if (leader_key) hardlink_leaders_[*leader_key] = {dir_index, name, files_.size()};
      result_.files++;
      files_.push_back(std::move(f));
      return {};
    }
    case NodeType::kSymlink:
      if (::symlinkat(node.linktarget.c_str(), dir_fd, tmp.c_str()) != 0) {
        return Fail(ErrnoError("symlink", errno));
      }
      break;
    case NodeType::kFifo:
      if (::mkfifoat(dir_fd, tmp.c_str(), 0600) != 0) return Fail(ErrnoError("mkfifo", errno));
      break;
    case NodeType::kDev:
    case NodeType::kCharDev: {
      mode_t type = node.type == NodeType::kDev ? S_IFBLK : S_IFCHR;
      if (::mknodat(dir_fd, tmp.c_str(), type | 0600, static_cast<dev_t>(node.device)) != 0) {
        return Fail(ErrnoError("mknod", errno));
      }
      break;
    }
    case NodeType::kSocket:
      result_.skipped++;  // a socket is recreated by its server, not by a restore
      return {};
    default:
      return Fail(ErrorCode::kNotSupported,
                  "cannot restore a node of type " + std::string(NodeTypeName(node.type)));
  }
  auto meta = ApplyMetadataAt(dir_fd, tmp, node);
  if (!meta) {
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return meta;
  }
  result_.other++;
  return Publish(dir_fd, tmp, name);
}

Result<void> Restorer::Walk(const snapshot::Tree& root, const std::string& root_path) {
  std::vector<Frame> stack;
  stack.push_back(Frame{&root, 0, 0, root_path, true, nullptr});
  while (!stack.empty()) {
    if (opts_.stop.stop_requested()) return Fail(ErrorCode::kCancelled, "restore interrupted");
    Frame& f = stack.back();
    if (f.next == f.tree->nodes.size()) {
      stack.pop_back();
      continue;
    }
    const Node& node = f.tree->nodes[f.next++];
    if (!fs::IsSafeName(node.name)) {
      RecordError(
          f.path + "/" + snapshot::GoQuoteName(node.name),
          Error(ErrorCode::kCorruption, "refusing to restore an entry with an invalid name"));
      continue;
    }
    std::string child = f.path + "/" + node.name;
    bool descend = true;
    bool is_dir = node.type == NodeType::kDir;
    bool included = Included(child, is_dir, descend);
    if (!included && !(is_dir && descend)) continue;
    if (is_dir) {
      if (!node.subtree) {
        RecordError(child, Error(ErrorCode::kCorruption, "directory has no subtree"));
        continue;
      }
      auto tree = LoadTree(repo_, *node.subtree);
      if (!tree) {
        RecordError(child, tree.error());
        continue;
      }
      // Kept to the end of the restore, so without the vector's growth slack: a directory of
      // 40 files otherwise holds room for 64 nodes of 376 bytes.
      tree->nodes.shrink_to_fit();
      trees_.push_back(std::make_unique<snapshot::Tree>(std::move(*tree)));
      dirs_.push_back({f.dir, node.name});
      Frame next{trees_.back().get(), 0, dirs_.size() - 1, child, false, &node};
      stack.push_back(std::move(next));
      if (included) {
        auto made = EnsureCreated(stack);
        if (!made) {
          RecordError(child, made.error());
          stack.pop_back();
        }
      }
      continue;
    }
    auto made = EnsureCreated(stack);
    if (!made) {
      RecordError(child, made.error());
      continue;
    }
    auto r = dirs_cache_->With(stack.back().dir, [&](int dir_fd) {
      return RestoreNode(node, stack.back().dir, dir_fd, child);
    });
    if (!r) RecordError(child, r.error());
  }
  return {};
}

// Reserves the blocks of a new file (FileTarget::size bytes, REQUIRES: f.mu held, f.fd open),
// so that direct writes into it are overwrites of unwritten extents, which ext4 (and XFS) let
// run in parallel; writes that allocate take the inode's lock exclusively for the whole I/O.
// Zero runs are punched out again at the end, so a sparse file still ends sparse. Until then it
// holds its full size on disk, so the files reserved at once stay under half the free space.
// Sets f.preallocated if done.
void Restorer::Preallocate(FileTarget& f) {
  std::lock_guard lock(reserve_mu_);
  struct statvfs vfs;
  if (::fstatvfs(f.fd.Get(), &vfs) != 0 || vfs.f_frsize == 0 ||
      vfs.f_bavail / 2 <= (reserved_ + f.size) / vfs.f_frsize) {
    return;
  }
  if (::fallocate(f.fd.Get(), 0, 0, static_cast<off_t>(f.size)) != 0) {
    // Not supported, or space ran out meanwhile: give back whatever part was reserved.
    (void)::fallocate(f.fd.Get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                      static_cast<off_t>(f.size));
    return;
  }
  reserved_ += f.size;
  f.preallocated = true;
}

// REQUIRES: f.mu held.
void Restorer::ReleaseReservation(FileTarget& f) {
  if (!f.preallocated) return;
  f.preallocated = false;
  std::lock_guard lock(reserve_mu_);
  reserved_ -= f.size;
}

// Adds bytes [data, data + n), which lie inside one page at `offset` of `f`, to its edge page;
// a page now complete moves to `ready`. False if edges of `f` go through the page cache instead
// (then the caller writes these bytes so). REQUIRES: f.mu held, f opened for direct writes.
Result<bool> Restorer::AddEdge(FileTarget& f, uint64_t offset, const uint8_t* data, size_t n,
                               std::vector<ReadyPage>& ready) {
  if (f.edges_cached) return false;
  const uint64_t unit = DirectUnit();
  const uint64_t page = offset / unit * unit;
  auto [it, fresh] = f.edges.try_emplace(page);
  if (fresh) {
    if (edge_bytes_.fetch_add(unit) + unit <= kEdgeBudget) {
      it->second.data.reset(static_cast<uint8_t*>(std::aligned_alloc(unit, unit)));
    }
    if (!it->second.data) {
      // Spill: write what is held through the page cache, and send every later edge of this
      // file that way, so no page is written both directly and through the cache. A blob
      // still to come writes its own bytes over the zeros written for it here (and an
      // all-zero page is left as it is: unwritten, it reads as zeros).
      f.edges.erase(it);
      edge_bytes_ -= unit;
      for (const auto& [at, e] : f.edges) {
        const size_t length = static_cast<size_t>(std::min<uint64_t>(unit, f.size - at));
        if (AllZero(e.data.get(), length)) continue;
        HALLEY_RETURN_IF_ERROR(fs::WriteFullAt(f.fd.Get(), e.data.get(), length, at));
      }
      DropEdges(f);
      f.edges_cached = true;
      return false;
    }
    std::memset(it->second.data.get(), 0, unit);
  }
  EdgePage& e = it->second;
  std::memcpy(e.data.get() + (offset - page), data, n);
  e.filled += n;
  const size_t length = static_cast<size_t>(std::min<uint64_t>(unit, f.size - page));
  if (e.filled == length) {
    ready.push_back({page, length, std::move(e.data)});
    f.edges.erase(it);
    edge_bytes_ -= unit;
  }
  return true;
}

// REQUIRES: f.mu held.
void Restorer::DropEdges(FileTarget& f) {
  edge_bytes_ -= f.edges.size() * DirectUnit();
  f.edges.clear();
}

Result<void> Restorer::WriteBlob(ByteView data, const Placement& p, DirCache& dirs) {
  FileTarget& f = *files_[p.file];
  std::unique_lock lock(f.mu);
  if (f.failed) return {};
  if (!f.fd.Valid()) {
    auto opened = dirs.With(f.dir, [&](int dir_fd) -> Result<void> {
      int fd = ::openat(dir_fd, TempName(f.tmp_id).c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) return Fail(ErrnoError("create " + f.node->name, errno));
      f.fd = fs::Fd(fd);
      if (f.size >= opts_.direct_io_min_size) {
        // At its final size from the start, so that direct writes never extend it.
        if (::ftruncate(fd, static_cast<off_t>(f.size)) != 0) {
          return Fail(ErrnoError("truncate " + f.node->name, errno));
        }
        f.direct = OpenDirect(fd);
        if (f.direct.Valid()) Preallocate(f);
      }
      return {};
    });
    if (!opened) {
      f.failed = true;
      lock.unlock();
      RecordError(DirPath(f.dir, f.node->name), opened.error());
      return {};
    }
  }
  // The lock is released while writing, so the blobs of one big file are written in parallel:
  // placements cover disjoint byte ranges. With direct I/O the pages wholly inside this blob
  // (`body`) are written directly; its partial pages at either end join their edge pages.
  const int fd = f.fd.Get();
  const int direct = f.direct.Valid() ? f.direct.Get() : -1;
  ByteView body = data;
  uint64_t body_offset = p.offset;
  std::vector<ReadyPage> ready;
  std::vector<std::pair<uint64_t, ByteView>> cached;  // edges to write through the page cache
  Result<void> w;
  if (direct >= 0) {
    const uint64_t unit = DirectUnit();
    const uint64_t end = p.offset + data.size();
    const uint64_t first = std::min((p.offset + unit - 1) / unit * unit, end);
    const uint64_t last = std::max(end / unit * unit, first);
    auto edge = [&](uint64_t from, uint64_t to) -> Result<void> {
      if (from == to) return {};
      ByteView piece = data.subspan(from - p.offset, to - from);
      HALLEY_ASSIGN_OR_RETURN(bool held, AddEdge(f, from, piece.data(), piece.size(), ready));
      if (!held) cached.emplace_back(from, piece);
      return {};
    };
    w = edge(p.offset, first);
    if (w) w = edge(last, end);
    body = data.subspan(first - p.offset, last - first);
    body_offset = first;
  }
  std::vector<std::pair<uint64_t, uint64_t>> holes;
  std::vector<std::pair<uint64_t, uint64_t>>* holes_out = f.preallocated ? &holes : nullptr;
  auto ticket = std::make_shared<WriteTicket>();
  ++f.writers;
  lock.unlock();
  if (w) w = WriteSparse(fd, direct, body, body_offset, holes_out, queue_, ticket);
  for (const auto& [at, piece] : cached) {
    if (w) w = WriteSparse(fd, -1, piece, at, holes_out, nullptr, nullptr);
  }
  for (auto& page : ready) {
    if (!w) break;
    // Complete, so no other blob writes here: zeros can stay (or become) a hole.
    if (AllZero(page.data.get(), page.length)) {
      if (holes_out) holes.emplace_back(page.offset, page.length);
    } else if (page.length == DirectUnit()) {
      queue_->Submit({fd, direct, std::move(page.data), page.length, page.offset, false, ticket});
    } else {  // the file's last page
      w = fs::WriteFullAt(fd, page.data.get(), page.length, page.offset);
    }
  }
  // Set before this worker's own Finish, which is the last unless a queued write is.
  ticket->done = [this, &f, &dirs, holes = std::move(holes), bytes = data.size()](Result<void> r) {
    CompleteWrite(f, dirs, std::move(r), holes, bytes);
  };
  ticket->Finish(std::move(w));
  return {};
}

void Restorer::CompleteWrite(FileTarget& f, DirCache& dirs, Result<void> w,
                             const std::vector<std::pair<uint64_t, uint64_t>>& holes,
                             uint64_t bytes) {
  std::unique_lock lock(f.mu);
  --f.writers;
  if (!w || f.failed) {
    const bool first = !f.failed;
    Discard(f, dirs);
    lock.unlock();
    if (!w && first) RecordError(DirPath(f.dir, f.node->name), w.error());
    return;
  }
  f.holes.insert(f.holes.end(), holes.begin(), holes.end());
  if (opts_.progress) opts_.progress->bytes_done += bytes;
  if (--f.remaining == 0) {
    lock.unlock();
    FinishFile(f, dirs);
  }
}

void Restorer::Discard(FileTarget& f, DirCache& dirs) {
  f.failed = true;
  DropEdges(f);
  if (f.writers > 0) return;
  ReleaseReservation(f);
  f.fd.Reset();
  f.direct.Reset();
  (void)dirs.With(f.dir, [&](int dir_fd) -> Result<void> {
    ::unlinkat(dir_fd, TempName(f.tmp_id).c_str(), 0);
    return {};
  });
}

void Restorer::FinishFile(FileTarget& f, DirCache& dirs) {
  std::lock_guard lock(f.mu);
  f.direct.Reset();
  auto done = [&]() -> Result<void> {
    if (!f.edges.empty()) {  // every byte has been written once remaining is 0
      return Fail(ErrorCode::kUnknown, "internal error: " + std::to_string(f.edges.size()) +
                                           " pages were never written");
    }
    // The contents are complete already: a hole that cannot be punched stays zeros on disk.
    for (const auto& [offset, length] : f.holes) {
      (void)::fallocate(f.fd.Get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                        static_cast<off_t>(offset), static_cast<off_t>(length));
    }
    f.holes = {};
    ReleaseReservation(f);
    if (::ftruncate(f.fd.Get(), static_cast<off_t>(f.size)) != 0) {
      return Fail(ErrnoError("truncate", errno));  // sets the size past a trailing hole
    }
    HALLEY_RETURN_IF_ERROR(ApplyMetadataFd(f.fd.Get(), *f.node, false));
    HALLEY_ASSIGN_OR_RETURN(struct stat st, fs::Fstat(f.fd.Get()));
    f.inode = st.st_ino;
    f.fd.Reset();
    return dirs.With(f.dir,
                     [&](int dir_fd) { return Publish(dir_fd, TempName(f.tmp_id), f.node->name); });
  }();
  if (!done) {
    Discard(f, dirs);
    RecordError(DirPath(f.dir, f.node->name), done.error());
    return;
  }
  f.published = true;
  if (opts_.progress) opts_.progress->files_done++;
  std::lock_guard rl(result_mu_);
  result_.bytes += f.size;
}

Result<void> Restorer::RestorePack(const PackPlan& plan, DirCache& dirs) {
  // Read the pack in ranges covering runs of needed blobs with small gaps, so that a pack is
  // fetched in few requests without downloading much that is not needed.
  constexpr uint64_t kMaxGap = 1 << 20;
  constexpr uint64_t kMaxRange = 4 << 20;  // bounds each worker's read buffer
  size_t i = 0;
  while (i < plan.blobs.size()) {
    size_t j = i + 1;
    uint64_t start = plan.blobs[i].loc.offset;
    uint64_t end = start + plan.blobs[i].loc.length;
    while (j < plan.blobs.size() && plan.blobs[j].loc.offset <= end + kMaxGap &&
           end - start < kMaxRange) {
      end = std::max<uint64_t>(end, plan.blobs[j].loc.offset + uint64_t{plan.blobs[j].loc.length});
      ++j;
    }
    // Buffers reused pack after pack by this worker thread.
    thread_local Bytes buffer;
    thread_local repo::Repository::DecodeScratch scratch;
    if (buffer.size() < end - start) buffer.resize(end - start);
    ByteView bytes = ByteView(buffer).first(end - start);
    auto range = repo_.Store().ReadAt({storage::ObjectType::kData, plan.pack.Hex()}, start,
                                      MutableByteView(buffer).first(end - start));
    for (size_t k = i; k < j; ++k) {
      const BlobPlan& b = plan.blobs[k];
      Result<ByteView> data =
          range ? repo_.DecodeBlobInto(b.id, bytes.subspan(b.loc.offset - start, b.loc.length),
                                       b.loc.uncompressed_length, scratch)
                : Result<ByteView>(Fail(range.error()));
      if (!data) {
        Error e =
            data.error().WithContext("blob " + b.id.Short() + " in pack " + plan.pack.Short());
        for (const auto& p : b.places) {
          FileTarget& f = *files_[p.file];
          std::lock_guard lock(f.mu);
          if (f.failed) continue;
          Discard(f, dirs);
          RecordError(DirPath(f.dir, f.node->name), e);
        }
        continue;
      }
      for (const auto& p : b.places) HALLEY_RETURN_IF_ERROR(WriteBlob(*data, p, dirs));
    }
    i = j;
  }
  return {};
}

Result<void> Restorer::RestoreContents() {
  std::unordered_map<Id, size_t, IdHash> pack_index;
  std::vector<PackPlan> packs;
  size_t use = 0;
  for (size_t fi = 0; fi < files_.size(); ++fi) {
    FileTarget& f = *files_[fi];
    uint64_t offset = 0;
    for (const Id& id : *f.node->content) {
      auto loc = *repo_.GetIndex().Lookup(repo::BlobType::kData, id);
      auto [it, inserted] = pack_index.try_emplace(loc.pack, packs.size());
      if (inserted) packs.push_back(PackPlan{loc.pack, use, {}});
      ++use;
      packs[it->second].blobs.push_back(BlobPlan{id, loc, {{fi, offset}}});
      offset += loc.PlainSize();
      f.remaining++;
    }
  }
  for (auto& p : packs) {
    // In pack order; a blob that repeats (zero runs, duplicate files) sorts next to itself and
    // becomes one read serving every placement.
    std::sort(p.blobs.begin(), p.blobs.end(),
              [](const BlobPlan& a, const BlobPlan& b) { return a.loc.offset < b.loc.offset; });
    size_t kept = 0;
    for (size_t i = 0; i < p.blobs.size(); ++i) {
      if (kept > 0 && p.blobs[kept - 1].loc.offset == p.blobs[i].loc.offset) {
        auto& places = p.blobs[kept - 1].places;
        places.insert(places.end(), p.blobs[i].places.begin(), p.blobs[i].places.end());
      } else {
        if (kept != i) p.blobs[kept] = std::move(p.blobs[i]);
        ++kept;
      }
    }
    p.blobs.erase(p.blobs.begin() + static_cast<ptrdiff_t>(kept), p.blobs.end());
  }
  std::sort(packs.begin(), packs.end(),
            [](const PackPlan& a, const PackPlan& b) { return a.first_use < b.first_use; });

  DirCache& dirs = *dirs_cache_;
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  std::optional<Error> fatal;
  auto work = [&] {
    while (true) {
      if (opts_.stop.stop_requested()) {
        std::lock_guard lock(err_mu);
        if (!fatal) fatal = Error(ErrorCode::kCancelled, "restore interrupted");
        return;
      }
      size_t i = next++;
      if (i >= packs.size()) return;
      auto r = RestorePack(packs[i], dirs);
      if (!r) {
        std::lock_guard lock(err_mu);
        if (!fatal) fatal = r.error();
        return;
      }
    }
  };
  int n = opts_.workers > 0
              ? opts_.workers
              : 2 * std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::optional<DirectWriteQueue> queue;
  queue.emplace(2 * static_cast<size_t>(n), n);
  queue_ = &*queue;
  std::vector<std::thread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  queue.reset();  // completes the queued writes
  queue_ = nullptr;
  // Anything left open did not get all its blobs (cancelled or failed): remove the temp file.
  for (auto& f : files_) {
    std::lock_guard lock(f->mu);
    if (f->fd.Valid()) Discard(*f, dirs);
  }
  if (fatal) return Fail(*fatal);

  RestoreHardlinks(dirs);
  // Directory metadata last, deepest first: creating entries changes a directory's mtime.
  for (auto it = dir_meta_.rbegin(); it != dir_meta_.rend(); ++it) {
    auto r = dirs.With(it->first, [&](int fd) { return ApplyMetadataFd(fd, *it->second, true); });
    if (!r) RecordError(DirPath(it->first), r.error());
  }
  return {};
}

void Restorer::RestoreHardlinks(DirCache& dirs) {
  for (const auto& l : links_) {
    Leader& leader = hardlink_leaders_.at(l.key);
    if (leader.file != SIZE_MAX) {
      FileTarget& f = *files_[leader.file];
      std::lock_guard lock(f.mu);
      leader.ok = f.published;
      leader.inode = f.inode;
    }
    auto r = [&]() -> Result<void> {
      if (!leader.ok) {
        return Fail(ErrorCode::kNotFound, "not restored: the file it is a hardlink of (" +
                                              DirPath(leader.dir, leader.name) +
                                              ") was not restored");
      }
      return dirs.With(leader.dir, [&](int leader_fd) {
        return dirs.With(l.dir, [&](int dir_fd) -> Result<void> {
          // Link only to the inode this restore wrote: the name might have been replaced.
          struct stat st {};
          if (::fstatat(leader_fd, leader.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
              !S_ISREG(st.st_mode) || st.st_ino != leader.inode) {
            return Fail(ErrorCode::kAlreadyExists,
                        "not restored: " + DirPath(leader.dir, leader.name) +
                            " changed during the restore");
          }
          std::string tmp = TempName();
          if (::linkat(leader_fd, leader.name.c_str(), dir_fd, tmp.c_str(), 0) != 0) {
            return Fail(ErrnoError("link", errno));
          }
          return Publish(dir_fd, tmp, l.name);
        });
      });
    }();
    if (!r) {
      RecordError(l.path, r.error());
    } else {
      std::lock_guard lock(result_mu_);
      result_.files++;
    }
  }
}

Result<RestoreResult> Restorer::Run(const Id& root) {
  if (opts_.target.empty()) return Fail(ErrorCode::kInvalidArgument, "no target directory");
  HALLEY_ASSIGN_OR_RETURN(Node start, FindNode(repo_, root, opts_.path));
  // Create the target (and its parents) if needed; the target itself is the user's choice and
  // may be reached through symlinks.
  {
    std::string partial;
    for (const auto& part : SplitPath(opts_.target)) {
      partial += (partial.empty() && opts_.target[0] != '/' ? "" : "/") + part;
      if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
        return Fail(ErrnoError("create target " + partial, errno));
      }
    }
  }
  int fd = ::open(opts_.target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(ErrnoError("open target " + opts_.target, errno));
  fs::Fd root_fd(fd);

  dirs_.push_back({SIZE_MAX, ""});
  dirs_cache_ = std::make_unique<DirCache>(fd, dirs_);

  if (start.type == NodeType::kDir) {
    if (!start.subtree) return Fail(ErrorCode::kCorruption, "directory has no subtree");
    HALLEY_ASSIGN_OR_RETURN(snapshot::Tree tree, LoadTree(repo_, *start.subtree));
    trees_.push_back(std::make_unique<snapshot::Tree>(std::move(tree)));  // nodes outlive Walk
    HALLEY_RETURN_IF_ERROR(Walk(*trees_.back(), ""));
  } else {
    auto owned = std::make_unique<snapshot::Tree>();
    owned->nodes.push_back(start);
    trees_.push_back(std::move(owned));
    const Node& n = trees_.back()->nodes.back();
    if (!fs::IsSafeName(n.name)) {
      return Fail(ErrorCode::kCorruption, "refusing to restore an entry with an invalid name");
    }
    auto r = RestoreNode(n, 0, fd, "/" + n.name);
    if (!r) RecordError("/" + n.name, r.error());
  }
  HALLEY_RETURN_IF_ERROR(RestoreContents());
  return std::move(result_);
}

}  // namespace

Result<Overwrite> ParseOverwrite(const std::string& text) {
  if (text == "always") return Overwrite::kAlways;
  if (text == "if-newer") return Overwrite::kIfNewer;
  if (text == "if-different" || text == "if-changed") return Overwrite::kIfDifferent;
  if (text == "never") return Overwrite::kNever;
  return Fail(ErrorCode::kInvalidArgument,
              "invalid overwrite mode \"" + text + "\" (always, if-newer, if-different, never)");
}

Result<RestoreResult> Restore(repo::Repository& repo, const Id& root,
                              const RestoreOptions& options) {
  Restorer r(repo, options);
  return r.Run(root);
}

}  // namespace halley::engine
