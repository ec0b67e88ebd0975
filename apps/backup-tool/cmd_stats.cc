// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "commands.h"
#include "crypto/hash.h"
#include "crypto/seal.h"
#include "engine/snapshots.h"
#include "tree_walk.h"

namespace halley::cli {
namespace {

using snapshot::Node;
using snapshot::NodeType;
using IdSet = std::unordered_set<Id, IdHash>;

struct StatsFlags {
  std::vector<std::string> snapshots;
  std::string mode = "restore-size";
  engine::SnapshotFilter filter;
};

struct Totals {
  uint64_t snapshots = 0;
  uint64_t files = 0;
  uint64_t size = 0;
  uint64_t blobs = 0;
  uint64_t packs = 0;
  uint64_t uncompressed_size = 0;
  double compression_ratio = 0, compression_progress = 0, compression_space_saving = 0;
  uint64_t restore_size = 0;     // raw-data: what the snapshots would restore, for the ratio
  uint64_t plain_data_size = 0;  // raw-data: unique file data, uncompressed
};

// restore-size: every node of every snapshot counts once per snapshot (as restic: each unique
// snapshot and path), file sizes add up, except that hard links to one inode count once. A
// subtree without hard links gives the same result wherever it appears, so its result is kept.
class RestoreSize {
 public:
  RestoreSize(const Cli& cli, TreeCache& cache) : cli_(cli), cache_(cache) {}

  Result<void> Snapshot(const Id& root, Totals& t) {
    hardlinks_.clear();
    HALLEY_ASSIGN_OR_RETURN(Sub s, Walk(root));
    t.files += s.count;
    t.size += s.size;
    return {};
  }

 private:
  struct Sub {
    uint64_t count = 0, size = 0;
    bool hardlinks = false;
  };

  Result<Sub> Walk(const Id& id) {
    if (auto it = memo_.find(id); it != memo_.end()) return it->second;
    HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
    HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(id));
    Sub s;
    for (const auto& n : tree->nodes) {
      ++s.count;
      if (n.type == NodeType::kFile) {
        if (n.links > 1 && n.inode != 0) {
          s.hardlinks = true;
          if (hardlinks_.insert({n.device_id, n.inode}).second) s.size += n.size;
        } else {
          s.size += n.size;
        }
      } else if (n.type == NodeType::kDir && n.subtree) {
        HALLEY_ASSIGN_OR_RETURN(Sub sub, Walk(*n.subtree));
        s.count += sub.count;
        s.size += sub.size;
        s.hardlinks = s.hardlinks || sub.hardlinks;
      }
    }
    if (!s.hardlinks) memo_[id] = s;
    return s;
  }

  const Cli& cli_;
  TreeCache& cache_;
  std::unordered_map<Id, Sub, IdHash> memo_;
  std::set<std::pair<uint64_t, uint64_t>> hardlinks_;  // (device, inode) in this snapshot
};

// raw-data: the unique blobs the snapshots reference, as stored.
class RawData {
 public:
  RawData(const Cli& cli, TreeCache& cache) : cli_(cli), cache_(cache) {}

  Result<void> Snapshot(const Id& root) {
    trees_.insert(root);
    return Walk(root);
  }

  Result<void> Finish(Totals& t) {
    auto& index = cache_.Repo().GetIndex();
    std::unordered_set<Id, IdHash> packs;
    uint64_t compressed_size = 0, compressed_uncompressed = 0;
    uint64_t missing = 0;
    auto add = [&](repo::BlobType type, const Id& id) {
      auto loc = index.Lookup(type, id);
      if (!loc) {
        cli_.Warn("error: " + std::string(repo::BlobTypeName(type)) + " blob " + id.Hex() +
                  " is not in the index\n");
        ++missing;
        return;
      }
      ++t.blobs;
      packs.insert(loc->pack);
      t.size += loc->length;
      // As restic: the uncompressed size counts the encryption overhead too, so that both
      // sizes compare what the blob would take stored uncompressed with what it takes.
      uint64_t plain = loc->PlainSize() + crypto::kSealOverhead;
      t.uncompressed_size += plain;
      if (type == repo::BlobType::kData) t.plain_data_size += loc->PlainSize();
      if (loc->uncompressed_length != 0) {
        compressed_size += loc->length;
        compressed_uncompressed += plain;
      }
    };
    for (const auto& id : data_) add(repo::BlobType::kData, id);
    for (const auto& id : trees_) add(repo::BlobType::kTree, id);
    t.packs = packs.size();
    if (compressed_size > 0) {
      t.compression_ratio =
          static_cast<double>(compressed_uncompressed) / static_cast<double>(compressed_size);
    }
    if (t.uncompressed_size > 0) {
      t.compression_progress = static_cast<double>(compressed_uncompressed) /
                               static_cast<double>(t.uncompressed_size) * 100;
      t.compression_space_saving =
          (1 - static_cast<double>(t.size) / static_cast<double>(t.uncompressed_size)) * 100;
    }
    if (missing > 0) {
      return Fail(ErrorCode::kCorruption,
                  std::to_string(missing) + " referenced blobs are missing from the index");
    }
    return {};
  }

 private:
  Result<void> Walk(const Id& id) {
    if (!visited_.insert(id).second) return {};
    HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
    HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(id));
    for (const auto& n : tree->nodes) {
      if (n.type == NodeType::kFile && n.content) {
        for (const auto& b : *n.content) data_.insert(b);
      } else if (n.type == NodeType::kDir && n.subtree) {
        trees_.insert(*n.subtree);
        HALLEY_RETURN_IF_ERROR(Walk(*n.subtree));
      }
    }
    return {};
  }

  const Cli& cli_;
  TreeCache& cache_;
  IdSet visited_, data_, trees_;
};

// files-by-contents and blobs-per-file (restic's definitions): files unique by content; in
// blobs-per-file mode, for each such file the size of each blob once per path.
class ByContents {
 public:
  ByContents(const Cli& cli, TreeCache& cache, bool blobs_per_file)
      : cli_(cli), cache_(cache), blobs_per_file_(blobs_per_file) {}

  Result<void> Snapshot(const Id& root, Totals& t) { return Walk(root, "/", t); }

 private:
  Id ContentId(const Node& n) {
    for (const auto& id : *n.content) hasher_.Update(id.bytes);
    return hasher_.Finish();
  }

  Result<void> Walk(const Id& id, const std::string& dir, Totals& t) {
    // By content only, a tree seen before adds nothing; by path, it may.
    if (!blobs_per_file_ && !visited_.insert(id).second) return {};
    HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
    HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(id));
    for (const auto& n : tree->nodes) {
      std::string path = JoinPath(dir, n.name);
      if (n.type == NodeType::kFile && n.content) {
        if (!unique_files_.insert(ContentId(n)).second) continue;
        if (!blobs_per_file_) {
          ++t.files;
          t.size += n.size;
          continue;
        }
        for (const auto& b : *n.content) {
          auto [it, new_path] = file_blobs_.try_emplace(path);
          if (new_path) ++t.files;
          if (!it->second.insert(b).second) continue;
          auto loc = cache_.Repo().GetIndex().Lookup(repo::BlobType::kData, b);
          if (loc) t.size += loc->PlainSize();
          ++t.blobs;
        }
      } else if (n.type == NodeType::kDir && n.subtree) {
        HALLEY_RETURN_IF_ERROR(Walk(*n.subtree, path, t));
      }
    }
    return {};
  }

  const Cli& cli_;
  TreeCache& cache_;
  bool blobs_per_file_;
  crypto::Sha256Hasher hasher_;
  IdSet visited_, unique_files_;
  std::unordered_map<std::string, IdSet> file_blobs_;
};

// added: for each snapshot, oldest first, the blobs it references that no earlier snapshot of
// the selection references: what that backup added to the vault (as stored, and before
// compression and encryption).
class Added {
 public:
  Added(const Cli& cli, TreeCache& cache) : cli_(cli), cache_(cache) {}

  struct Row {
    uint64_t blobs = 0, plain = 0, stored = 0;
  };
  Result<Row> Snapshot(const Id& root) {
    Row row;
    HALLEY_RETURN_IF_ERROR(Add(repo::BlobType::kTree, root, row));
    std::vector<Id> stack{root};
    while (!stack.empty()) {
      Id id = stack.back();
      stack.pop_back();
      if (!trees_.insert(id).second) continue;  // seen in an earlier snapshot: nothing new
      HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
      HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(id));
      for (const auto& n : tree->nodes) {
        if (n.content) {
          for (const auto& b : *n.content)
            HALLEY_RETURN_IF_ERROR(Add(repo::BlobType::kData, b, row));
        }
        if (n.subtree) {
          HALLEY_RETURN_IF_ERROR(Add(repo::BlobType::kTree, *n.subtree, row));
          stack.push_back(*n.subtree);
        }
      }
    }
    return row;
  }

 private:
  Result<void> Add(repo::BlobType type, const Id& id, Row& row) {
    if (!(type == repo::BlobType::kTree ? tree_blobs_ : data_blobs_).insert(id).second) return {};
    auto loc = cache_.Repo().GetIndex().Lookup(type, id);
    if (!loc) {
      return Fail(ErrorCode::kCorruption, std::string(repo::BlobTypeName(type)) + " blob " +
                                              id.Short() + " is not in the index");
    }
    row.blobs++;
    row.plain += loc->PlainSize();
    row.stored += loc->length;
    return {};
  }

  const Cli& cli_;
  TreeCache& cache_;
  IdSet trees_, tree_blobs_, data_blobs_;
};

int RunAdded(Cli& cli, TreeCache& cache, const std::vector<engine::SnapshotEntry>& snaps) {
  Added added(cli, cache);
  OrderedJson rows = OrderedJson::array();
  std::string out = "Data each snapshot added (blobs no earlier snapshot uses):\n";
  std::vector<engine::SnapshotEntry> ordered(snaps);
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.snapshot.time < b.snapshot.time; });
  for (const auto& s : ordered) {
    auto row = added.Snapshot(s.snapshot.tree);
    if (!row) return cli.Fatal(row.error().WithContext("snapshot " + s.id.Short()));
    OrderedJson j;
    j["snapshot"] = s.id.Hex();
    j["time"] = FormatRfc3339Nano(s.snapshot.time);
    j["added_blobs"] = row->blobs;
    j["added_bytes"] = row->plain;
    j["added_stored_bytes"] = row->stored;
    rows.push_back(j);
    out += s.id.Short() + "  " + FormatHuman(s.snapshot.time) + "  " + FormatBytes(row->plain) +
           " (" + FormatBytes(row->stored) + " stored, " + std::to_string(row->blobs) + " blobs)\n";
  }
  if (cli.global.json) {
    cli.PrintJson(rows);
  } else {
    cli.Print(out);
  }
  return kExitOk;
}

void PrintTotals(const Cli& cli, const std::string& mode, const Totals& t) {
  bool raw = mode == "raw-data";
  bool blobs = raw || mode == "blobs-per-file";
  bool files = !raw;
  if (cli.global.json) {
    OrderedJson j;
    j["total_size"] = t.size;
    if (raw) {
      j["total_uncompressed_size"] = t.uncompressed_size;
      j["compression_ratio"] = t.compression_ratio;
      j["compression_progress"] = t.compression_progress;
      j["compression_space_saving"] = t.compression_space_saving;
    }
    if (files) j["total_file_count"] = t.files;
    if (blobs) j["total_blob_count"] = t.blobs;
    if (raw) j["total_pack_count"] = t.packs;
    if (raw && t.plain_data_size) {
      j["deduplication_ratio"] =
          static_cast<double>(t.restore_size) / static_cast<double>(t.plain_data_size);
    }
    j["snapshots_count"] = t.snapshots;
    cli.PrintJson(j);
    return;
  }
  auto ull = [](uint64_t n) { return static_cast<unsigned long long>(n); };
  char buf[128];
  std::string out = "Stats in " + mode + " mode:\n";
  std::snprintf(buf, sizeof buf, "     Snapshots processed:  %llu\n", ull(t.snapshots));
  out += buf;
  if (blobs) {
    std::snprintf(buf, sizeof buf, "        Total Blob Count:  %llu\n", ull(t.blobs));
    out += buf;
  }
  if (raw) {
    std::snprintf(buf, sizeof buf, "        Total Pack Count:  %llu\n", ull(t.packs));
    out += buf;
  }
  if (files) {
    std::snprintf(buf, sizeof buf, "        Total File Count:  %llu\n", ull(t.files));
    out += buf;
  }
  if (raw) out += " Total Uncompressed Size:  " + FormatBytes(t.uncompressed_size) + "\n";
  out += "              Total Size:  " + FormatBytes(t.size) + "\n";
  if (raw) {
    std::snprintf(buf, sizeof buf,
                  "    Compression Progress:  %.2f%%\n"
                  "       Compression Ratio:  %.2fx\n"
                  "Compression Space Saving:  %.2f%%\n",
                  t.compression_progress, t.compression_ratio, t.compression_space_saving);
    out += buf;
    if (t.plain_data_size) {
      // What the snapshots would restore, over the file data stored once.
      std::snprintf(buf, sizeof buf, "     Deduplication Ratio:  %.2fx\n",
                    static_cast<double>(t.restore_size) / static_cast<double>(t.plain_data_size));
      out += buf;
    }
  }
  cli.Print(out);
}

int RunStats(Cli& cli, const StatsFlags& f) {
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, true, code);
  if (!v) return code;
  const engine::SnapshotFilter& filter = f.filter;
  auto snaps = SelectSnapshots(cli, *v->repo, f.snapshots, filter);
  if (!snaps) return cli.Fatal(snaps.error());

  TreeCache cache(*v->repo);
  if (f.mode == "added") return RunAdded(cli, cache, *snaps);
  Totals t;
  RestoreSize restore_size(cli, cache);
  RawData raw_data(cli, cache);
  ByContents by_contents(cli, cache, f.mode == "blobs-per-file");
  Totals restore_totals;  // raw-data: the restore size, for the deduplication ratio
  for (const auto& s : *snaps) {
    ++t.snapshots;
    if (f.mode == "raw-data") {
      auto rs = restore_size.Snapshot(s.snapshot.tree, restore_totals);
      if (!rs) return cli.Fatal(rs.error().WithContext("snapshot " + s.id.Short()));
    }
    Result<void> r = f.mode == "restore-size" ? restore_size.Snapshot(s.snapshot.tree, t)
                     : f.mode == "raw-data"   ? raw_data.Snapshot(s.snapshot.tree)
                                              : by_contents.Snapshot(s.snapshot.tree, t);
    if (!r) return cli.Fatal(r.error().WithContext("snapshot " + s.id.Short()));
  }
  t.restore_size = restore_totals.size;
  Result<void> fin = f.mode == "raw-data" ? raw_data.Finish(t) : Result<void>{};
  PrintTotals(cli, f.mode, t);
  if (!fin) return cli.Fatal(fin.error());
  return kExitOk;
}

}  // namespace

void AddStats(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<StatsFlags>();
  auto* cmd = app.add_subcommand("stats", "count files and sizes of snapshots (default: all)");
  cmd->add_option("snapshots", f->snapshots, "snapshot IDs, prefixes or \"latest\"");
  cmd->add_option("--mode", f->mode,
                  "restore-size (default), raw-data, files-by-contents, blobs-per-file or added "
                  "(what each snapshot added)")
      ->check(CLI::IsMember(
          {"restore-size", "raw-data", "files-by-contents", "blobs-per-file", "added"}));
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/false);
  cmd->callback([&cli, f] { cli.exit_code = RunStats(cli, *f); });
}

}  // namespace halley::cli
