// SPDX-License-Identifier: Apache-2.0
//
// The restorer: writes a snapshot (or a part of it) beneath a target directory.
//
// Snapshot metadata is hostile input (reliability.md G1, G2): every name is checked (no "",
// ".", "..", '/', NUL), every directory is entered with O_NOFOLLOW from a descriptor of the
// target, files are written under a temporary name and renamed into place, and symlinks are
// created, never followed. Nothing is ever written outside the target.
//
// File contents are restored pack by pack (each pack is read once, in parallel), which writes
// blobs to all the files that need them; runs of zero blocks are skipped, so that holes come
// back as holes and sparse files stay sparse.
// Directory metadata is applied last, deepest first.
#pragma once

#include <atomic>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "engine/filter.h"
#include "repo/repository.h"

namespace halley::engine {

enum class Overwrite {
  kAlways,       // replace existing files
  kIfNewer,      // replace if the snapshot's mtime is newer than the existing file's
  kIfDifferent,  // replace unless size and mtime are equal
  kNever,        // keep existing files
};
Result<Overwrite> ParseOverwrite(const std::string& text);  // always|if-newer|if-different|never

struct RestoreProgress {
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> bytes_done{0};
  std::atomic<uint64_t> total_files{0};
  std::atomic<uint64_t> total_bytes{0};
  std::atomic<uint64_t> errors{0};
};

struct RestoreOptions {
  std::string target;
  std::string path = "/";             // restore this path of the snapshot (its contents)
  std::vector<GlobPattern> includes;  // restore only matching items (and their parents)
  std::vector<GlobPattern> excludes;
  Overwrite overwrite = Overwrite::kAlways;
  bool restore_ownership = false;  // chown to the stored IDs (needs root)
  int workers = 0;                 // default: 2 per core (I/O overlaps decoding)
  // Files from this size on are written with O_DIRECT where the file system supports it (whole
  // pages only; the rest through the page cache).
  uint64_t direct_io_min_size = uint64_t{16} << 20;
  RestoreProgress* progress = nullptr;
  std::stop_token stop;
  std::function<void(const std::string& path, const Error& error)> on_error;
};

struct RestoreResult {
  uint64_t files = 0, dirs = 0, other = 0, bytes = 0, skipped = 0;
  std::vector<std::pair<std::string, Error>> errors;  // items not (fully) restored
};

// Restores `options.path` of the tree `root`. Returns an error only if nothing could be done
// (target unusable, path not in the snapshot, vault unreadable, cancelled); per-item failures
// are in RestoreResult::errors.
Result<RestoreResult> Restore(repo::Repository& repo, const Id& root,
                              const RestoreOptions& options);

}  // namespace halley::engine
