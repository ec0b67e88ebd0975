// SPDX-License-Identifier: Apache-2.0
#include <fnmatch.h>

#include <algorithm>
#include <iostream>
#include <unordered_set>

#include "commands.h"
#include "engine/snapshots.h"
#include "node_format.h"
#include "tree_walk.h"

namespace halley::cli {
namespace {

using snapshot::Node;
using snapshot::NodeType;

struct FindFlags {
  std::vector<std::string> args;  // patterns, or ID prefixes with --blob/--tree
  std::vector<std::string> snapshots;
  bool ignore_case = false;
  bool long_format = false;
  bool numeric = false;
  bool blob = false;
  bool tree = false;
  bool show_pack_id = false;
  engine::SnapshotFilter filter;
};

using IdSet = std::unordered_set<Id, IdHash>;

// A name pattern (no '/') matches a node's name; a path pattern matches its full path component
// by component, '*' and '?' not crossing '/', "**" matching any number of components. A path
// pattern starting with '/' is anchored at the root, any other may start at any depth.
class Pattern {
 public:
  Pattern(const std::string& text, bool ignore_case) : flags_(ignore_case ? FNM_CASEFOLD : 0) {
    if (text.find('/') == std::string::npos) {
      name_ = text;
      return;
    }
    is_path_ = true;
    anchored_ = text[0] == '/';
    parts_ = engine::SplitPath(text);
  }
  bool IsPath() const { return is_path_; }

  bool Matches(const std::string& name, const std::vector<std::string>& path) const {
    if (!is_path_) return ::fnmatch(name_.c_str(), name.c_str(), flags_) == 0;
    if (anchored_) return MatchFrom(0, path, 0);
    for (size_t start = 0; start < path.size(); ++start) {
      if (MatchFrom(0, path, start)) return true;
    }
    return false;
  }

 private:
  bool MatchFrom(size_t pi, const std::vector<std::string>& path, size_t si) const {
    if (pi == parts_.size()) return si == path.size();
    if (parts_[pi] == "**") {
      for (size_t k = si; k <= path.size(); ++k) {
        if (MatchFrom(pi + 1, path, k)) return true;
      }
      return false;
    }
    if (si == path.size()) return false;
    return ::fnmatch(parts_[pi].c_str(), path[si].c_str(), flags_) == 0 &&
           MatchFrom(pi + 1, path, si + 1);
  }

  int flags_;
  bool is_path_ = false;
  bool anchored_ = false;
  std::string name_;
  std::vector<std::string> parts_;
};

std::string SnapshotHeaderTime(const engine::SnapshotEntry& e) {
  return FormatHuman(e.snapshot.time);
}

// Searching by name or path.
class NameFinder {
 public:
  NameFinder(const Cli& cli, TreeCache& cache, const FindFlags& f)
      : cli_(cli), cache_(cache), f_(f) {
    bool names_only = true;
    for (const auto& p : f.args) {
      patterns_.emplace_back(p, f.ignore_case);
      if (patterns_.back().IsPath()) names_only = false;
    }
    // Name patterns do not depend on where a tree sits, so a tree without a match never has
    // one: remember those and skip them in later snapshots.
    memo_ = names_only;
  }

  Result<void> Run(const std::vector<engine::SnapshotEntry>& snaps) {
    bool first_group = true;
    if (cli_.global.json) std::cout << "[";
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
      matches_ = OrderedJson::array();
      hits_ = 0;
      header_ = "Found matching entries in snapshot " + it->id.Short() + " from " +
                SnapshotHeaderTime(*it);
      header_printed_ = false;
      need_blank_ = !first_group;
      std::vector<std::string> components;
      bool any = false;
      HALLEY_RETURN_IF_ERROR(Walk(it->snapshot.tree, "/", components, any));
      if (hits_ == 0) continue;
      if (cli_.global.json) {
        OrderedJson g;
        g["matches"] = std::move(matches_);
        g["hits"] = hits_;
        g["snapshot"] = it->id.Hex();
        std::cout << (first_group ? "" : ",") << DumpJson(g);
      }
      first_group = false;
    }
    if (cli_.global.json) std::cout << "]\n";
    std::cout.flush();
    return {};
  }

 private:
  Result<void> Walk(const Id& tree_id, const std::string& dir, std::vector<std::string>& components,
                    bool& any) {
    HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
    if (memo_ && no_match_.count(tree_id)) return {};
    HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(tree_id));
    bool here = false;
    for (const auto& node : tree->nodes) {
      std::string path = JoinPath(dir, node.name);
      components.push_back(node.name);
      for (const auto& p : patterns_) {
        if (p.Matches(node.name, components)) {
          Emit(node, path);
          here = true;
          break;
        }
      }
      if (node.type == NodeType::kDir && node.subtree) {
        HALLEY_RETURN_IF_ERROR(Walk(*node.subtree, path, components, here));
      }
      components.pop_back();
    }
    if (here) {
      any = true;
    } else if (memo_) {
      no_match_.insert(tree_id);
    }
    return {};
  }

  void Emit(const Node& node, const std::string& path) {
    ++hits_;
    if (cli_.global.json) {
      matches_.push_back(FindNodeJson(node, path));
      return;
    }
    if (!header_printed_) {
      if (need_blank_) WriteLine("");
      WriteLine(header_);
      header_printed_ = true;
    }
    WriteLine(f_.long_format ? LongLine(node, path, LongFormat{f_.numeric, false}) : path);
  }

  const Cli& cli_;
  TreeCache& cache_;
  const FindFlags& f_;
  std::vector<Pattern> patterns_;
  bool memo_ = false;
  IdSet no_match_;
  OrderedJson matches_;
  uint64_t hits_ = 0;
  std::string header_;
  bool header_printed_ = false;
  bool need_blank_ = false;
};

// Searching for the files and directories that reference blobs or trees (--blob / --tree).
class ObjectFinder {
 public:
  ObjectFinder(const Cli& cli, TreeCache& cache, const FindFlags& f)
      : cli_(cli), cache_(cache), f_(f), prefixes_(f.args) {}

  Result<void> Run(const std::vector<engine::SnapshotEntry>& snaps) {
    if (cli_.global.json) std::cout << "[";
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
      snap_ = &*it;
      if (f_.tree) {
        if (auto hit = MatchId(it->snapshot.tree)) ReportTree(*hit, "/");
      }
      bool any = false;
      HALLEY_RETURN_IF_ERROR(Walk(it->snapshot.tree, "/", any));
    }
    if (cli_.global.json) std::cout << "]\n";
    std::cout.flush();
    return {};
  }

 private:
  std::optional<std::string> MatchId(const Id& id) const {
    std::string hex = id.Hex();
    for (const auto& p : prefixes_) {
      if (hex.compare(0, p.size(), p) == 0) return hex;
    }
    return std::nullopt;
  }

  // A tree without a hit never has one (the result does not depend on the path): skip it when
  // it comes again in another directory or snapshot.
  Result<void> Walk(const Id& tree_id, const std::string& dir, bool& any) {
    HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
    if (no_hit_.count(tree_id)) return {};
    HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(tree_id));
    bool here = false;
    for (const auto& node : tree->nodes) {
      std::string path = JoinPath(dir, node.name);
      if (f_.blob && node.type == NodeType::kFile && node.content) {
        std::unordered_set<std::string> reported;
        for (const auto& id : *node.content) {
          auto hit = MatchId(id);
          if (hit && reported.insert(*hit).second) {
            ReportBlob(id, path, tree_id);
            here = true;
          }
        }
      }
      if (node.type == NodeType::kDir && node.subtree) {
        if (f_.tree && MatchId(*node.subtree)) {
          ReportTree(node.subtree->Hex(), path);
          here = true;
        }
        HALLEY_RETURN_IF_ERROR(Walk(*node.subtree, path, here));
      }
    }
    if (here) {
      any = true;
    } else {
      no_hit_.insert(tree_id);
    }
    return {};
  }

  void Separator() {
    if (cli_.global.json) {
      std::cout << (first_ ? "" : ",");
    } else if (!first_) {
      WriteLine("");
    }
    first_ = false;
  }

  void ReportBlob(const Id& id, const std::string& path, const Id& parent) {
    std::optional<repo::BlobLocation> loc;
    if (f_.show_pack_id) loc = cache_.Repo().GetIndex().Lookup(repo::BlobType::kData, id);
    Separator();
    if (cli_.global.json) {
      OrderedJson j;
      j["object_type"] = "blob";
      j["id"] = id.Hex();
      j["path"] = path;
      j["parent_tree"] = parent.Hex();
      j["snapshot"] = snap_->id.Hex();
      j["time"] = FormatRfc3339Nano(snap_->snapshot.time);
      if (loc) j["pack"] = loc->pack.Hex();
      std::cout << DumpJson(j);
      return;
    }
    WriteLine("Found blob " + id.Hex());
    WriteLine(" ... in file " + path);
    WriteLine("     (tree " + parent.Hex() + ")");
    WriteLine(" ... in snapshot " + snap_->id.Short() + " (" + SnapshotHeaderTime(*snap_) + ")");
    if (f_.show_pack_id) {
      WriteLine(loc ? "Object belongs to pack " + loc->pack.Hex() : "Object is not in the index");
    }
  }

  void ReportTree(const std::string& hex, const std::string& path) {
    Separator();
    if (cli_.global.json) {
      OrderedJson j;
      j["object_type"] = "tree";
      j["id"] = hex;
      j["path"] = path;
      j["snapshot"] = snap_->id.Hex();
      j["time"] = FormatRfc3339Nano(snap_->snapshot.time);
      if (f_.show_pack_id) {
        if (auto loc = cache_.Repo().GetIndex().Lookup(repo::BlobType::kTree, *Id::FromHex(hex))) {
          j["pack"] = loc->pack.Hex();
        }
      }
      std::cout << DumpJson(j);
      return;
    }
    WriteLine("Found tree " + hex);
    WriteLine(" ... path " + path);
    WriteLine(" ... in snapshot " + snap_->id.Short() + " (" + SnapshotHeaderTime(*snap_) + ")");
    if (f_.show_pack_id) {
      auto loc = cache_.Repo().GetIndex().Lookup(repo::BlobType::kTree, *Id::FromHex(hex));
      WriteLine(loc ? "Object belongs to pack " + loc->pack.Hex() : "Object is not in the index");
    }
  }

  const Cli& cli_;
  TreeCache& cache_;
  const FindFlags& f_;
  std::vector<std::string> prefixes_;
  const engine::SnapshotEntry* snap_ = nullptr;
  IdSet no_hit_;
  bool first_ = true;
};

int RunFind(Cli& cli, FindFlags& f) {
  IgnoreSigpipe();
  if (f.args.empty()) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument,
                           f.blob || f.tree ? "please specify at least one ID to look for"
                                            : "please specify at least one pattern"));
  }
  if (f.blob && f.tree) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument, "--blob and --tree cannot be combined"));
  }
  if (f.blob || f.tree) {
    for (auto& a : f.args) {
      std::transform(a.begin(), a.end(), a.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (!IsHexPrefix(a)) {
        return cli.Fatal(
            Error(ErrorCode::kInvalidArgument, "invalid ID \"" + a + "\" (want 1-64 hex digits)"));
      }
    }
  }
  if (auto unlocked = cli.UnlockContents(); !unlocked) return cli.Fatal(unlocked.error());
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, true, code);
  if (!v) return code;
  const engine::SnapshotFilter& filter = f.filter;
  auto snaps = SelectSnapshots(cli, *v->repo, f.snapshots, filter);
  if (!snaps) return cli.Fatal(snaps.error());
  TreeCache cache(*v->repo);
  Result<void> r = f.blob || f.tree ? ObjectFinder(cli, cache, f).Run(*snaps)
                                    : NameFinder(cli, cache, f).Run(*snaps);
  std::cout.flush();
  if (!r) return WalkFailed(cli, r.error());
  return OutputClosed() ? kExitFailure : kExitOk;
}

}  // namespace

void AddFind(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<FindFlags>();
  auto* cmd = app.add_subcommand(
      "find", "find files and directories by name or path pattern, or what references a blob/tree");
  cmd->add_option("patterns", f->args,
                  "glob on the name; on the full path if it contains '/' (\"**\" spans "
                  "directories); ID prefixes with --blob/--tree");
  cmd->add_option("-s,--snapshot", f->snapshots,
                  "search only this snapshot (ID, prefix or \"latest\"; repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("-i,--ignore-case", f->ignore_case, "match patterns case-insensitively");
  cmd->add_flag("-l,--long", f->long_format, "long listing: mode, user, group, size, mtime");
  cmd->add_flag("-n,--numeric-uid-gid", f->numeric, "with -l: numeric UID and GID (as restic)");
  cmd->add_flag("--blob", f->blob,
                "the arguments are data blob ID prefixes: find the files using them");
  cmd->add_flag("--tree", f->tree, "the arguments are tree ID prefixes: find the directories");
  cmd->add_flag("--show-pack-id", f->show_pack_id, "with --blob/--tree: name the pack holding it");
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/false);
  cmd->callback([&cli, f] { cli.exit_code = RunFind(cli, *f); });
}

}  // namespace halley::cli
