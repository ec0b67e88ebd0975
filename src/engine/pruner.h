// SPDX-License-Identifier: Apache-2.0
//
// The pruner: removes data that no snapshot references (restic.md §4.3).
//
// It finds the blobs still in use, classifies every pack (keep, remove, repack), and then
// deletes in two phases, each of which leaves a valid vault if the process dies:
//   1. copy the used blobs out of the packs to repack into new packs; write an index that
//      lists only the packs that stay plus the new ones, then remove the old index files;
//      rewrite the packindex of every snapshot that named a pack going away;
//   2. delete the packs that no index lists any more.
// Killed during phase 1, the vault holds extra copies (duplicates, orphan packs); killed
// during phase 2, orphan packs. Either way the next prune finishes the job. Nothing is deleted
// if a blob some snapshot needs is missing.
//
// The caller holds an exclusive lock. Prune reloads the repository's index at the start and at
// the end, so that it both decides on and leaves behind what the index files say.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "base/error.h"
#include "repo/lock.h"
#include "repo/repository.h"

namespace halley::engine {

// How much unused space may remain after prune: a share of the vault ("5%"), a size ("1G") or
// no limit ("unlimited": only packs with nothing in use are removed).
struct MaxUnused {
  enum class Kind { kPercent, kBytes, kUnlimited };
  Kind kind = Kind::kPercent;
  double percent = 5;
  uint64_t bytes = 0;
  static Result<MaxUnused> Parse(const std::string& text);
};

// "100", "10K", "5M", "2G", "1T" (binary units).
Result<uint64_t> ParseSize(const std::string& text);

struct PruneOptions {
  MaxUnused max_unused;
  std::optional<uint64_t> max_repack_bytes;
  bool dry_run = false;
  // Find unused packs from the snapshots' packindex files instead of walking every tree, when
  // every snapshot has one. Only whole packs can be found this way (nothing is repacked).
  bool packindex_fast_path = false;
  const repo::VaultLock* lock = nullptr;  // checked before anything is deleted
  std::stop_token stop;
  std::function<void(const std::string&)> log;  // progress lines
};

struct PruneStats {
  bool walked_trees = false;  // false: the packindex fast path was used
  uint64_t snapshots = 0;
  uint64_t packs = 0;  // packs in the index
  uint64_t used_blobs = 0, used_bytes = 0;
  uint64_t unused_blobs = 0, unused_bytes = 0;  // includes duplicates
  uint64_t duplicate_blobs = 0, duplicate_bytes = 0;
  uint64_t remove_packs = 0, remove_bytes = 0;           // nothing in use
  uint64_t repack_packs = 0, repack_bytes = 0;           // partly in use
  uint64_t repacked_blobs = 0, repacked_blob_bytes = 0;  // copied out of them
  uint64_t orphan_packs = 0, orphan_bytes = 0;           // in no index
  uint64_t missing_unused_packs = 0;                     // indexed, absent, not needed
  uint64_t packindex_written = 0, packindex_removed = 0;
  uint64_t index_files_written = 0, index_files_removed = 0;
  uint64_t unused_after = 0;  // bytes left unused after prune
};

// Plans and (unless dry_run) carries out a prune. Errors: kCorruption naming the snapshots
// that depend on missing data ("<snapshot/1234abcd> depends on missing [...]") before anything
// is deleted; kLocked if the lock was lost; storage errors.
Result<PruneStats> Prune(repo::Repository& repo, const PruneOptions& options);

}  // namespace halley::engine
