// SPDX-License-Identifier: Apache-2.0
//
// Snapshot documents (the plaintext of files under snapshots/), as restic writes them: compact
// encoding/json output of restic's Snapshot struct (internal/data/snapshot.go), fields in the
// order time, parent, tree, paths, hostname, username, uid, gid, excludes, tags, original,
// program_version, summary, with its omitempty rules. restic 0.14 writes only the fields up to
// "original" and ignores the later ones, which appeared in 0.16 (program_version) and 0.17
// (summary).
//
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "base/time.h"

namespace halley::snapshot {

// Statistics of the backup run that made the snapshot (restic 0.17+).
struct SnapshotSummary {
  Time backup_start, backup_end;
  uint64_t files_new = 0, files_changed = 0, files_unmodified = 0;
  uint64_t dirs_new = 0, dirs_changed = 0, dirs_unmodified = 0;
  uint64_t data_blobs = 0, tree_blobs = 0;
  uint64_t data_added = 0;         // bytes before compression
  uint64_t data_added_packed = 0;  // bytes as stored
  uint64_t total_files_processed = 0, total_bytes_processed = 0;

  bool operator==(const SnapshotSummary&) const = default;
};

struct Snapshot {
  Time time;                 // written with its UTC offset
  std::optional<Id> parent;  // "parent", omitted if none; a hint only
  Id tree;                   // the root tree
  std::vector<std::string> paths;
  std::string hostname, username;           // omitted when empty
  uint32_t uid = 0, gid = 0;                // omitted when 0
  std::vector<std::string> excludes, tags;  // omitted when empty
  std::optional<Id> original;   // the first version of a snapshot whose metadata was rewritten
  std::string program_version;  // e.g. "restic 0.18.1"; omitted when empty
  std::optional<SnapshotSummary> summary;

  bool operator==(const Snapshot&) const = default;
};

// Compact JSON without a trailing newline (restic writes none). Empty `paths` is written as [].
std::string EncodeSnapshot(const Snapshot& s);

// kCorruption for malformed JSON (or over the base/json.h limits), a missing or invalid "time"
// or "tree", and members of the wrong type or out of range. Unknown members are ignored and
// null members keep their zero value, as in encoding/json.
Result<Snapshot> DecodeSnapshot(std::string_view json);

}  // namespace halley::snapshot
