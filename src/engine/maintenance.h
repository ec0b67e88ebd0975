// SPDX-License-Identifier: Apache-2.0
//
// Repairs: rebuilding the index from pack headers (the spec's "Rebuild indexes") and rewriting
// snapshots around data that is gone (restic's `repair snapshots`). Both need an exclusive lock.
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "repo/repository.h"

namespace halley::engine {

struct RebuildIndexOptions {
  bool read_all_packs = false;  // ignore the existing index, read every pack header
  std::function<void(const std::string&)> log;
  std::stop_token stop;
};

struct RebuildIndexStats {
  uint64_t packs = 0;  // packs indexed now
  uint64_t headers_read = 0;
  uint64_t invalid_index_files = 0;
  uint64_t missing_packs_dropped = 0;
  uint64_t unreadable_packs = 0;  // header could not be read: left out of the index
  uint64_t index_files_written = 0, index_files_removed = 0;
};

// Writes a new index for the packs that exist: entries of the old index are kept for packs
// whose size matches (unless read_all_packs), every other pack is indexed from its header;
// packs that are gone are dropped. Then the old index files are removed and the repository's
// in-memory index reloaded. Only pack headers are read.
Result<RebuildIndexStats> RebuildIndex(repo::Repository& repo, const RebuildIndexOptions& options);

struct RepairSnapshotsOptions {
  std::vector<Id> snapshots;  // empty: all
  bool forget = false;        // remove the original snapshots afterwards
  bool dry_run = false;
  std::function<void(const std::string&)> log;
  std::stop_token stop;
};

struct RepairSnapshotsStats {
  uint64_t snapshots_checked = 0, snapshots_repaired = 0, snapshots_dropped = 0;
  uint64_t files_fixed = 0, dirs_replaced = 0, nodes_removed = 0;
  std::vector<std::pair<Id, Id>> rewritten;  // original -> repaired
};

// Rewrites every snapshot that references data the index does not have: file content lists
// lose the missing blobs (and their sizes are corrected), unreadable directories become empty
// ones, invalid nodes are removed. A repaired snapshot carries the tag "repaired" and
// `original`; a snapshot whose root tree is unreadable is dropped (only with `forget`).
Result<RepairSnapshotsStats> RepairSnapshots(repo::Repository& repo,
                                             const RepairSnapshotsOptions& options);

}  // namespace halley::engine
