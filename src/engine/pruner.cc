// SPDX-License-Identifier: Apache-2.0
#include "engine/pruner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "engine/packindexes.h"
#include "engine/references.h"
#include "engine/snapshots.h"
#include "engine/walker.h"
#include "repo/index.h"

namespace halley::engine {

using repo::BlobType;
using repo::PackedBlob;
using storage::ObjectType;

Result<uint64_t> ParseSize(const std::string& text) {
  if (text.empty()) return Fail(ErrorCode::kInvalidArgument, "empty size");
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (std::numeric_limits<uint64_t>::max() - 9) / 10) {
      return Fail(ErrorCode::kInvalidArgument, "size \"" + text + "\" is too large");
    }
    n = n * 10 + static_cast<uint64_t>(text[i++] - '0');
  }
  if (i == 0) return Fail(ErrorCode::kInvalidArgument, "invalid size \"" + text + "\"");
  std::string unit = text.substr(i);
  int shift = 0;
  if (unit.empty() || unit == "B" || unit == "b") {
    shift = 0;
  } else if (unit == "K" || unit == "k" || unit == "KiB") {
    shift = 10;
  } else if (unit == "M" || unit == "m" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "g" || unit == "GiB") {
    shift = 30;
  } else if (unit == "T" || unit == "t" || unit == "TiB") {
    shift = 40;
  } else {
    return Fail(ErrorCode::kInvalidArgument, "invalid size unit in \"" + text + "\"");
  }
  if (shift && n > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return Fail(ErrorCode::kInvalidArgument, "size \"" + text + "\" is too large");
  }
  return n << shift;
}

Result<MaxUnused> MaxUnused::Parse(const std::string& text) {
  MaxUnused m;
  if (text == "unlimited") {
    m.kind = Kind::kUnlimited;
    return m;
  }
  if (!text.empty() && text.back() == '%') {
    char* end = nullptr;
    std::string num = text.substr(0, text.size() - 1);
    double p = std::strtod(num.c_str(), &end);
    if (num.empty() || end != num.c_str() + num.size() || !(p >= 0) || p >= 100) {
      return Fail(ErrorCode::kInvalidArgument,
                  "invalid --max-unused \"" + text + "\": a percentage must be in [0, 100)");
    }
    m.kind = Kind::kPercent;
    m.percent = p;
    return m;
  }
  auto bytes = ParseSize(text);
  if (!bytes) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid --max-unused \"" + text + "\": use a percentage, a size or unlimited");
  }
  m.kind = Kind::kBytes;
  m.bytes = *bytes;
  return m;
}

namespace {

enum class Fate { kKeep, kRemove, kRepack };

struct PackInfo {
  BlobType type = BlobType::kData;
  uint64_t used_bytes = 0, unused_bytes = 0;
  uint64_t used_blobs = 0, unused_blobs = 0;
  Fate fate = Fate::kKeep;
};

class Pruner {
 public:
  Pruner(repo::Repository& repo, const PruneOptions& o) : repo_(repo), opts_(o) {}
  Result<PruneStats> Run();

 private:
  void Log(const std::string& s) const {
    if (opts_.log) opts_.log(s);
  }
  Result<void> LoadIndexFiles();
  Result<void> FindUsedBlobs();
  // `what`: short IDs of the missing blobs or packs, for the message.
  Result<void> FailMissing(const std::vector<std::string>& what, const BlobPredicate& missing);
  Result<void> Classify();
  Result<void> Repack();
  Result<void> WriteFinalIndex();
  Result<void> UpdatePackIndexes();
  Result<void> DeletePacks();
  Result<void> CheckLock() const {
    if (opts_.lock) return opts_.lock->CheckValid();
    return {};
  }
  bool Used(BlobType t, const Id& id) const {
    return (t == BlobType::kTree ? used_trees_ : used_data_).count(id) != 0;
  }

  repo::Repository& repo_;
  const PruneOptions& opts_;
  PruneStats stats_;
  std::vector<SnapshotEntry> snapshots_;
  std::vector<Id> index_files_;                                         // before this prune
  std::unordered_map<Id, std::vector<PackedBlob>, IdHash> pack_blobs_;  // first listing wins
  std::unordered_map<Id, uint64_t, IdHash> stored_;                     // data/ listing
  PackIndexes packindexes_;
  std::map<Id, std::set<Id>> snapshot_packs_;  // from packindex, or computed
  bool fast_ = false;
  size_t packs_written_before_ = 0;  // Repository::Stats().packs when this prune began
  std::unordered_set<Id, IdHash> used_data_, used_trees_, used_packs_;
  std::unordered_map<Id, PackInfo, IdHash> packs_;
  std::set<Id> orphans_, missing_unused_;
};

Result<void> Pruner::LoadIndexFiles() {
  // Decisions rest on the in-memory index: make sure it is what the files say now. The same
  // pass keeps the files' pack lists, from which the new index is written.
  auto loaded = repo_.ReloadIndex([&](const Id& id, repo::IndexFile&& f) {
    index_files_.push_back(id);
    for (auto& p : f.packs) pack_blobs_.try_emplace(p.id, std::move(p.blobs));
  });
  if (!loaded && loaded.error().Code() == ErrorCode::kCorruption) {
    return Fail(ErrorCode::kCorruption,
                "an index is unreadable (" + loaded.error().Message() +
                    "); nothing was pruned. Run `backup-tool rebuild-index` first");
  }
  HALLEY_RETURN_IF_ERROR(loaded);
  HALLEY_RETURN_IF_ERROR(repo_.Store().List(ObjectType::kData, [&](const auto& info) {
    if (auto id = Id::FromHex(info.name)) stored_[*id] = info.size;
    return Result<void>{};
  }));
  return {};
}

Result<void> Pruner::FailMissing(const std::vector<std::string>& what,
                                 const BlobPredicate& missing) {
  std::vector<Id> roots;
  for (const auto& s : snapshots_) roots.push_back(s.snapshot.tree);
  HALLEY_ASSIGN_OR_RETURN(auto deps, DependsOn(repo_, roots, missing, opts_.stop));
  std::string msg;
  for (size_t i = 0; i < deps.size(); ++i) {
    if (deps[i]) {
      msg += DependsOnMissingMessage(snapshots_[i].id, what) + "\n";
    }
  }
  msg +=
      "Integrity check failed: data that snapshots need is missing. Nothing was deleted.\n"
      "Run `backup-tool check`, then `repair snapshots` or forget the snapshots named above";
  return Fail(ErrorCode::kCorruption, msg);
}

Result<void> Pruner::FindUsedBlobs() {
  HALLEY_ASSIGN_OR_RETURN(packindexes_, LoadPackIndexes(repo_));
  std::set<Id> snapshot_ids;
  for (const auto& s : snapshots_) snapshot_ids.insert(s.id);
  bool complete = packindexes_.unreadable.empty();
  for (const auto& s : snapshots_) {
    auto it = packindexes_.packs.find(s.id);
    if (it == packindexes_.packs.end()) {
      complete = false;
      continue;
    }
    snapshot_packs_[s.id] = it->second;
    for (const Id& p : it->second) {
      if (!pack_blobs_.count(p)) complete = false;  // inconsistent: do not trust it
    }
  }
  fast_ = opts_.packindex_fast_path && complete;
  if (fast_) {
    Log("finding used packs from " + std::to_string(snapshots_.size()) + " packindex files");
    for (const auto& [s, packs] : snapshot_packs_) used_packs_.insert(packs.begin(), packs.end());
    return {};
  }
  stats_.walked_trees = true;
  Log("finding data used by " + std::to_string(snapshots_.size()) + " snapshots");
  std::vector<Id> roots;
  for (const auto& s : snapshots_) roots.push_back(s.snapshot.tree);
  std::unordered_set<Id, IdHash> visited;
  std::vector<Id> unreadable;
  HALLEY_RETURN_IF_ERROR(WalkTrees(
      repo_, roots, visited,
      [&](const Id& id, const snapshot::TreeBlobs& tree) -> Result<void> {
        used_trees_.insert(id);
        used_data_.insert(tree.content.begin(), tree.content.end());
        return {};
      },
      [&](const Id& id, const Error&) { unreadable.push_back(id); }, opts_.stop));
  // Every needed blob must be indexed; otherwise deleting anything could lose more.
  auto& index = repo_.GetIndex();
  std::set<Id> missing;
  for (const Id& id : unreadable) missing.insert(id);
  for (const Id& id : used_data_) {
    if (!index.Has(BlobType::kData, id)) missing.insert(id);
  }
  if (!missing.empty()) {
    std::vector<std::string> list;
    for (const Id& id : missing) list.push_back(id.Short());
    return FailMissing(list, [&](BlobType, const Id& id) { return missing.count(id) > 0; });
  }
  // Snapshots without a packindex get one (computed per snapshot after the plan).
  for (const auto& s : snapshots_) {
    if (snapshot_packs_.count(s.id)) continue;
    HALLEY_ASSIGN_OR_RETURN(auto packs, PacksOfTree(repo_, s.snapshot.tree, opts_.stop));
    snapshot_packs_[s.id] = std::move(packs);
  }
  return {};
}

Result<void> Pruner::Classify() {
  auto& index = repo_.GetIndex();
  std::vector<Id> needed_missing;
  for (const auto& [pack, blobs] : pack_blobs_) {
    PackInfo info;
    info.type = blobs.empty() ? BlobType::kData : blobs.front().type;
    for (const auto& b : blobs) {
      bool used;
      if (fast_) {
        used = used_packs_.count(pack) > 0;
      } else {
        auto loc = index.Lookup(b.type, b.id);
        bool canonical = loc && loc->pack == pack;
        used = canonical && Used(b.type, b.id);
        if (!canonical && Used(b.type, b.id)) {
          stats_.duplicate_blobs++;
          stats_.duplicate_bytes += b.length;
        }
      }
      (used ? info.used_bytes : info.unused_bytes) += b.length;
      (used ? info.used_blobs : info.unused_blobs)++;
    }
    stats_.used_blobs += info.used_blobs;
    stats_.used_bytes += info.used_bytes;
    stats_.unused_blobs += info.unused_blobs;
    stats_.unused_bytes += info.unused_bytes;
    auto stored = stored_.find(pack);
    if (stored == stored_.end()) {
      if (info.used_blobs > 0) {
        needed_missing.push_back(pack);
      } else {
        missing_unused_.insert(pack);
      }
      continue;
    }
    uint64_t expected = repo::PackSize(blobs);
    if (stored->second != expected) {
      if (info.used_blobs > 0) {
        return Fail(ErrorCode::kCorruption,
                    "pack " + pack.Short() + ": size " + std::to_string(stored->second) +
                        " differs from the " + std::to_string(expected) +
                        " the index implies; nothing was pruned. Run `backup-tool "
                        "rebuild-index`, then prune again");
      }
      info.fate = Fate::kRemove;
    } else if (info.used_blobs == 0) {
      info.fate = Fate::kRemove;
    } else if (info.unused_blobs > 0) {
      info.fate = Fate::kRepack;  // a candidate; Run() decides
    }
    packs_[pack] = info;
  }
  if (!needed_missing.empty()) {
    std::set<Id> missing(needed_missing.begin(), needed_missing.end());
    std::vector<std::string> list;
    for (const Id& p : missing) list.push_back(p.Short());
    return FailMissing(list, [&](BlobType t, const Id& id) {
      auto loc = repo_.GetIndex().Lookup(t, id);
      return loc && missing.count(loc->pack) > 0;
    });
  }
  for (const auto& [pack, size] : stored_) {
    if (!pack_blobs_.count(pack)) {
      orphans_.insert(pack);
      stats_.orphan_bytes += size;
    }
  }
  stats_.orphan_packs = orphans_.size();
  stats_.missing_unused_packs = missing_unused_.size();
  stats_.packs = pack_blobs_.size();

  // Which candidates to repack: tree packs always (they are small and read often), then data
  // packs with the most unused space first, until what stays unused is within the limit.
  uint64_t unused_after = 0;
  std::vector<std::pair<Id, PackInfo*>> candidates;
  for (auto& [pack, info] : packs_) {
    if (info.fate == Fate::kRepack) {
      candidates.emplace_back(pack, &info);
      unused_after += info.unused_bytes;
    } else if (info.fate == Fate::kRemove) {
      stats_.remove_packs++;
      stats_.remove_bytes += info.used_bytes + info.unused_bytes;
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    if ((a.second->type == BlobType::kTree) != (b.second->type == BlobType::kTree)) {
      return a.second->type == BlobType::kTree;
    }
    double ra = static_cast<double>(a.second->unused_bytes) /
                static_cast<double>(a.second->used_bytes + a.second->unused_bytes);
    double rb = static_cast<double>(b.second->unused_bytes) /
                static_cast<double>(b.second->used_bytes + b.second->unused_bytes);
    if (ra != rb) return ra > rb;
    return a.first < b.first;
  });
  double limit;
  switch (opts_.max_unused.kind) {
    case MaxUnused::Kind::kUnlimited:
      limit = std::numeric_limits<double>::infinity();
      break;
    case MaxUnused::Kind::kBytes:
      limit = static_cast<double>(opts_.max_unused.bytes);
      break;
    case MaxUnused::Kind::kPercent:
    default:
      // p is the share of unused data in the vault after prune: unused / (used + unused).
      limit = static_cast<double>(stats_.used_bytes) * opts_.max_unused.percent /
              (100.0 - opts_.max_unused.percent);
      break;
  }
  uint64_t repack_budget = opts_.max_repack_bytes.value_or(std::numeric_limits<uint64_t>::max());
  for (auto& [pack, info] : candidates) {
    bool wanted = info->type == BlobType::kTree || static_cast<double>(unused_after) > limit;
    if (wanted && info->used_bytes <= repack_budget && !fast_) {
      repack_budget -= info->used_bytes;
      unused_after -= info->unused_bytes;
      stats_.repack_packs++;
      stats_.repack_bytes += info->used_bytes + info->unused_bytes;
    } else {
      info->fate = Fate::kKeep;
    }
  }
  stats_.unused_after = unused_after;
  return {};
}

Result<void> Pruner::Repack() {
  if (stats_.repack_packs == 0) return {};
  Log("repacking " + std::to_string(stats_.repack_packs) + " packs");
  auto& index = repo_.GetIndex();
  for (const auto& [pack, info] : packs_) {
    if (info.fate != Fate::kRepack) continue;
    if (opts_.stop.stop_requested()) return Fail(ErrorCode::kCancelled, "prune interrupted");
    HALLEY_ASSIGN_OR_RETURN(Bytes data, repo_.LoadRaw({ObjectType::kData, pack.Hex()}));
    for (const auto& b : pack_blobs_.at(pack)) {
      auto loc = index.Lookup(b.type, b.id);
      if (!(loc && loc->pack == pack && Used(b.type, b.id))) continue;
      if (static_cast<uint64_t>(b.offset) + b.length > data.size()) {
        return Fail(ErrorCode::kCorruption, "pack " + pack.Short() + " is shorter than its index");
      }
      auto plain =
          repo_.DecodeBlob(b.id, ByteView(data).subspan(b.offset, b.length), b.uncompressed_length);
      if (!plain) {
        return Fail(
            plain.error().WithContext("repacking pack " + pack.Short() + "; nothing was deleted"));
      }
      HALLEY_RETURN_IF_ERROR(repo_.SaveBlob(b.type, b.id, *plain, /*store_duplicate=*/true));
      stats_.repacked_blobs++;
      stats_.repacked_blob_bytes += plain->size();
    }
  }
  return repo_.Flush();
}

Result<void> Pruner::WriteFinalIndex() {
  // Everything indexed now (including what Flush() just wrote), minus the packs going away.
  std::vector<Id> old_files;
  HALLEY_RETURN_IF_ERROR(repo_.Store().List(ObjectType::kIndex, [&](const auto& info) {
    if (auto id = Id::FromHex(info.name)) old_files.push_back(*id);
    return Result<void>{};
  }));
  std::set<Id> known(index_files_.begin(), index_files_.end());
  for (const Id& id : old_files) {
    if (known.count(id)) continue;
    HALLEY_ASSIGN_OR_RETURN(std::string text, repo_.LoadUnpacked(ObjectType::kIndex, id));
    HALLEY_ASSIGN_OR_RETURN(repo::IndexFile f, repo::DecodeIndexFile(text));
    for (auto& p : f.packs) pack_blobs_.try_emplace(p.id, std::move(p.blobs));
  }
  auto stays = [&](const Id& pack) {
    auto it = packs_.find(pack);
    return !missing_unused_.count(pack) && (it == packs_.end() || it->second.fate == Fate::kKeep);
  };
  std::vector<repo::IndexPack> packs;
  for (const auto& [pack, blobs] : pack_blobs_) {
    if (stays(pack)) packs.push_back({pack, blobs});
  }
  HALLEY_ASSIGN_OR_RETURN(size_t written, repo_.WriteIndexFiles(std::move(packs)));
  stats_.index_files_written += written;
  // The new index is complete and durable: the old files can go.
  for (const Id& id : old_files) {
    HALLEY_RETURN_IF_ERROR(repo_.Store().Remove({ObjectType::kIndex, id.Hex()}));
    stats_.index_files_removed++;
  }
  // The in-memory index follows: what reading the files just written would give.
  repo::Index& index = repo_.GetIndex();
  index.Clear();
  for (const auto& [pack, blobs] : pack_blobs_) {
    if (stays(pack)) index.AddPack(pack, blobs);
  }
  return {};
}

Result<void> Pruner::UpdatePackIndexes() {
  std::set<Id> gone;
  for (const auto& [pack, info] : packs_) {
    if (info.fate != Fate::kKeep) gone.insert(pack);
  }
  gone.insert(missing_unused_.begin(), missing_unused_.end());
  std::vector<Id> written = repo_.WrittenPacks(packs_written_before_);
  std::set<Id> existing;
  std::map<Id, Id> trees;  // snapshot -> root tree
  for (const auto& s : snapshots_) {
    existing.insert(s.id);
    trees.emplace(s.id, s.snapshot.tree);
  }
  for (const auto& [snap, packs] : snapshot_packs_) {
    bool had_file = packindexes_.files.count(snap) > 0;
    bool touched = !had_file;
    std::set<Id> next;
    for (const Id& p : packs) {
      // A pack that goes away, or that no index knows (left by an interrupted prune).
      if (gone.count(p) || !pack_blobs_.count(p)) {
        touched = true;
      } else {
        next.insert(p);
      }
    }
    if (!touched) continue;
    if (fast_) {
      // (Not reached: the fast path removes only packs no packindex names.)
      next.insert(written.begin(), written.end());
    } else {
      // Where do the blobs of the packs that go away live now? In packs this prune wrote, but
      // also in packs an earlier, interrupted prune wrote (it repacked them, swapped the index,
      // and died before rewriting this packindex), which no packindex may name: the retention
      // pass, which trusts packindex files, would then delete data this snapshot needs. So
      // the set is computed again from the snapshot's trees against the final index (the
      // in-memory index, like the files, now holds exactly the packs that stay and the new
      // ones: WriteFinalIndex).
      HALLEY_ASSIGN_OR_RETURN(next, PacksOfTree(repo_, trees.at(snap), opts_.stop));
    }
    HALLEY_RETURN_IF_ERROR(WritePackIndex(repo_, snap, next));
    stats_.packindex_written++;
    if (had_file) {
      HALLEY_RETURN_IF_ERROR(RemovePackIndexFiles(repo_, packindexes_.files.at(snap)));
      stats_.packindex_removed += packindexes_.files.at(snap).size();
    }
  }
  // Packindex files of snapshots that no longer exist.
  for (const auto& [snap, files] : packindexes_.files) {
    if (existing.count(snap)) continue;
    HALLEY_RETURN_IF_ERROR(RemovePackIndexFiles(repo_, files));
    stats_.packindex_removed += files.size();
  }
  return {};
}

Result<void> Pruner::DeletePacks() {
  std::vector<Id> doomed(orphans_.begin(), orphans_.end());
  for (const auto& [pack, info] : packs_) {
    if (info.fate != Fate::kKeep && stored_.count(pack)) doomed.push_back(pack);
  }
  Log("deleting " + std::to_string(doomed.size()) + " packs");
  for (const Id& p : doomed) {
    HALLEY_RETURN_IF_ERROR(repo_.Store().Remove({ObjectType::kData, p.Hex()}));
  }
  return {};
}

Result<PruneStats> Pruner::Run() {
  std::vector<Error> unreadable;
  HALLEY_ASSIGN_OR_RETURN(snapshots_, ListSnapshots(repo_, &unreadable));
  if (!unreadable.empty()) {
    return Fail(ErrorCode::kCorruption,
                unreadable.front().Message() +
                    "\nan unreadable snapshot may still need data, so nothing was pruned; "
                    "remove or repair it first");
  }
  stats_.snapshots = snapshots_.size();
  packs_written_before_ = repo_.Stats().packs;
  Log("loading indexes");
  HALLEY_RETURN_IF_ERROR(LoadIndexFiles());
  HALLEY_RETURN_IF_ERROR(FindUsedBlobs());
  HALLEY_RETURN_IF_ERROR(Classify());
  if (opts_.dry_run) return stats_;
  bool nothing = stats_.remove_packs == 0 && stats_.repack_packs == 0 && orphans_.empty() &&
                 missing_unused_.empty();
  if (!nothing) {
    HALLEY_RETURN_IF_ERROR(CheckLock());
    HALLEY_RETURN_IF_ERROR(Repack());
    HALLEY_RETURN_IF_ERROR(CheckLock());
    if (stats_.remove_packs || stats_.repack_packs || !missing_unused_.empty()) {
      HALLEY_RETURN_IF_ERROR(WriteFinalIndex());
    }
  }
  HALLEY_RETURN_IF_ERROR(UpdatePackIndexes());
  if (!nothing) {
    HALLEY_RETURN_IF_ERROR(CheckLock());
    HALLEY_RETURN_IF_ERROR(DeletePacks());
  }
  return stats_;
}

}  // namespace

Result<PruneStats> Prune(repo::Repository& repo, const PruneOptions& options) {
  Pruner p(repo, options);
  return p.Run();
}

}  // namespace halley::engine
