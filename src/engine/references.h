// SPDX-License-Identifier: Apache-2.0
//
// Referential integrity (the spec's "Data validation": "for each snapshot, all its matching
// chunks exist; all the chunks are indexed"), the check every retention pass runs between
// forget and prune. It is cheap: it lists data/ and reads the packindex files, and walks the
// trees only of snapshots that have no packindex (writing the missing packindex afterwards,
// the spec's "optimization pass"). It does not read packs; `check` does that.
//
// A snapshot is damaged when a pack its packindex names is missing from data/ or has a size
// other than the index says, or (for a walked snapshot) when a tree cannot be loaded, a blob
// is in no index or a pack holding one is absent. A snapshot whose packindex names a pack no
// index lists is walked: that is damage ("Packindex ... refers to unknown pack ...") only if
// the walk finds something missing; otherwise (an interrupted prune) its packindex is written
// again.
#pragma once

#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "repo/repository.h"

namespace halley::engine {

struct ReferenceCheckOptions {
  bool write_missing_packindex = true;  // false: change nothing (dry run)
  std::stop_token stop;
};

struct ReferenceReport {
  // Every finding, in the spec's forms ("<snapshot/1a2b3c4d> depends on missing [...]",
  // "Packindex 'AAAA' for snapshot 'BBBB' refers to unknown pack 'CCCC', shouldn't happen"),
  // plus snapshot files that cannot be read.
  std::vector<std::string> errors;
  // Snapshot -> the short IDs of the missing packs, trees or blobs it depends on.
  std::map<Id, std::vector<std::string>> damaged;
  uint64_t snapshots = 0;
  uint64_t walked = 0;             // snapshots without a packindex, whose trees were walked
  uint64_t packindex_written = 0;  // packindex files written for them
  bool Ok() const { return errors.empty(); }
};

// Runs the check. Fails only if the vault cannot be listed or on kCancelled; findings go in
// the report. The caller holds a lock (exclusive when packindex files may be written).
Result<ReferenceReport> CheckReferences(repo::Repository& repo,
                                        const ReferenceCheckOptions& options);

// "<snapshot/1a2b3c4d> depends on missing [1234abcd 5678ef01]", the spec's form; long lists
// are cut after 50 entries ("... and N more").
std::string DependsOnMissingMessage(const Id& snapshot, const std::vector<std::string>& missing);

// "Packindex 'AAAA' for snapshot 'BBBB' refers to unknown pack 'CCCC', shouldn't happen".
std::string UnknownPackMessage(const Id& packindex, const Id& snapshot, const Id& pack);

}  // namespace halley::engine
