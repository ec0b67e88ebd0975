// SPDX-License-Identifier: Apache-2.0
//
// Finding snapshots and trees: listing every snapshot, resolving "latest" or an ID prefix, and
// loading trees and the node at a path inside a snapshot.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "repo/repository.h"
#include "snapshot/snapshot.h"
#include "snapshot/tree.h"

namespace halley::engine {

struct SnapshotEntry {
  Id id;
  snapshot::Snapshot snapshot;
};

struct SnapshotFilter {
  std::vector<std::string> hosts;  // any of
  std::vector<std::string> tags;   // all of
  std::vector<std::string> paths;  // all of
};
bool Matches(const snapshot::Snapshot& s, const SnapshotFilter& f);

// Every readable snapshot, oldest first. Unreadable snapshot files are skipped and reported
// through `errors` when given (else they fail the call).
Result<std::vector<SnapshotEntry>> ListSnapshots(repo::Repository& repo,
                                                 std::vector<Error>* errors = nullptr);

// Resolves "latest" (the newest snapshot matching `filter`), a full ID or a unique ID prefix.
// kNotFound if nothing matches, kInvalidArgument if a prefix is ambiguous.
Result<SnapshotEntry> FindSnapshot(repo::Repository& repo, const std::string& ref,
                                   const SnapshotFilter& filter = {});

Result<snapshot::Tree> LoadTree(repo::Repository& repo, const Id& id);
// Only the blobs tree `id` references (snapshot::DecodeTreeBlobs), with the same errors.
Result<snapshot::TreeBlobs> LoadTreeBlobs(repo::Repository& repo, const Id& id);

// The node at `path` ("/a/b", "a/b" or "/" for the root) beneath `root`. For "/" the result is
// a synthetic dir node whose subtree is `root`. kNotFound if a component is missing.
Result<snapshot::Node> FindNode(repo::Repository& repo, const Id& root, const std::string& path);

// Splits "/a//b/" into {"a","b"}.
std::vector<std::string> SplitPath(const std::string& path);

}  // namespace halley::engine
