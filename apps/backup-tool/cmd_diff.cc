// SPDX-License-Identifier: Apache-2.0
#include <cstdio>
#include <iostream>
#include <unordered_set>

#include "commands.h"
#include "engine/snapshots.h"
#include "node_format.h"
#include "snapshot_ref.h"
#include "tree_walk.h"

namespace halley::cli {
namespace {

using snapshot::Node;
using snapshot::NodeType;

struct DiffFlags {
  std::string a, b;
  bool metadata = false;
  engine::SnapshotFilter filter;
};

using IdSet = std::unordered_set<Id, IdHash>;

// Blobs referenced by one side, by type.
struct BlobSet {
  IdSet data, trees;
};

struct DiffStat {
  uint64_t files = 0, dirs = 0, others = 0, data_blobs = 0, tree_blobs = 0, bytes = 0;

  void Add(const Node& n) {
    if (n.type == NodeType::kFile) {
      ++files;
    } else if (n.type == NodeType::kDir) {
      ++dirs;
    } else {
      ++others;
    }
  }
  OrderedJson Json() const {
    OrderedJson j;
    j["files"] = files;
    j["dirs"] = dirs;
    j["others"] = others;
    j["data_blobs"] = data_blobs;
    j["tree_blobs"] = tree_blobs;
    j["bytes"] = bytes;
    return j;
  }
};

struct DiffResult {
  uint64_t changed_files = 0;
  DiffStat added, removed;
};

void AddBlobs(BlobSet& set, const Node& n) {
  if (n.type == NodeType::kFile && n.content) {
    for (const auto& id : *n.content) set.data.insert(id);
  } else if (n.type == NodeType::kDir && n.subtree) {
    set.trees.insert(*n.subtree);
  }
}

// Compares two trees as restic's `diff`: both are walked together in name order; subtrees with
// the same ID are equal and are not loaded. The blob statistics need to know which blobs the
// equal subtrees hold only if a blob seen in the differing parts could also be in them, so
// those subtrees are read at the end, once each, and only while such candidates remain.
class Comparer {
 public:
  Comparer(const Cli& cli, TreeCache& cache, bool metadata)
      : cli_(cli), cache_(cache), metadata_(metadata) {}

  // Prints the changes from tree `a` to tree `b` and returns the statistics.
  Result<DiffResult> Compare(const Id& a, const Id& b) {
    before_.trees.insert(a);
    after_.trees.insert(b);
    if (a == b) {
      common_trees_.push_back(a);
    } else {
      HALLEY_RETURN_IF_ERROR(DiffTree("/", a, b));
    }
    HALLEY_RETURN_IF_ERROR(CountBlobs());
    return r_;
  }

 private:
  void Change(const std::string& path, const std::string& modifier) {
    if (cli_.global.json) {
      OrderedJson j;
      j["message_type"] = "change";
      j["path"] = path;
      j["modifier"] = modifier;
      WriteJsonLine(j);
    } else {
      std::string m = modifier;
      if (m.size() < 5) m.resize(5, ' ');
      WriteLine(m + path);
    }
  }

  Result<void> DiffTree(const std::string& prefix, const Id& id1, const Id& id2) {
    HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
    HALLEY_ASSIGN_OR_RETURN(auto t1, cache_.Load(id1));
    HALLEY_ASSIGN_OR_RETURN(auto t2, cache_.Load(id2));
    const auto& n1 = t1->nodes;
    const auto& n2 = t2->nodes;
    size_t i = 0, j = 0;
    while (i < n1.size() || j < n2.size()) {
      const Node* a = nullptr;
      const Node* b = nullptr;
      if (j == n2.size() || (i < n1.size() && n1[i].name < n2[j].name)) {
        a = &n1[i++];
      } else if (i == n1.size() || n2[j].name < n1[i].name) {
        b = &n2[j++];
      } else {
        a = &n1[i++];
        b = &n2[j++];
      }
      if (a) AddBlobs(before_, *a);
      if (b) AddBlobs(after_, *b);
      if (a && b) {
        HALLEY_RETURN_IF_ERROR(Both(prefix, *a, *b));
      } else if (a) {
        std::string path = JoinPath(prefix, a->name);
        Change(path + (a->type == NodeType::kDir ? "/" : ""), "-");
        r_.removed.Add(*a);
        if (a->type == NodeType::kDir && a->subtree) {
          HALLEY_RETURN_IF_ERROR(PrintDir("-", r_.removed, before_, path, *a->subtree));
        }
      } else {
        std::string path = JoinPath(prefix, b->name);
        Change(path + (b->type == NodeType::kDir ? "/" : ""), "+");
        r_.added.Add(*b);
        if (b->type == NodeType::kDir && b->subtree) {
          HALLEY_RETURN_IF_ERROR(PrintDir("+", r_.added, after_, path, *b->subtree));
        }
      }
    }
    return {};
  }

  Result<void> Both(const std::string& prefix, const Node& a, const Node& b) {
    std::string path = JoinPath(prefix, a.name);
    std::string mod;
    if (a.type != b.type) mod += "T";
    if (a.type == NodeType::kFile && b.type == NodeType::kFile && a.content != b.content) {
      mod += "M";
      ++r_.changed_files;
      Node a0 = a, b0 = b;
      a0.content.reset();
      b0.content.reset();
      if (a0 == b0) mod += "?";  // same metadata, other content: probably bit rot
    } else if (metadata_ && !(a == b)) {
      mod += "U";
    }
    if (!mod.empty()) Change(path + (b.type == NodeType::kDir ? "/" : ""), mod);
    bool dir1 = a.type == NodeType::kDir && a.subtree;
    bool dir2 = b.type == NodeType::kDir && b.subtree;
    if (dir1 && dir2) {
      if (*a.subtree == *b.subtree) {
        common_trees_.push_back(*a.subtree);
        return {};
      }
      return DiffTree(path, *a.subtree, *b.subtree);
    }
    if (dir1) return PrintDir("-", r_.removed, before_, path, *a.subtree);
    if (dir2) return PrintDir("+", r_.added, after_, path, *b.subtree);
    return {};
  }

  // Everything beneath a directory that exists on one side only.
  Result<void> PrintDir(const std::string& mod, DiffStat& stat, BlobSet& blobs,
                        const std::string& prefix, const Id& id) {
    HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
    HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(id));
    for (const auto& n : tree->nodes) {
      std::string path = JoinPath(prefix, n.name);
      Change(path + (n.type == NodeType::kDir ? "/" : ""), mod);
      stat.Add(n);
      AddBlobs(blobs, n);
      if (n.type == NodeType::kDir && n.subtree) {
        HALLEY_RETURN_IF_ERROR(PrintDir(mod, stat, blobs, path, *n.subtree));
      }
    }
    return {};
  }

  Result<void> CountBlobs() {
    // Candidates: blobs seen on one side only, in the parts that differ.
    BlobSet only_before, only_after;
    for (const auto& id : before_.data)
      if (!after_.data.count(id)) only_before.data.insert(id);
    for (const auto& id : before_.trees)
      if (!after_.trees.count(id)) only_before.trees.insert(id);
    for (const auto& id : after_.data)
      if (!before_.data.count(id)) only_after.data.insert(id);
    for (const auto& id : after_.trees)
      if (!before_.trees.count(id)) only_after.trees.insert(id);
    // A candidate inside an equal subtree is on both sides after all.
    size_t left = only_before.data.size() + only_before.trees.size() + only_after.data.size() +
                  only_after.trees.size();
    IdSet visited;
    std::vector<Id> stack(common_trees_.begin(), common_trees_.end());
    while (left > 0 && !stack.empty()) {
      HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
      Id id = stack.back();
      stack.pop_back();
      if (!visited.insert(id).second) continue;
      left -= only_before.trees.erase(id) + only_after.trees.erase(id);
      HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(id));
      for (const auto& n : tree->nodes) {
        if (n.type == NodeType::kFile && n.content) {
          for (const auto& b : *n.content) {
            left -= only_before.data.erase(b) + only_after.data.erase(b);
          }
        } else if (n.type == NodeType::kDir && n.subtree) {
          stack.push_back(*n.subtree);
        }
      }
    }
    auto& index = cache_.Repo().GetIndex();
    auto count = [&](const BlobSet& set, DiffStat& stat) {
      for (const auto& id : set.data) {
        ++stat.data_blobs;
        if (auto loc = index.Lookup(repo::BlobType::kData, id)) stat.bytes += loc->PlainSize();
      }
      for (const auto& id : set.trees) {
        ++stat.tree_blobs;
        if (auto loc = index.Lookup(repo::BlobType::kTree, id)) stat.bytes += loc->PlainSize();
      }
    };
    count(only_before, r_.removed);
    count(only_after, r_.added);
    return {};
  }

  const Cli& cli_;
  TreeCache& cache_;
  bool metadata_;
  DiffResult r_;
  BlobSet before_, after_;
  std::vector<Id> common_trees_;
};

// The root tree of SNAPSHOT or the subtree at SNAPSHOT:PATH.
Result<Id> ResolveTree(repo::Repository& repo, const engine::SnapshotEntry& snap,
                       const std::string& path) {
  if (path.empty() || CleanPath(path) == "/") return snap.snapshot.tree;
  HALLEY_ASSIGN_OR_RETURN(auto node, engine::FindNode(repo, snap.snapshot.tree, path));
  if (node.type != NodeType::kDir || !node.subtree) {
    return Fail(ErrorCode::kInvalidArgument,
                "\"" + path + "\" in snapshot " + snap.id.Short() + " is not a directory");
  }
  return *node.subtree;
}

int RunDiff(Cli& cli, const DiffFlags& f) {
  IgnoreSigpipe();
  SnapshotRef ra = ParseSnapshotRef(f.a), rb = ParseSnapshotRef(f.b);
  if (auto unlocked = cli.UnlockContents(); !unlocked) return cli.Fatal(unlocked.error());
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, true, code);
  if (!v) return code;
  const engine::SnapshotFilter& filter = f.filter;
  auto sa = engine::FindSnapshot(*v->repo, ra.id, filter);
  if (!sa) return cli.Fatal(sa.error());
  auto sb = engine::FindSnapshot(*v->repo, rb.id, filter);
  if (!sb) return cli.Fatal(sb.error());
  auto ta = ResolveTree(*v->repo, *sa, ra.path);
  if (!ta) return cli.Fatal(ta.error());
  auto tb = ResolveTree(*v->repo, *sb, rb.path);
  if (!tb) return cli.Fatal(tb.error());

  cli.Print("comparing snapshot " + sa->id.Short() + " to " + sb->id.Short() + ":\n\n");
  TreeCache cache(*v->repo);
  auto r = Comparer(cli, cache, f.metadata).Compare(*ta, *tb);
  std::cout.flush();
  if (!r) return WalkFailed(cli, r.error());
  const DiffResult& c = *r;

  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "statistics";
    j["source_snapshot"] = sa->id.Hex();
    j["target_snapshot"] = sb->id.Hex();
    j["changed_files"] = c.changed_files;
    j["added"] = c.added.Json();
    j["removed"] = c.removed.Json();
    cli.PrintJson(j);
    return kExitOk;
  }
  auto ull = [](uint64_t n) { return static_cast<unsigned long long>(n); };
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "\n"
                "Files:       %5llu new, %5llu removed, %5llu changed\n"
                "Dirs:        %5llu new, %5llu removed\n"
                "Others:      %5llu new, %5llu removed\n"
                "Data Blobs:  %5llu new, %5llu removed\n"
                "Tree Blobs:  %5llu new, %5llu removed\n",
                ull(c.added.files), ull(c.removed.files), ull(c.changed_files), ull(c.added.dirs),
                ull(c.removed.dirs), ull(c.added.others), ull(c.removed.others),
                ull(c.added.data_blobs), ull(c.removed.data_blobs), ull(c.added.tree_blobs),
                ull(c.removed.tree_blobs));
  cli.Print(std::string(buf) + "  Added:   " + FormatBytes(c.added.bytes) + "\n" +
            "  Removed: " + FormatBytes(c.removed.bytes) + "\n");
  return kExitOk;
}

}  // namespace

void AddDiff(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<DiffFlags>();
  auto* cmd = app.add_subcommand("diff", "show differences between two snapshots");
  cmd->add_option("snapshot-a", f->a,
                  "the older snapshot (ID, prefix, \"latest\"; optionally :PATH)")
      ->required();
  cmd->add_option("snapshot-b", f->b,
                  "the newer snapshot (ID, prefix, \"latest\"; optionally :PATH)")
      ->required();
  cmd->add_flag("--metadata", f->metadata, "also show files whose metadata changed (U)");
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/true);
  cmd->callback([&cli, f] { cli.exit_code = RunDiff(cli, *f); });
}

}  // namespace halley::cli
