// SPDX-License-Identifier: Apache-2.0
#include "engine/copy.h"

#include <set>
#include <unordered_set>

#include "engine/packindexes.h"
#include "engine/walker.h"

namespace halley::engine {

using repo::BlobType;
using storage::ObjectType;

namespace {

bool Similar(const snapshot::Snapshot& a, const snapshot::Snapshot& b) {
  return a.time == b.time && a.tree == b.tree && a.paths == b.paths && a.hostname == b.hostname;
}

}  // namespace

Result<CopyStats> CopySnapshots(repo::Repository& from, repo::Repository& to,
                                const std::vector<SnapshotEntry>& snapshots, const CopyOptions& o) {
  CopyStats st;
  std::vector<Error> ignored;
  HALLEY_ASSIGN_OR_RETURN(auto existing, ListSnapshots(to, &ignored));
  auto copy_blob = [&](BlobType type, const Id& id) -> Result<void> {
    if (to.GetIndex().Has(type, id)) return {};
    HALLEY_ASSIGN_OR_RETURN(Bytes plain, from.LoadBlob(type, id));
    HALLEY_ASSIGN_OR_RETURN(bool added, to.SaveBlob(type, id, plain));
    if (added) {
      st.blobs_copied++;
      st.bytes_copied += plain.size();
    }
    return {};
  };
  std::unordered_set<Id, IdHash> visited;  // trees copied already, across snapshots
  for (const auto& s : snapshots) {
    bool have = false;
    for (const auto& e : existing) have = have || Similar(e.snapshot, s.snapshot);
    if (have) {
      if (o.log) o.log("skipping snapshot " + s.id.Short() + ": already in the destination");
      st.snapshots_skipped++;
      continue;
    }
    if (o.log) o.log("copying snapshot " + s.id.Short());
    HALLEY_RETURN_IF_ERROR(WalkTrees(
        from, {s.snapshot.tree}, visited,
        [&](const Id& id, const snapshot::TreeBlobs& tree) -> Result<void> {
          HALLEY_RETURN_IF_ERROR(copy_blob(BlobType::kTree, id));
          for (const Id& b : tree.content) HALLEY_RETURN_IF_ERROR(copy_blob(BlobType::kData, b));
          return {};
        },
        nullptr, o.stop));
    // Blobs durable and indexed before the snapshot that needs them.
    HALLEY_RETURN_IF_ERROR(to.Flush());
    snapshot::Snapshot copy = s.snapshot;
    if (!copy.original) copy.original = s.id;
    HALLEY_ASSIGN_OR_RETURN(Id id,
                            to.SaveUnpacked(ObjectType::kSnapshot, snapshot::EncodeSnapshot(copy)));
    HALLEY_ASSIGN_OR_RETURN(auto packs, PacksOfTree(to, copy.tree, o.stop));
    HALLEY_RETURN_IF_ERROR(WritePackIndex(to, id, packs));
    if (o.log) o.log("snapshot " + s.id.Short() + " saved as " + id.Short());
    existing.push_back({id, copy});
    st.snapshots_copied++;
  }
  return st;
}

}  // namespace halley::engine
