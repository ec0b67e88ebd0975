// SPDX-License-Identifier: Apache-2.0
//
// Walking the tree graph of snapshots: every tree reachable from a set of roots, each loaded and
// visited once even when snapshots share it (they usually share most).
#pragma once

#include <functional>
#include <stop_token>
#include <unordered_set>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "repo/repository.h"
#include "snapshot/tree.h"

namespace halley::engine {

// Called once per tree, parents before children. A visitor error stops the walk.
using TreeVisitor = std::function<Result<void>(const Id& id, const snapshot::TreeBlobs& tree)>;
// Called for a tree that cannot be loaded or decoded; the walk goes on without its subtrees.
using TreeErrorFn = std::function<void(const Id& id, const Error& error)>;

// Visits every tree reachable from `roots` that is not in `visited` (which it updates, so
// several walks can share it). Returns the first visitor error, kCancelled if `stop` is
// requested, or a tree load error when `on_error` is null.
Result<void> WalkTrees(repo::Repository& repo, const std::vector<Id>& roots,
                       std::unordered_set<Id, IdHash>& visited, const TreeVisitor& visit,
                       const TreeErrorFn& on_error = nullptr, std::stop_token stop = {});

// For each root, whether its tree graph references a blob for which `bad(type, id)` is true,
// or a tree that cannot be loaded. Shared trees are examined once. Returns one flag per root.
using BlobPredicate = std::function<bool(repo::BlobType type, const Id& id)>;
Result<std::vector<bool>> DependsOn(repo::Repository& repo, const std::vector<Id>& roots,
                                    const BlobPredicate& bad, std::stop_token stop = {});

}  // namespace halley::engine
