// SPDX-License-Identifier: Apache-2.0
//
// Reading and writing the packindex files of a vault (docs/vault-format.md): for each snapshot,
// the packs its blobs live in. A snapshot may have several packindex files (an interrupted
// rewrite leaves old and new); their union is what counts, which is always a superset.
#pragma once

#include <map>
#include <set>
#include <stop_token>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "repo/packindex.h"
#include "repo/repository.h"

namespace halley::engine {

struct PackIndexes {
  std::map<Id, std::set<Id>> packs;              // snapshot -> packs (union of its files)
  std::map<Id, std::vector<Id>> files;           // snapshot -> its packindex file IDs
  std::vector<std::pair<Id, Error>> unreadable;  // packindex files that failed to load
};

// Loads and decodes one packindex file.
Result<repo::PackIndex> LoadPackIndexFile(repo::Repository& repo, const Id& id);

// Loads every packindex file. Unreadable files are listed, not fatal (packindex is a cache).
Result<PackIndexes> LoadPackIndexes(repo::Repository& repo);

// The packs holding the blobs of the tree graph under `tree` (a snapshot's root), by walking
// it; blobs the index does not know are skipped.
Result<std::set<Id>> PacksOfTree(repo::Repository& repo, const Id& tree, std::stop_token stop = {});

// Writes the packindex of `snapshot`; returns the new file's ID.
Result<Id> WritePackIndex(repo::Repository& repo, const Id& snapshot, const std::set<Id>& packs);

// Removes all packindex files of a snapshot (after the snapshot itself is gone).
Result<void> RemovePackIndexFiles(repo::Repository& repo, const std::vector<Id>& files);

// Removes snapshot files and then their packindex files (forget).
Result<void> RemoveSnapshots(repo::Repository& repo, const std::vector<Id>& snapshots);

}  // namespace halley::engine
