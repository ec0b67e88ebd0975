// SPDX-License-Identifier: Apache-2.0
#include "engine/packindexes.h"

#include "repo/packindex.h"

namespace halley::engine {

using storage::ObjectType;

Result<PackIndexes> LoadPackIndexes(repo::Repository& repo) {
  std::vector<Id> ids;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kPackIndex, [&](const auto& info) {
    if (auto id = Id::FromHex(info.name)) ids.push_back(*id);
    return Result<void>{};
  }));
  PackIndexes out;
  for (const Id& id : ids) {
    auto text = repo.LoadUnpacked(ObjectType::kPackIndex, id);
    Result<repo::PackIndex> p =
        text ? repo::DecodePackIndex(*text) : Result<repo::PackIndex>(Fail(text.error()));
    if (!p) {
      out.unreadable.emplace_back(id, p.error());
      continue;
    }
    out.packs[p->snapshot].insert(p->packs.begin(), p->packs.end());
    out.files[p->snapshot].push_back(id);
  }
  return out;
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
