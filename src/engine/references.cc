// SPDX-License-Identifier: Apache-2.0
#include "engine/references.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "engine/packindexes.h"
#include "engine/snapshots.h"
#include "engine/walker.h"

namespace halley::engine {
namespace {

using storage::ObjectType;

constexpr size_t kMaxTokensListed = 50;  // per "depends on missing" line

// The packindex file of `snapshot` that names `pack` (for the message); the first file if
// none can be read again.
Id PackIndexNaming(repo::Repository& repo, const std::vector<Id>& files, const Id& pack) {
  for (const Id& f : files) {
    auto p = LoadPackIndexFile(repo, f);
    if (p && std::find(p->packs.begin(), p->packs.end(), pack) != p->packs.end()) return f;
  }
  return files.front();
}

// Walks the trees under `root`: returns the packs they use, and adds to `missing` the short IDs
// of packs that are absent or truncated (per `pack_ok`), of blobs no index lists and of trees
// that cannot be loaded.
template <typename PackOk>
Result<std::set<Id>> WalkSnapshot(repo::Repository& repo, const Id& root, const PackOk& pack_ok,
                                  std::set<std::string>& missing, std::stop_token stop) {
  std::set<Id> packs;
  auto& index = repo.GetIndex();
  auto note = [&](repo::BlobType type, const Id& id) {
    auto loc = index.Lookup(type, id);
    if (!loc) {
      missing.insert(id.Short());
    } else if (!pack_ok(loc->pack)) {
      missing.insert(loc->pack.Short());
    } else {
      packs.insert(loc->pack);
    }
  };
  std::unordered_set<Id, IdHash> seen;
  HALLEY_RETURN_IF_ERROR(WalkTrees(
      repo, {root}, seen,
      [&](const Id& id, const snapshot::TreeBlobs& tree) -> Result<void> {
        note(repo::BlobType::kTree, id);
        for (const Id& b : tree.content) note(repo::BlobType::kData, b);
        return {};
      },
      [&](const Id& id, const Error&) {
        if (auto loc = index.Lookup(repo::BlobType::kTree, id); loc && !pack_ok(loc->pack)) {
          missing.insert(loc->pack.Short());
        } else {
          missing.insert(id.Short());
        }
      },
      stop));
  return packs;
}

}  // namespace

std::string DependsOnMissingMessage(const Id& snapshot, const std::vector<std::string>& missing) {
  std::string list;
  for (size_t i = 0; i < missing.size() && i < kMaxTokensListed; ++i) {
    list += (i ? " " : "") + missing[i];
  }
  if (missing.size() > kMaxTokensListed) {
    list += " ... and " + std::to_string(missing.size() - kMaxTokensListed) + " more";
  }
  return "<snapshot/" + snapshot.Short() + "> depends on missing [" + list + "]";
}

std::string UnknownPackMessage(const Id& packindex, const Id& snapshot, const Id& pack) {
  return "Packindex '" + packindex.Short() + "' for snapshot '" + snapshot.Short() +
         "' refers to unknown pack '" + pack.Short() + "', shouldn't happen";
}

Result<ReferenceReport> CheckReferences(repo::Repository& repo,
                                        const ReferenceCheckOptions& options) {
  ReferenceReport report;
  // What data/ holds, and what the index expects of each pack.
  std::unordered_map<Id, uint64_t, IdHash> stored;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kData, [&](const auto& info) {
    if (auto id = Id::FromHex(info.name)) stored.emplace(*id, info.size);
    return Result<void>{};
  }));
  const auto expected = repo.GetIndex().PackSizes();
  auto pack_ok = [&](const Id& pack) {
    auto s = stored.find(pack);
    auto e = expected.find(pack);
    return s != stored.end() && (e == expected.end() || e->second == s->second);
  };

  std::vector<Error> unreadable;
  HALLEY_ASSIGN_OR_RETURN(auto snapshots, ListSnapshots(repo, &unreadable));
  for (const Error& e : unreadable) report.errors.push_back(e.Message());
  report.snapshots = snapshots.size();
  HALLEY_ASSIGN_OR_RETURN(auto packindexes, LoadPackIndexes(repo));

  for (const auto& s : snapshots) {
    if (options.stop.stop_requested()) return Fail(ErrorCode::kCancelled, "cancelled");
    std::set<std::string> missing;
    std::vector<Id> unknown;  // packs the packindex names that no index lists
    auto it = packindexes.packs.find(s.id);
    bool walk = it == packindexes.packs.end();
    if (!walk) {
      for (const Id& pack : it->second) {
        if (!expected.count(pack)) {
          unknown.push_back(pack);
        } else if (!pack_ok(pack)) {
          missing.insert(pack.Short());
        }
      }
      // An unknown pack is damage only if the snapshot needs it: a prune killed after it
      // rewrote the index but before the packindex files leaves packindexes that name packs
      // whose blobs now live elsewhere. The trees decide.
      walk = missing.empty() && !unknown.empty();
    }
    if (walk) {
      ++report.walked;
      HALLEY_ASSIGN_OR_RETURN(auto packs,
                              WalkSnapshot(repo, s.snapshot.tree, pack_ok, missing, options.stop));
      if (!missing.empty()) {
        for (const Id& pack : unknown) {
          report.errors.push_back(
              UnknownPackMessage(PackIndexNaming(repo, packindexes.files[s.id], pack), s.id, pack));
        }
      } else if (options.write_missing_packindex) {
        // The snapshot's packindex, written (again) from its trees.
        HALLEY_RETURN_IF_ERROR(WritePackIndex(repo, s.id, packs));
        if (!unknown.empty()) {
          HALLEY_RETURN_IF_ERROR(RemovePackIndexFiles(repo, packindexes.files[s.id]));
        }
        ++report.packindex_written;
      }
    }
    if (!missing.empty()) {
      std::vector<std::string> list(missing.begin(), missing.end());
      report.errors.push_back(DependsOnMissingMessage(s.id, list));
      report.damaged.emplace(s.id, std::move(list));
    }
  }
  return report;
}

}  // namespace halley::engine
