// SPDX-License-Identifier: Apache-2.0
//
// Copying snapshots between vaults (`copy --from-repo`): every blob the destination lacks is
// read from the source, decrypted, and saved in the destination under its own keys; blob and
// tree IDs stay the same, so the copy deduplicates against what the destination holds.
#pragma once

#include <functional>
#include <stop_token>
#include <vector>

#include "base/error.h"
#include "engine/snapshots.h"
#include "repo/repository.h"

namespace halley::engine {

struct CopyOptions {
  std::function<void(const std::string&)> log;
  std::stop_token stop;
};

struct CopyStats {
  uint64_t snapshots_copied = 0, snapshots_skipped = 0;
  uint64_t blobs_copied = 0, bytes_copied = 0;
};

// Copies `snapshots` of `from` into `to`, skipping those `to` already has (same time, tree,
// paths and host). The caller holds a lock on each vault and has loaded both indexes.
Result<CopyStats> CopySnapshots(repo::Repository& from, repo::Repository& to,
                                const std::vector<SnapshotEntry>& snapshots,
                                const CopyOptions& options);

}  // namespace halley::engine
