// SPDX-License-Identifier: Apache-2.0
//
// The archiver: backs up files and directories into a snapshot.
//
// Pipeline: the calling thread walks the source trees in name order, stats every entry and
// reads and chunks the files whose content changed (files unchanged since the parent snapshot
// by size, mtime, ctime and inode are not read unless rescan_unchanged is set). Each chunk goes
// to a pool of workers that hash it and hand it to Repository::SaveBlob (compress, encrypt,
// verify, pack), whose uploaders write packs in the background. Directories become tree blobs
// once all their files are done. Finally the repository is flushed (packs, then index) and only
// then the snapshot and its packindex are written.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "base/time.h"
#include "engine/filter.h"
#include "repo/lock.h"
#include "repo/repository.h"
#include "snapshot/snapshot.h"

namespace halley::engine {

// Live counters for a progress display; written by the backup, read by anyone.
struct BackupProgress {
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> dirs_done{0};
  std::atomic<uint64_t> bytes_done{0};   // of files processed (read or unchanged)
  std::atomic<uint64_t> bytes_read{0};   // actually read from disk
  std::atomic<uint64_t> total_files{0};  // from a scan running alongside the backup
  std::atomic<uint64_t> total_bytes{0};
  std::atomic<bool> scan_finished{false};
  std::atomic<uint64_t> errors{0};
};

struct BackupOptions {
  std::vector<std::string> paths;  // as given; relative ones are kept relative in the tree
  std::vector<std::string> tags;
  std::string hostname;  // default: this host
  const Filter* filter = nullptr;
  bool one_file_system = false;
  bool rescan_unchanged = false;
  std::optional<Id> parent;  // default: the latest snapshot of this host with these paths
  bool force_no_parent = false;
  int workers = 0;                  // default: one per core
  size_t memory_budget = 48 << 20;  // bytes of file data read but not yet packed
  std::optional<Time> time;         // default: now
  std::string program_version;
  const repo::VaultLock* lock = nullptr;  // checked before the snapshot is written
  BackupProgress* progress = nullptr;
  bool scan = false;  // count totals in a second thread (for an ETA)
  std::stop_token stop;
  // Called (from the walking thread) for each item that could not be read; the backup goes on
  // without it and the result lists it (exit code 3).
  std::function<void(const std::string& path, const Error& error)> on_error;
};

struct BackupResult {
  Id snapshot_id;
  snapshot::Snapshot snapshot;
  std::optional<Id> parent;
  std::vector<std::pair<std::string, Error>> errors;  // unreadable items
};

// Runs a backup. Fails (no snapshot written) on a vault error, cancellation (kCancelled) or
// when none of the paths exists; unreadable items only end up in BackupResult::errors.
Result<BackupResult> Backup(repo::Repository& repo, const BackupOptions& options);

}  // namespace halley::engine
