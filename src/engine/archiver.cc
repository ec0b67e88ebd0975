// SPDX-License-Identifier: Apache-2.0
#include "engine/archiver.h"

#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <unordered_set>

#include "base/host.h"
#include "crypto/hash.h"
#include "engine/snapshots.h"
#include "engine/tree_prefetch.h"
#include "fs/fs.h"
#include "repo/packindex.h"
#include "snapshot/mode.h"
#include "snapshot/tree.h"

namespace halley::engine {
namespace {

using snapshot::Node;
using snapshot::NodeType;
using snapshot::Tree;

std::string ChildPath(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

constexpr size_t kReadBufferSize = 16 << 20;
// Parent trees decoded ahead of the walk, in JSON bytes: a few hundred typical directories.
constexpr uint64_t kPrefetchBytes = 4 << 20;

// Caps the bytes of file data held between reading and packing.
// Memory for file data read but not yet packed, within a budget. Requests above a quarter of
// kReadBufferSize get a whole kReadBufferSize buffer, kept for reuse when released (big files
// then cycle through the same few buffers instead of growing the heap); the budget counts the
// kept ones too, and frees them when smaller requests need the room.
// Smaller requests also share a budget of their own, kSmallReadBudget: a few thousand small
// files queued keep the workers busy, and tens of thousands (the whole budget) only spread
// through the heap among long-lived allocations, which made the peak RSS of a backup of small
// files swing between 70 and 140 MiB from run to run.
constexpr size_t kSmallReadBudget = kReadBufferSize / 2;  // two of the largest small requests

class ReadMemory {
 public:
  explicit ReadMemory(size_t limit) : limit_(limit) {}

  static size_t SizeFor(size_t n) { return n > kReadBufferSize / 4 ? kReadBufferSize : n; }

  // REQUIRES: n == SizeFor(n). Uninitialised: it is about to be overwritten by read().
  std::unique_ptr<uint8_t[]> Get(size_t n) {
    std::vector<std::unique_ptr<uint8_t[]>> freed;  // dropped outside the lock
    std::unique_lock lock(mu_);
    if (n == kReadBufferSize && !idle_.empty()) {
      auto b = std::move(idle_.back());
      idle_.pop_back();
      return b;  // counted already
    }
    if (n < kReadBufferSize) {
      // The caller may hold one small buffer itself; two always fit.
      cv_.wait(lock, [&] { return small_used_ == 0 || small_used_ + n <= kSmallReadBudget; });
      small_used_ += n;
    }
    // A request larger than the limit waits for an empty budget instead of forever.
    while (used_ != 0 && used_ + n > limit_) {
      if (idle_.empty()) {
        cv_.wait(lock);
        continue;
      }
      freed.push_back(std::move(idle_.back()));
      idle_.pop_back();
      used_ -= kReadBufferSize;
    }
    used_ += n;
    lock.unlock();
    freed.clear();  // before the new one: the budget is what is held
    return std::unique_ptr<uint8_t[]>(new uint8_t[n]);
  }

  void Put(std::unique_ptr<uint8_t[]> b, size_t n) {
    std::lock_guard lock(mu_);
    if (n == kReadBufferSize) {
      idle_.push_back(std::move(b));
    } else {
      used_ -= n;
      small_used_ -= n;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t limit_;
  size_t used_ = 0;                               // Guarded by mu_: in use and idle.
  size_t small_used_ = 0;                         // Guarded by mu_: the small ones in use.
  std::vector<std::unique_ptr<uint8_t[]>> idle_;  // Guarded by mu_.
};

// File data read from disk, shared by the chunks cut from it.
struct Buffer {
  Buffer(ReadMemory& m, size_t n) : memory(m), size(ReadMemory::SizeFor(n)), data(m.Get(size)) {}
  ~Buffer() { memory.Put(std::move(data), size); }
  ReadMemory& memory;
  size_t size;
  std::unique_ptr<uint8_t[]> data;
};

struct FileJob {
  std::deque<Id> content;  // stable element addresses: workers write through pointers
  std::atomic<int> pending{0};
  bool all_submitted = false;  // set by the walking thread once the file is read
  bool failed = false;         // read error; walking thread only
  uint64_t size = 0;           // bytes read
  bool Done() const { return all_submitted && pending.load() == 0; }
};

struct DirTask {
  std::vector<Node> nodes;
  std::vector<std::shared_ptr<FileJob>> files;  // parallel to nodes; null for non-files
  DirTask* parent = nullptr;                    // null for the root
  size_t parent_slot = 0;
  std::optional<Id> old_subtree;  // the same directory in the parent snapshot
  bool had_old = false;
  // old_subtree's tree, kept when no file had to be read: the directory may be unchanged.
  std::optional<Tree> old_tree;
  std::optional<Id> result;  // for the root
};

struct Chunk {
  std::shared_ptr<Buffer> buffer;
  size_t offset;
  size_t length;
  std::shared_ptr<FileJob> file;
  Id* slot;
};

// The attributes read, if they could be; an entry whose attributes cannot be listed keeps none.
void SetXattrs(Node& node, Result<std::vector<fs::Xattr>> read) {
  node.xattrs.clear();
  if (!read) return;
  for (auto& a : *read) node.xattrs.push_back({std::move(a.name), std::move(a.value)});
}

Time NodeTime(const struct timespec& ts) {
  return Time::Local(ts.tv_sec, static_cast<int32_t>(ts.tv_nsec));
}

class Archiver {
 public:
  Archiver(repo::Repository& repo, const BackupOptions& options)
      : repo_(repo),
        opts_(options),
        // The walker holds one buffer while it fills the next: the budget must fit two.
        read_memory_(std::max(options.memory_budget, 2 * kReadBufferSize + 1)) {}

  Result<BackupResult> Run();

 private:
  struct Target {
    std::vector<std::string> tree_path;  // components in the snapshot tree
    std::string abs_path;
  };

  // Walking thread.
  Result<void> ProcessTargets(const std::vector<Target>& targets, const Id* parent_root);
  Result<void> ProcessDirContents(const std::string& abs_path, DirTask& task, const Tree* old_tree,
                                  dev_t root_dev);
  Result<void> ProcessEntries(const std::string& abs_path, DirTask& task,
                              const std::vector<fs::DirEntry>& entries, const Tree* old_tree,
                              dev_t root_dev);
  // Adds the entry `name` at `abs_path` (lstat `st`) to `task`. Errors reading the entry are
  // recorded and the entry skipped; only vault errors are returned.
  // `descend` false: a directory is stored without its contents (a mount point under
  // one_file_system).
  Result<void> AddEntry(DirTask& task, const std::string& abs_path, const std::string& name,
                        const struct stat& st, const Node* old, dev_t root_dev,
                        bool descend = true);
  // `old`: the entry in the parent snapshot, if any.
  Node MakeNode(const std::string& abs_path, const std::string& name, const struct stat& st,
                const Node* old);
  // Chunks the file and fills `node.xattrs` from the open descriptor.
  Result<void> ReadFile(const std::string& abs_path, Node& node, FileJob& job,
                        const std::shared_ptr<FileJob>& shared, bool& read_error);
  void Submit(Chunk chunk);
  void PushDir(std::unique_ptr<DirTask> task);
  static void KeepIfUnread(DirTask& task, std::optional<Tree> old_tree);
  Result<void> FinalizeReady(bool wait_all);
  Result<void> Finalize(DirTask& task);
  void RecordError(const std::string& path, const Error& e);
  Result<std::optional<Tree>> LoadOldTree(const std::optional<Id>& id);
  Result<void> CheckStop() const;
  Result<void> WorkerError() const;

  // Workers.
  void WorkerLoop();

  repo::Repository& repo_;
  const BackupOptions& opts_;
  ReadMemory read_memory_;
  std::unique_ptr<chunker::Chunker> chunker_;
  std::optional<TreePrefetcher> prefetch_;  // with a parent snapshot
  fs::NameCache names_;
  BackupResult result_;
  snapshot::SnapshotSummary summary_;
  std::unordered_set<Id, IdHash> used_packs_;
  std::deque<std::unique_ptr<DirTask>> ready_;  // post-order; front finalizes first

  mutable std::mutex mu_;
  std::condition_variable work_cv_;    // workers wait for chunks
  std::condition_variable done_cv_;    // the walker waits for finished chunks
  std::deque<Chunk> queue_;            // Guarded by mu_.
  bool stopping_ = false;              // Guarded by mu_.
  std::optional<Error> worker_error_;  // Guarded by mu_.
  std::vector<std::thread> workers_;
};

void Archiver::RecordError(const std::string& path, const Error& e) {
  result_.errors.emplace_back(path, e);
  if (opts_.progress) opts_.progress->errors++;
  if (opts_.on_error) opts_.on_error(path, e);
}

Result<void> Archiver::CheckStop() const {
  if (opts_.stop.stop_requested()) return Fail(ErrorCode::kCancelled, "backup interrupted");
  return WorkerError();
}

Result<void> Archiver::WorkerError() const {
  std::lock_guard lock(mu_);
  if (worker_error_) return Fail(*worker_error_);
  return {};
}

void Archiver::WorkerLoop() {
  while (true) {
    Chunk c;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      c = std::move(queue_.front());
      queue_.pop_front();
    }
    ByteView data(c.buffer->data.get() + c.offset, c.length);
    Id id = crypto::Sha256(data);
    auto saved = repo_.SaveBlob(repo::BlobType::kData, id, data);
    *c.slot = id;
    c.buffer.reset();  // give the memory back before signalling
    {
      std::lock_guard lock(mu_);
      if (!saved && !worker_error_) worker_error_ = saved.error();
      c.file->pending--;
    }
    done_cv_.notify_all();
  }
}

void Archiver::Submit(Chunk chunk) {
  chunk.file->pending++;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(chunk));
  }
  work_cv_.notify_one();
}

Result<void> Archiver::ReadFile(const std::string& abs_path, Node& node, FileJob& job,
                                const std::shared_ptr<FileJob>& shared, bool& read_error) {
  auto fd = fs::OpenForReading(abs_path);
  if (!fd) {
    read_error = true;
    RecordError(abs_path, fd.error());
    return {};
  }
  auto fst = fs::Fstat(fd->Get());
  if (!fst || !S_ISREG(fst->st_mode)) {
    read_error = true;
    RecordError(abs_path,
                Error(ErrorCode::kIoError, "open " + abs_path + ": no longer a regular file"));
    return {};
  }
  SetXattrs(node, fs::ReadXattrs(fd->Get(), abs_path));
  chunker_->Reset();
  const uint64_t expected = static_cast<uint64_t>(fst->st_size);
  std::shared_ptr<Buffer> buf;
  size_t carry_from = 0, carry_len = 0;  // the unfinished chunk at the end of `buf`
  uint64_t total = 0;
  while (true) {
    HALLEY_RETURN_IF_ERROR(CheckStop());
    // Size the buffer for what is left (plus the carried bytes); small files get small buffers.
    uint64_t left = expected > total ? expected - total : 0;
    // One byte more than expected, so that a short read tells end of file without another call.
    size_t want = static_cast<size_t>(std::min<uint64_t>(kReadBufferSize - carry_len, left + 1));
    auto next = std::make_shared<Buffer>(read_memory_, carry_len + want);
    if (carry_len) std::memcpy(next->data.get(), buf->data.get() + carry_from, carry_len);
    buf = std::move(next);
    auto n = fs::ReadFull(fd->Get(), buf->data.get() + carry_len, want);
    if (!n) {
      read_error = true;
      RecordError(abs_path, n.error().WithContext("read " + abs_path));
      return {};
    }
    total += *n;
    if (opts_.progress) opts_.progress->bytes_read += *n;
    size_t end = carry_len + *n;
    size_t chunk_start = 0;
    size_t scan = carry_len;
    while (scan < end) {
      auto cut = chunker_->FindBoundary(ByteView(buf->data.get() + scan, end - scan));
      if (!cut) break;
      size_t chunk_end = scan + *cut;
      job.content.emplace_back();
      Submit({buf, chunk_start, chunk_end - chunk_start, shared, &job.content.back()});
      chunk_start = scan = chunk_end;
    }
    carry_from = chunk_start;
    carry_len = end - chunk_start;
    if (*n < want) break;  // end of file
  }
  if (carry_len > 0) {
    job.content.emplace_back();
    Submit({buf, carry_from, carry_len, shared, &job.content.back()});
  }
  job.size = total;
  return {};
}

Node Archiver::MakeNode(const std::string& abs_path, const std::string& name, const struct stat& st,
                        const Node* old) {
  Node n;
  n.name = name;
  n.type = snapshot::NodeTypeFromPosix(st.st_mode);
  n.mode = snapshot::GoModeFromPosix(st.st_mode);
  n.mtime = NodeTime(st.st_mtim);
  n.atime = NodeTime(st.st_atim);
  n.ctime = NodeTime(st.st_ctim);
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  n.user = names_.User(st.st_uid);
  n.group = names_.Group(st.st_gid);
  n.inode = st.st_ino;
  n.device_id = st.st_dev;
  n.links = st.st_nlink;
  if (n.type == NodeType::kFile) n.size = static_cast<uint64_t>(st.st_size);
  if (n.type == NodeType::kDev || n.type == NodeType::kCharDev) n.device = st.st_rdev;
  if (n.type == NodeType::kSymlink) {
    auto target = fs::ReadLink(abs_path);
    if (target) {
      n.linktarget = *target;
    } else {
      n.error = target.error().Message();
    }
  }
  // Setting or removing an extended attribute changes the inode's ctime, so an entry whose inode
  // and ctime are those of the parent snapshot's has the attributes recorded there. A regular
  // file otherwise gets them in ReadFile, from the descriptor it reads. Looking up every whole
  // path once more took a fifth of an unchanged backup of small files.
  if (old && !opts_.rescan_unchanged && old->type == n.type && old->inode == n.inode &&
      old->ctime == n.ctime) {
    n.xattrs = old->xattrs;
  } else if (n.type != NodeType::kFile) {
    SetXattrs(n, fs::ReadXattrs(abs_path));
  }
  return n;
}

Result<std::optional<Tree>> Archiver::LoadOldTree(const std::optional<Id>& id) {
  if (!id) return std::optional<Tree>();
  std::optional<Result<Tree>> prefetched;
  if (prefetch_) prefetched = prefetch_->Take(*id);
  Result<Tree> t = prefetched ? std::move(*prefetched) : LoadTree(repo_, *id);
  if (!t) {
    // A damaged parent only costs us the change detection.
    if (t.error().Code() == ErrorCode::kCorruption || t.error().Code() == ErrorCode::kNotFound) {
      return std::optional<Tree>();
    }
    return Fail(t.error());
  }
  return std::optional<Tree>(std::move(*t));
}

const Node* FindOld(const Tree* tree, const std::string& name) {
  if (tree == nullptr) return nullptr;
  auto it = std::lower_bound(tree->nodes.begin(), tree->nodes.end(), name,
                             [](const Node& n, const std::string& s) { return n.name < s; });
  if (it == tree->nodes.end() || it->name != name) return nullptr;
  return &*it;
}

bool Unchanged(const Node& now, const Node& old) {
  return old.type == NodeType::kFile && old.content && now.size == old.size &&
         now.mtime == old.mtime && now.ctime == old.ctime && now.inode == old.inode;
}

Result<void> Archiver::AddEntry(DirTask& task, const std::string& abs_path, const std::string& name,
                                const struct stat& st, const Node* old, dev_t root_dev,
                                bool descend) {
  HALLEY_RETURN_IF_ERROR(CheckStop());
  Node node = MakeNode(abs_path, name, st, old);
  if (node.type == NodeType::kDir) {
    auto child = std::make_unique<DirTask>();
    child->parent = &task;
    child->parent_slot = task.nodes.size();
    if (old && old->type == NodeType::kDir) {
      child->old_subtree = old->subtree;
      child->had_old = true;
    }
    task.nodes.push_back(std::move(node));
    task.files.push_back(nullptr);
    if (descend) {
      HALLEY_ASSIGN_OR_RETURN(auto old_tree, LoadOldTree(child->old_subtree));
      HALLEY_RETURN_IF_ERROR(
          ProcessDirContents(abs_path, *child, old_tree ? &*old_tree : nullptr, root_dev));
      KeepIfUnread(*child, std::move(old_tree));
    }
    PushDir(std::move(child));
    if (opts_.progress) opts_.progress->dirs_done++;
    // An unchanged directory starts no file job: write its tree now, not at the end, so that
    // memory holds the directories being walked rather than every node of the backup.
    return FinalizeReady(false);
  }
  if (node.type != NodeType::kFile) {
    task.nodes.push_back(std::move(node));
    task.files.push_back(nullptr);
    return {};
  }

  summary_.total_files_processed++;
  summary_.total_bytes_processed += node.size;
  if (!opts_.rescan_unchanged && old && Unchanged(node, *old)) {
    bool all_known = true;
    for (const Id& id : *old->content) {
      if (!repo_.GetIndex().Has(repo::BlobType::kData, id)) {
        all_known = false;
        break;
      }
    }
    if (all_known) {
      node.content = old->content;
      summary_.files_unmodified++;
      if (opts_.progress) {
        opts_.progress->files_done++;
        opts_.progress->bytes_done += node.size;
      }
      task.nodes.push_back(std::move(node));
      task.files.push_back(nullptr);
      return {};
    }
  }
  auto job = std::make_shared<FileJob>();
  bool read_error = false;
  HALLEY_RETURN_IF_ERROR(ReadFile(abs_path, node, *job, job, read_error));
  job->all_submitted = true;
  if (read_error) {
    job->failed = true;
    summary_.total_files_processed--;
    summary_.total_bytes_processed -= node.size;
    // Chunks already handed out still finish; the node is dropped at finalization.
  } else {
    node.size = job->size;
    (old ? summary_.files_changed : summary_.files_new)++;
  }
  if (opts_.progress) {
    opts_.progress->files_done++;
    opts_.progress->bytes_done += node.size;
  }
  task.nodes.push_back(std::move(node));
  task.files.push_back(std::move(job));
  return FinalizeReady(false);
}

Result<void> Archiver::ProcessDirContents(const std::string& abs_path, DirTask& task,
                                          const Tree* old_tree, dev_t root_dev) {
  auto entries = fs::ListDirectoryWithStat(abs_path, [&](const std::string& name) {
    return !opts_.filter || !opts_.filter->Excluded(ChildPath(abs_path, name));
  });
  if (!entries) {
    RecordError(abs_path, entries.error());
    return {};  // the directory is kept, empty, with its metadata
  }
  // The subdirectories' old trees, decoded on the prefetcher's thread while this one walks.
  std::vector<Id> wanted;
  if (prefetch_ && old_tree) {
    for (const Node& n : old_tree->nodes) {
      if (n.type == NodeType::kDir && n.subtree) wanted.push_back(*n.subtree);
    }
    for (const Id& id : wanted) prefetch_->Want(id);
  }
  const Result<void> walked = ProcessEntries(abs_path, task, *entries, old_tree, root_dev);
  for (const Id& id : wanted) prefetch_->Forget(id);  // those the walk did not take
  return walked;
}

Result<void> Archiver::ProcessEntries(const std::string& abs_path, DirTask& task,
                                      const std::vector<fs::DirEntry>& entries,
                                      const Tree* old_tree, dev_t root_dev) {
  for (const auto& [name, st] : entries) {
    std::string child = ChildPath(abs_path, name);
    if (!st) {
      if (st.error().Code() != ErrorCode::kNotFound) RecordError(child, st.error());
      continue;  // vanished since the listing
    }
    // Another file system: keep the mount point (as restic does), not what is mounted there.
    bool other_fs = opts_.one_file_system && st->st_dev != root_dev;
    if (other_fs && !S_ISDIR(st->st_mode)) continue;
    HALLEY_RETURN_IF_ERROR(
        AddEntry(task, child, name, *st, FindOld(old_tree, name), root_dev, !other_fs));
  }
  return {};
}

void Archiver::PushDir(std::unique_ptr<DirTask> task) { ready_.push_back(std::move(task)); }

void Archiver::KeepIfUnread(DirTask& task, std::optional<Tree> old_tree) {
  if (!old_tree || old_tree->nodes.size() != task.nodes.size()) return;
  for (const auto& f : task.files) {
    if (f) return;
  }
  task.old_tree = std::move(old_tree);
}

Result<void> Archiver::Finalize(DirTask& task) {
  Tree tree;
  tree.nodes.reserve(task.nodes.size());
  for (size_t i = 0; i < task.nodes.size(); ++i) {
    Node& n = task.nodes[i];
    if (const auto& job = task.files[i]) {
      if (job->failed) continue;
      n.content = std::vector<Id>(job->content.begin(), job->content.end());
    }
    if (n.type == NodeType::kFile && !n.content) n.content = std::vector<Id>();
    if (n.content) {
      for (const Id& id : *n.content) {
        if (auto loc = repo_.GetIndex().Lookup(repo::BlobType::kData, id)) {
          used_packs_.insert(loc->pack);
        }
      }
    }
    tree.nodes.push_back(std::move(n));
  }
  // Entries all as the parent snapshot recorded them make the tree it stored: take its ID
  // instead of encoding and hashing the same nodes again (a seventh of an unchanged backup of
  // small files). Equal nodes encode the same but for spelling, such as a time's zone offset.
  const bool same = task.old_tree && task.old_tree->nodes == tree.nodes &&
                    repo_.GetIndex().Has(repo::BlobType::kTree, *task.old_subtree);
  task.old_tree.reset();
  Id id;
  if (same) {
    id = *task.old_subtree;
  } else {
    HALLEY_ASSIGN_OR_RETURN(std::string json, snapshot::EncodeTree(tree));
    id = crypto::Sha256(AsBytes(json));
    HALLEY_RETURN_IF_ERROR(repo_.SaveBlob(repo::BlobType::kTree, id, AsBytes(json)));
  }
  if (auto loc = repo_.GetIndex().Lookup(repo::BlobType::kTree, id)) used_packs_.insert(loc->pack);
  if (task.had_old) {
    (task.old_subtree == id ? summary_.dirs_unmodified : summary_.dirs_changed)++;
  } else {
    summary_.dirs_new++;
  }
  if (task.parent) {
    task.parent->nodes[task.parent_slot].subtree = id;
  } else {
    task.result = id;
  }
  return {};
}

bool TaskDone(const DirTask& t) {
  for (const auto& f : t.files) {
    if (f && !f->Done()) return false;
  }
  return true;
}

Result<void> Archiver::FinalizeReady(bool wait_all) {
  while (!ready_.empty()) {
    DirTask& front = *ready_.front();
    if (!TaskDone(front)) {
      if (!wait_all) return {};
      std::unique_lock lock(mu_);
      done_cv_.wait(lock, [&] { return worker_error_.has_value() || TaskDone(front); });
      if (worker_error_) return Fail(*worker_error_);
      continue;
    }
    HALLEY_RETURN_IF_ERROR(Finalize(front));
    if (front.parent != nullptr)
      ready_.pop_front();
    else
      return {};  // the root stays for Run() to read
  }
  return {};
}

Result<void> Archiver::ProcessTargets(const std::vector<Target>& targets, const Id* parent_root) {
  // The snapshot tree holds each target under its path components; the directories above a
  // target are stored with the metadata of the real directories but only the listed children.
  struct VDir {
    std::map<std::string, std::unique_ptr<VDir>> children;
    std::string abs_path;
    bool is_target = false;
  };
  VDir root;
  for (const auto& t : targets) {
    VDir* cur = &root;
    // The real path of each prefix: the target's path minus the components below it.
    auto abs_parts = SplitPath(t.abs_path);
    size_t skip = abs_parts.size() - t.tree_path.size();
    std::string abs;
    for (size_t i = 0; i < skip; ++i) abs += "/" + abs_parts[i];
    for (const auto& part : t.tree_path) {
      abs += "/" + part;
      auto& slot = cur->children[part];
      if (!slot) slot = std::make_unique<VDir>();
      slot->abs_path = abs;
      cur = slot.get();
    }
    cur->is_target = true;
  }

  std::function<Result<void>(VDir&, DirTask&, const Tree*)> walk =
      [&](VDir& v, DirTask& task, const Tree* old_tree) -> Result<void> {
    for (auto& [name, child] : v.children) {
      auto st = fs::Lstat(child->abs_path);
      if (!st) {
        RecordError(child->abs_path, st.error());
        continue;
      }
      const Node* old = FindOld(old_tree, name);
      if (child->is_target) {
        HALLEY_RETURN_IF_ERROR(AddEntry(task, child->abs_path, name, *st, old, st->st_dev));
        continue;
      }
      Node node = MakeNode(child->abs_path, name, *st, old);
      if (node.type != NodeType::kDir) {
        RecordError(child->abs_path,
                    Error(ErrorCode::kInvalidArgument, child->abs_path + " is not a directory"));
        continue;
      }
      auto sub = std::make_unique<DirTask>();
      sub->parent = &task;
      sub->parent_slot = task.nodes.size();
      if (old && old->type == NodeType::kDir) {
        sub->old_subtree = old->subtree;
        sub->had_old = true;
      }
      task.nodes.push_back(std::move(node));
      task.files.push_back(nullptr);
      HALLEY_ASSIGN_OR_RETURN(auto old_sub, LoadOldTree(sub->old_subtree));
      HALLEY_RETURN_IF_ERROR(walk(*child, *sub, old_sub ? &*old_sub : nullptr));
      KeepIfUnread(*sub, std::move(old_sub));
      PushDir(std::move(sub));
    }
    return {};
  };

  auto root_task = std::make_unique<DirTask>();
  DirTask& root_ref = *root_task;
  std::optional<Id> old_root;
  if (parent_root) {
    old_root = *parent_root;
    root_task->old_subtree = old_root;
    root_task->had_old = true;
  }
  HALLEY_ASSIGN_OR_RETURN(auto old_tree, LoadOldTree(old_root));
  const Tree* old_ptr = old_tree ? &*old_tree : nullptr;
  if (targets.size() == 1 && targets[0].tree_path.empty()) {
    // "/" or ".": the target's contents are the root of the snapshot.
    auto st = fs::Lstat(targets[0].abs_path);
    if (!st) return Fail(st.error());
    HALLEY_RETURN_IF_ERROR(ProcessDirContents(targets[0].abs_path, root_ref, old_ptr, st->st_dev));
  } else {
    HALLEY_RETURN_IF_ERROR(walk(root, root_ref, old_ptr));
  }
  KeepIfUnread(root_ref, std::move(old_tree));
  PushDir(std::move(root_task));
  return FinalizeReady(true);
}

// Lexically normalises a path: no "." components, no repeated or trailing '/', ".." applied.
std::string CleanPath(const std::string& p) {
  bool abs = !p.empty() && p[0] == '/';
  std::vector<std::string> out;
  for (auto& part : SplitPath(p)) {
    if (part == ".") continue;
    if (part == "..") {
      if (!out.empty() && out.back() != "..") {
        out.pop_back();
        continue;
      }
      if (abs) continue;  // "/.." is "/"
    }
    out.push_back(part);
  }
  std::string s = abs ? "/" : "";
  for (size_t i = 0; i < out.size(); ++i) s += (i ? "/" : "") + out[i];
  return s.empty() ? "." : s;
}

Result<BackupResult> Archiver::Run() {
  if (opts_.paths.empty()) return Fail(ErrorCode::kInvalidArgument, "no paths to back up");
  std::string cwd;
  {
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr) return Fail(ErrnoError("getcwd", errno));
    cwd = buf;
  }
  std::vector<Target> targets;
  std::vector<std::string> snapshot_paths;
  for (const auto& p : opts_.paths) {
    if (p.empty()) return Fail(ErrorCode::kInvalidArgument, "empty path");
    std::string clean = CleanPath(p);
    Target t;
    if (clean[0] == '/') {
      t.abs_path = clean;
      t.tree_path = SplitPath(clean);
    } else {
      t.abs_path = CleanPath(cwd + "/" + clean);
      t.tree_path = clean.rfind("..", 0) == 0 ? SplitPath(t.abs_path) : SplitPath(clean);
      if (clean == ".") t.tree_path.clear();
    }
    snapshot_paths.push_back(t.abs_path);
    targets.push_back(std::move(t));
  }
  for (const auto& t : targets) {
    if (t.tree_path.empty() && targets.size() > 1) {
      return Fail(ErrorCode::kInvalidArgument,
                  "\"/\" or \".\" cannot be combined with other paths");
    }
  }
  std::sort(snapshot_paths.begin(), snapshot_paths.end());
  std::sort(targets.begin(), targets.end(),
            [](const Target& a, const Target& b) { return a.tree_path < b.tree_path; });
  for (size_t i = 1; i < targets.size(); ++i) {
    const auto& a = targets[i - 1].tree_path;
    const auto& b = targets[i].tree_path;
    if (b.size() >= a.size() && std::equal(a.begin(), a.end(), b.begin())) {
      return Fail(ErrorCode::kInvalidArgument,
                  "path " + targets[i].abs_path + " is inside another path given");
    }
  }
  // Every target missing is an error, not an empty snapshot.
  size_t present = 0;
  for (const auto& t : targets) {
    if (fs::Lstat(t.abs_path)) ++present;
  }
  if (present == 0) {
    return Fail(ErrorCode::kNotFound,
                "none of the paths to back up exists (" + targets.front().abs_path + ")");
  }

  std::string hostname = opts_.hostname.empty() ? Hostname() : opts_.hostname;
  std::optional<SnapshotEntry> parent;
  if (opts_.parent) {
    HALLEY_ASSIGN_OR_RETURN(auto p, FindSnapshot(repo_, opts_.parent->Hex()));
    parent = std::move(p);
  } else if (!opts_.force_no_parent) {
    std::vector<Error> ignored;
    HALLEY_ASSIGN_OR_RETURN(auto all, ListSnapshots(repo_, &ignored));
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      auto paths = it->snapshot.paths;
      std::sort(paths.begin(), paths.end());
      if (it->snapshot.hostname == hostname && paths == snapshot_paths) {
        parent = *it;
        break;
      }
    }
  }

  Time start = Clock::System().NowTime();
  summary_.backup_start = start;
  const repo::WriteStats stats_before = repo_.Stats();
  chunker_ = repo_.GetConfig().NewChunker();
  int n_workers = opts_.workers > 0
                      ? opts_.workers
                      : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < n_workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  std::jthread scanner;
  if (opts_.scan && opts_.progress) {
    scanner = std::jthread([this, targets](std::stop_token st) {
      // Idle priority: from a cold cache the scan runs while the walk waits for the disk and
      // warms the metadata ahead of it; with everything cached it only takes cores nobody
      // else wants, instead of slowing the walk it duplicates.
      sched_param idle{};
      ::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &idle);
      std::function<void(const std::string&, const struct stat&)> scan =
          [&](const std::string& path, const struct stat& s) {
            if (S_ISREG(s.st_mode)) {
              opts_.progress->total_files++;
              opts_.progress->total_bytes += static_cast<uint64_t>(s.st_size);
            }
            if (!S_ISDIR(s.st_mode) || st.stop_requested()) return;
            auto entries = fs::ListDirectoryWithStat(path, [&](const std::string& name) {
              return !opts_.filter || !opts_.filter->Excluded(ChildPath(path, name));
            });
            if (!entries) return;
            for (const auto& e : *entries) {
              if (e.st) scan(ChildPath(path, e.name), *e.st);
            }
          };
      for (const auto& t : targets) {
        if (auto s = fs::Lstat(t.abs_path)) scan(t.abs_path, *s);
      }
      opts_.progress->scan_finished = true;
    });
  }

  Id parent_root;
  if (parent) {
    parent_root = parent->snapshot.tree;
    prefetch_.emplace(repo_, kPrefetchBytes);
  }
  auto walked = ProcessTargets(targets, parent ? &parent_root : nullptr);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  if (scanner.joinable()) scanner.request_stop();
  if (walked && opts_.stop.stop_requested()) {
    walked = Fail(ErrorCode::kCancelled, "backup interrupted");
  }
  if (!walked) {
    (void)repo_.Flush();  // index what was uploaded, so that the next run resumes cheaply
    return Fail(walked.error());
  }
  HALLEY_RETURN_IF_ERROR(repo_.Flush());
  if (opts_.lock) HALLEY_RETURN_IF_ERROR(opts_.lock->CheckValid());

  const DirTask& root_task = *ready_.front();
  HALLEY_CHECK(root_task.result.has_value());
  repo::WriteStats ws = repo_.Stats();
  summary_.data_blobs = ws.data_blobs - stats_before.data_blobs;
  summary_.tree_blobs = ws.tree_blobs - stats_before.tree_blobs;
  summary_.data_added = ws.data_added - stats_before.data_added;
  summary_.data_added_packed = ws.data_added_packed - stats_before.data_added_packed;
  summary_.backup_end = Clock::System().NowTime();

  snapshot::Snapshot snap;
  snap.time = opts_.time ? *opts_.time : start;
  if (parent) snap.parent = parent->id;
  snap.tree = *root_task.result;
  snap.paths = snapshot_paths;
  snap.hostname = hostname;
  snap.username = Username();
  snap.uid = ::geteuid();
  snap.gid = ::getegid();
  if (opts_.filter) snap.excludes = opts_.filter->ExcludeTexts();
  snap.tags = opts_.tags;
  snap.program_version = opts_.program_version;
  snap.summary = summary_;
  HALLEY_ASSIGN_OR_RETURN(Id snap_id, repo_.SaveUnpacked(storage::ObjectType::kSnapshot,
                                                         snapshot::EncodeSnapshot(snap)));
  // The packindex comes after the snapshot it describes: without it only retention is slower.
  repo::PackIndex pi;
  pi.snapshot = snap_id;
  for (const Id& p : repo_.WrittenPacks(stats_before.packs)) used_packs_.insert(p);
  pi.packs.assign(used_packs_.begin(), used_packs_.end());
  (void)repo_.SaveUnpacked(storage::ObjectType::kPackIndex, repo::EncodePackIndex(pi));

  result_.snapshot_id = snap_id;
  result_.snapshot = std::move(snap);
  if (parent) result_.parent = parent->id;
  return std::move(result_);
}

}  // namespace

Result<BackupResult> Backup(repo::Repository& repo, const BackupOptions& options) {
  Archiver a(repo, options);
  return a.Run();
}

}  // namespace halley::engine
