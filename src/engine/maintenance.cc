// SPDX-License-Identifier: Apache-2.0
#include "engine/maintenance.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/json.h"
#include "crypto/hash.h"
#include "engine/packindexes.h"
#include "engine/snapshots.h"
#include "engine/walker.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "snapshot/tree.h"

namespace halley::engine {

using repo::BlobType;
using repo::PackedBlob;
using snapshot::Node;
using snapshot::NodeType;
using storage::ObjectType;

namespace {

void Log(const std::function<void(const std::string&)>& log, const std::string& s) {
  if (log) log(s);
}

}  // namespace

Result<RebuildIndexStats> RebuildIndex(repo::Repository& repo, const RebuildIndexOptions& o) {
  RebuildIndexStats st;
  std::vector<Id> old_files;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kIndex, [&](const auto& info) {
    if (auto id = Id::FromHex(info.name)) old_files.push_back(*id);
    return Result<void>{};
  }));
  std::unordered_map<Id, std::vector<PackedBlob>, IdHash> known;
  if (!o.read_all_packs) {
    Log(o.log, "loading indexes");
    for (const Id& id : old_files) {
      auto text = repo.LoadUnpacked(ObjectType::kIndex, id);
      Result<repo::IndexFile> f =
          text ? repo::DecodeIndexFile(*text) : Result<repo::IndexFile>(Fail(text.error()));
      if (!f) {
        Log(o.log, "removing invalid index " + id.Hex() + ": " + f.error().Message());
        st.invalid_index_files++;
        continue;
      }
      for (auto& p : f->packs) known.try_emplace(p.id, std::move(p.blobs));
    }
  }
  std::vector<std::pair<Id, uint64_t>> stored;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kData, [&](const storage::ObjectInfo& i) {
    if (auto id = Id::FromHex(i.name)) stored.emplace_back(*id, i.size);
    return Result<void>{};
  }));
  std::sort(stored.begin(), stored.end());
  std::set<Id> present;
  for (const auto& [id, size] : stored) present.insert(id);
  for (const auto& [id, blobs] : known) {
    if (!present.count(id)) {
      Log(o.log, "removing not found pack file " + id.Hex());
      st.missing_packs_dropped++;
    }
  }

  // Read the headers of the packs the index does not describe correctly, in parallel: on a
  // remote vault each is a round trip.
  std::vector<std::pair<Id, uint64_t>> to_read;
  std::vector<repo::IndexPack> packs;
  for (const auto& [id, size] : stored) {
    auto it = known.find(id);
    if (it != known.end() && repo::PackSize(it->second) == size) {
      packs.push_back({id, it->second});
    } else {
      if (it != known.end()) {
        Log(o.log,
            "reindexing pack file " + id.Hex() + " with unexpected size " + std::to_string(size));
      } else if (!o.read_all_packs) {
        Log(o.log, "adding pack file to index " + id.Hex());
      }
      to_read.emplace_back(id, size);
    }
  }
  if (!to_read.empty()) Log(o.log, "reading " + std::to_string(to_read.size()) + " pack headers");
  std::mutex mu;
  std::atomic<size_t> next{0};
  std::optional<Error> fatal;
  auto work = [&] {
    while (true) {
      size_t i = next++;
      if (i >= to_read.size() || o.stop.stop_requested()) return;
      const auto& [id, size] = to_read[i];
      auto blobs = repo::LoadPackHeader(repo.Store(), repo.MasterKey(), id, size);
      std::lock_guard lock(mu);
      if (blobs) {
        packs.push_back({id, std::move(*blobs)});
        st.headers_read++;
      } else if (blobs.error().Code() == ErrorCode::kCorruption ||
                 blobs.error().Code() == ErrorCode::kNotFound) {
        Log(o.log,
            "pack " + id.Hex() + ": " + blobs.error().Message() + " (left out of the index)");
        st.unreadable_packs++;
      } else if (!fatal) {
        fatal = blobs.error();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < 4; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (o.stop.stop_requested()) return Fail(ErrorCode::kCancelled, "rebuild-index interrupted");
  if (fatal) return Fail(*fatal);

  Log(o.log, "rebuilding index");
  st.packs = packs.size();
  HALLEY_ASSIGN_OR_RETURN(st.index_files_written, repo.WriteIndexFiles(std::move(packs)));
  Log(o.log, "deleting obsolete index files");
  for (const Id& id : old_files) {
    HALLEY_RETURN_IF_ERROR(repo.Store().Remove({ObjectType::kIndex, id.Hex()}));
    st.index_files_removed++;
  }
  HALLEY_RETURN_IF_ERROR(repo.ReloadIndex());
  return st;
}

namespace {

class SnapshotRepairer {
 public:
  SnapshotRepairer(repo::Repository& repo, const RepairSnapshotsOptions& o,
                   RepairSnapshotsStats& st)
      : repo_(repo), o_(o), st_(st) {}

  // The repaired version of tree `id` at `path`, or nullopt if the tree cannot be read.
  // Memoised: snapshots share most trees.
  Result<std::optional<Id>> Rewrite(const Id& id, const std::string& path) {
    if (auto it = memo_.find(id); it != memo_.end()) return it->second;
    auto tree = LoadTree(repo_, id);
    if (!tree) {
      memo_[id] = std::nullopt;
      return std::optional<Id>();
    }
    snapshot::Tree out;
    bool changed = false;
    for (auto& n : tree->nodes) {
      std::string p = path + "/" + n.name;
      if (n.name.empty() || !snapshot::ParseNodeType(snapshot::NodeTypeName(n.type)) ||
          n.type == NodeType::kIrregular) {
        Log(o_.log, "node \"" + p + "\": removed invalid node");
        st_.nodes_removed++;
        changed = true;
        continue;
      }
      if (n.type == NodeType::kFile) {
        if (!n.content) {
          n.content = std::vector<Id>();
          changed = true;
        }
        std::vector<Id> kept;
        uint64_t size = 0;
        for (const Id& b : *n.content) {
          if (auto loc = repo_.GetIndex().Lookup(BlobType::kData, b)) {
            kept.push_back(b);
            size += loc->PlainSize();
          }
        }
        if (kept.size() != n.content->size()) {
          Log(o_.log, "file \"" + p + "\": removed missing content");
          n.content = std::move(kept);
          st_.files_fixed++;
          changed = true;
        }
        if (n.size != size) {
          if (!changed) Log(o_.log, "file \"" + p + "\": fixed incorrect size");
          n.size = size;
          changed = true;
        }
      } else if (n.type == NodeType::kDir) {
        std::optional<Id> sub;
        if (n.subtree) {
          HALLEY_ASSIGN_OR_RETURN(sub, Rewrite(*n.subtree, p));
        }
        if (!sub) {
          Log(o_.log, "dir \"" + p + "\": replaced with empty directory");
          st_.dirs_replaced++;
          HALLEY_ASSIGN_OR_RETURN(sub, EmptyTree());
        }
        if (sub != n.subtree) {
          n.subtree = sub;
          changed = true;
        }
      }
      out.nodes.push_back(std::move(n));
    }
    Id result = id;
    if (changed) {
      HALLEY_ASSIGN_OR_RETURN(result, Save(out));
    }
    memo_[id] = result;
    return std::optional<Id>(result);
  }

 private:
  Result<Id> Save(const snapshot::Tree& t) {
    HALLEY_ASSIGN_OR_RETURN(std::string json, snapshot::EncodeTree(t));
    Id id = crypto::Sha256(AsBytes(json));
    if (!o_.dry_run) HALLEY_RETURN_IF_ERROR(repo_.SaveBlob(BlobType::kTree, id, AsBytes(json)));
    return id;
  }
  Result<Id> EmptyTree() { return Save(snapshot::Tree{}); }

  repo::Repository& repo_;
  const RepairSnapshotsOptions& o_;
  RepairSnapshotsStats& st_;
  std::unordered_map<Id, std::optional<Id>, IdHash> memo_;
};

}  // namespace

Result<RepairSnapshotsStats> RepairSnapshots(repo::Repository& repo,
                                             const RepairSnapshotsOptions& o) {
  RepairSnapshotsStats st;
  std::vector<Error> unreadable;
  HALLEY_ASSIGN_OR_RETURN(auto all, ListSnapshots(repo, &unreadable));
  for (const auto& e : unreadable) Log(o.log, "unreadable snapshot: " + e.Message());
  std::set<Id> wanted(o.snapshots.begin(), o.snapshots.end());
  SnapshotRepairer repairer(repo, o, st);
  struct Pending {
    SnapshotEntry old;
    std::optional<Id> root;
  };
  std::vector<Pending> changed;
  for (auto& s : all) {
    if (!wanted.empty() && !wanted.count(s.id)) continue;
    if (o.stop.stop_requested()) return Fail(ErrorCode::kCancelled, "repair interrupted");
    st.snapshots_checked++;
    std::string paths;
    for (const auto& p : s.snapshot.paths) paths += (paths.empty() ? "" : " ") + p;
    Log(o.log,
        "snapshot " + s.id.Short() + " of [" + paths + "] at " + FormatHuman(s.snapshot.time));
    HALLEY_ASSIGN_OR_RETURN(auto root, repairer.Rewrite(s.snapshot.tree, ""));
    if (root && *root == s.snapshot.tree) continue;
    changed.push_back({std::move(s), root});
  }
  if (o.dry_run) {
    for (const auto& c : changed) {
      (c.root ? st.snapshots_repaired : st.snapshots_dropped)++;
    }
    return st;
  }
  // New trees first, durable and indexed, then the snapshots that name them.
  HALLEY_RETURN_IF_ERROR(repo.Flush());
  std::vector<Id> to_remove;
  for (auto& c : changed) {
    if (!c.root) {
      Log(o.log, "snapshot " + c.old.id.Short() + ": the root tree is unreadable" +
                     (o.forget ? ", removing it" : "; use --forget to remove it"));
      if (o.forget) {
        to_remove.push_back(c.old.id);
        st.snapshots_dropped++;
      }
      continue;
    }
    snapshot::Snapshot s = c.old.snapshot;
    s.tree = *c.root;
    if (std::find(s.tags.begin(), s.tags.end(), "repaired") == s.tags.end()) {
      s.tags.push_back("repaired");
    }
    if (!s.original) s.original = c.old.id;
    HALLEY_ASSIGN_OR_RETURN(Id id,
                            repo.SaveUnpacked(ObjectType::kSnapshot, snapshot::EncodeSnapshot(s)));
    // Its packindex: the packs of every blob it still references.
    HALLEY_ASSIGN_OR_RETURN(auto packs, PacksOfTree(repo, s.tree, o.stop));
    HALLEY_RETURN_IF_ERROR(WritePackIndex(repo, id, packs));
    Log(o.log, "saved new snapshot " + id.Short());
    st.snapshots_repaired++;
    st.rewritten.emplace_back(c.old.id, id);
    if (o.forget) to_remove.push_back(c.old.id);
  }
  if (!to_remove.empty()) HALLEY_RETURN_IF_ERROR(RemoveSnapshots(repo, to_remove));
  return st;
}

}  // namespace halley::engine
