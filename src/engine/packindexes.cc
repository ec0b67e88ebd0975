// SPDX-License-Identifier: Apache-2.0
#include "engine/packindexes.h"

#include <unordered_set>

#include "engine/walker.h"
#include "repo/packindex.h"

namespace halley::engine {

using storage::ObjectType;

Result<repo::PackIndex> LoadPackIndexFile(repo::Repository& repo, const Id& id) {
  HALLEY_ASSIGN_OR_RETURN(auto text, repo.LoadUnpacked(ObjectType::kPackIndex, id));
  return repo::DecodePackIndex(text);
}

Result<PackIndexes> LoadPackIndexes(repo::Repository& repo) {
  std::vector<Id> ids;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kPackIndex, [&](const auto& info) {
    if (auto id = Id::FromHex(info.name)) ids.push_back(*id);
    return Result<void>{};
  }));
  PackIndexes out;
  for (const Id& id : ids) {
    auto p = LoadPackIndexFile(repo, id);
    if (!p) {
      out.unreadable.emplace_back(id, p.error());
      continue;
    }
    out.packs[p->snapshot].insert(p->packs.begin(), p->packs.end());
    out.files[p->snapshot].push_back(id);
  }
  return out;
}

Result<std::set<Id>> PacksOfTree(repo::Repository& repo, const Id& tree, std::stop_token stop) {
  std::set<Id> packs;
  std::unordered_set<Id, IdHash> seen;
  auto& index = repo.GetIndex();
  HALLEY_RETURN_IF_ERROR(WalkTrees(
      repo, {tree}, seen,
      [&](const Id& id, const snapshot::TreeBlobs& t) -> Result<void> {
        if (auto loc = index.Lookup(repo::BlobType::kTree, id)) packs.insert(loc->pack);
        for (const Id& b : t.content) {
          if (auto loc = index.Lookup(repo::BlobType::kData, b)) packs.insert(loc->pack);
        }
        return {};
      },
      nullptr, stop));
  return packs;
}

Result<Id> WritePackIndex(repo::Repository& repo, const Id& snapshot, const std::set<Id>& packs) {
  repo::PackIndex p;
  p.snapshot = snapshot;
  p.packs.assign(packs.begin(), packs.end());
  return repo.SaveUnpacked(ObjectType::kPackIndex, repo::EncodePackIndex(p));
}

Result<void> RemovePackIndexFiles(repo::Repository& repo, const std::vector<Id>& files) {
  for (const Id& f : files) {
    HALLEY_RETURN_IF_ERROR(repo.Store().Remove({ObjectType::kPackIndex, f.Hex()}));
  }
  return {};
}

Result<void> RemoveSnapshots(repo::Repository& repo, const std::vector<Id>& snapshots) {
  HALLEY_ASSIGN_OR_RETURN(PackIndexes pi, LoadPackIndexes(repo));
  for (const Id& s : snapshots) {
    // The snapshot first: a packindex without its snapshot is harmless and removed later.
    HALLEY_RETURN_IF_ERROR(repo.Store().Remove({ObjectType::kSnapshot, s.Hex()}));
    if (auto it = pi.files.find(s); it != pi.files.end()) {
      HALLEY_RETURN_IF_ERROR(RemovePackIndexFiles(repo, it->second));
    }
  }
  return {};
}

}  // namespace halley::engine
