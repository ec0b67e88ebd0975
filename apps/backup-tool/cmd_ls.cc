// SPDX-License-Identifier: Apache-2.0
#include <iostream>

#include "commands.h"
#include "engine/snapshots.h"
#include "node_format.h"
#include "snapshot_json.h"
#include "snapshot_ref.h"
#include "tree_walk.h"

namespace halley::cli {
namespace {

struct LsFlags {
  std::string snapshot;
  std::vector<std::string> dirs;
  bool long_format = false;
  bool recursive = false;
  bool numeric = false;
  bool human = false;
  engine::SnapshotFilter filter;
};

class Lister {
 public:
  Lister(const Cli& cli, TreeCache& cache, const LsFlags& f, std::vector<std::string> targets)
      : cli_(cli),
        cache_(cache),
        f_(f),
        targets_(std::move(targets)),
        found_(targets_.size(), false) {
    for (size_t i = 0; i < targets_.size(); ++i) found_[i] = targets_[i] == "/";
  }

  Result<void> Walk(const Id& tree_id, const std::string& dir) {
    HALLEY_RETURN_IF_ERROR(CheckContinue(cli_));
    HALLEY_ASSIGN_OR_RETURN(auto tree, cache_.Load(tree_id));
    for (const auto& node : tree->nodes) {
      std::string path = JoinPath(dir, node.name);
      bool show = targets_.empty();
      bool descend = targets_.empty();
      for (size_t i = 0; i < targets_.size(); ++i) {
        const std::string& t = targets_[i];
        if (path == t) {
          show = descend = true;
          found_[i] = true;
        } else if (PathWithin(path, t)) {
          // Direct children of a target always, everything beneath with --recursive.
          if (f_.recursive) show = descend = true;
          if (ParentPath(path) == t) show = true;
        } else if (PathWithin(t, path)) {
          descend = true;  // on the way to a target
        }
      }
      if (show) Emit(node, path);
      if (descend && node.type == snapshot::NodeType::kDir && node.subtree) {
        HALLEY_RETURN_IF_ERROR(Walk(*node.subtree, path));
      }
    }
    return {};
  }

  // The first target that was not found, if any.
  std::optional<std::string> Missing() const {
    for (size_t i = 0; i < targets_.size(); ++i) {
      if (!found_[i]) return targets_[i];
    }
    return std::nullopt;
  }

 private:
  void Emit(const snapshot::Node& node, const std::string& path) {
    if (cli_.global.json) {
      WriteJsonLine(LsNodeJson(node, path));
    } else if (f_.long_format) {
      WriteLine(LongLine(node, path, LongFormat{f_.numeric, f_.human}));
    } else {
      WriteLine(path);
    }
  }

  const Cli& cli_;
  TreeCache& cache_;
  const LsFlags& f_;
  std::vector<std::string> targets_;
  std::vector<bool> found_;
};

std::string JoinSpace(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i];
  return s;
}

int RunLs(Cli& cli, const LsFlags& f) {
  IgnoreSigpipe();
  SnapshotRef ref = ParseSnapshotRef(f.snapshot);
  std::vector<std::string> targets;
  if (!ref.path.empty()) targets.push_back(CleanPath(ref.path));
  for (const auto& d : f.dirs) targets.push_back(CleanPath(d));

  if (auto unlocked = cli.UnlockContents(); !unlocked) return cli.Fatal(unlocked.error());
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, true, code);
  if (!v) return code;
  const engine::SnapshotFilter& filter = f.filter;
  auto snap = engine::FindSnapshot(*v->repo, ref.id, filter);
  if (!snap) return cli.Fatal(snap.error());

  if (cli.global.json) {
    OrderedJson j = SnapshotJson(*snap);
    j["struct_type"] = "snapshot";
    WriteJsonLine(j);
  } else {
    const auto& s = snap->snapshot;
    cli.Print("snapshot " + snap->id.Short() + " of [" + JoinSpace(s.paths) + "] at " +
              GoTimeString(s.time) + " by " + s.username + "@" + s.hostname + " filtered by [" +
              JoinSpace(targets) + "]:\n");
  }
  TreeCache cache(*v->repo);
  Lister lister(cli, cache, f, targets);
  auto r = lister.Walk(snap->snapshot.tree, "/");
  std::cout.flush();
  if (!r) return WalkFailed(cli, r.error());
  if (OutputClosed()) return kExitFailure;
  if (auto missing = lister.Missing()) {
    return cli.Fatal(Error(ErrorCode::kNotFound,
                           "path \"" + *missing + "\" not found in snapshot " + snap->id.Short()));
  }
  return kExitOk;
}

}  // namespace

void AddLs(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<LsFlags>();
  auto* cmd = app.add_subcommand(
      "ls", "list files in a snapshot (SNAPSHOT[:PATH] [PATH...]); everything without a PATH");
  cmd->add_option("snapshot", f->snapshot, "snapshot ID, prefix or \"latest\", optionally :PATH")
      ->required();
  cmd->add_option("dirs", f->dirs,
                  "list only these paths and their direct children (everything beneath with -R)");
  cmd->add_flag("-l,--long", f->long_format, "long listing: mode, user, group, size, mtime");
  cmd->add_flag("-R,--recursive", f->recursive, "list everything beneath the given paths");
  cmd->add_flag("-n,--numeric-uid-gid", f->numeric, "with -l: numeric UID and GID (as restic)");
  cmd->add_flag("--human-readable", f->human, "with -l: sizes as KiB, MiB, ...");
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/true);
  cmd->callback([&cli, f] { cli.exit_code = RunLs(cli, *f); });
}

}  // namespace halley::cli
