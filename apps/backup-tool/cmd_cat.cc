// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "crypto/hash.h"
#include "engine/snapshots.h"
#include "node_format.h"
#include "repo/config.h"
#include "snapshot_ref.h"
#include "tree_walk.h"

namespace halley::cli {
namespace {

using storage::ObjectType;

constexpr const char* kCatTypes =
    "config, masterkey, key [ID], index ID, snapshot ID, blob ID, tree ID|SNAPSHOT[:PATH], "
    "pack ID, lock ID, packindex ID";

struct CatFlags {
  std::string type;
  std::string id;
  engine::SnapshotFilter filter;
};

// JSON documents: 2-space indent (compact with --json).
void PrintDocument(const Cli& cli, std::string_view text) {
  auto j = OrderedJson::parse(text, nullptr, false);
  if (j.is_discarded()) {
    std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (text.empty() || text.back() != '\n') std::cout << "\n";
  } else {
    std::cout << DumpJson(j, cli.global.json ? -1 : 2) << "\n";
  }
  std::cout.flush();
}

void PrintRaw(ByteView data) {
  std::fwrite(data.data(), 1, data.size(), stdout);
  std::fflush(stdout);
}

Error Usage(const std::string& message) {
  return Error(ErrorCode::kInvalidArgument, message + " (types: " + kCatTypes + ")");
}

int RunCat(Cli& cli, const CatFlags& f) {
  IgnoreSigpipe();
  static const std::vector<std::string> kTypes = {"config",   "masterkey", "key",  "index",
                                                  "snapshot", "blob",      "tree", "pack",
                                                  "lock",     "packindex"};
  if (std::find(kTypes.begin(), kTypes.end(), f.type) == kTypes.end()) {
    return cli.Fatal(Usage("invalid type \"" + f.type + "\""));
  }
  bool needs_id = f.type != "config" && f.type != "masterkey" && f.type != "key";
  if (needs_id && f.id.empty()) return cli.Fatal(Usage("\"" + f.type + "\" needs an ID"));
  if (!needs_id && f.type != "key" && !f.id.empty()) {
    return cli.Fatal(Usage("\"" + f.type + "\" takes no ID"));
  }
  bool load_index = f.type == "blob" || f.type == "tree";
  if (auto unlocked = cli.UnlockContents(); !unlocked) return cli.Fatal(unlocked.error());
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, load_index, code);
  if (!v) return code;
  repo::Repository& repo = *v->repo;
  storage::BlobStore& store = repo.Store();

  if (f.type == "config") {
    PrintDocument(cli, repo::EncodeConfig(repo.GetConfig()));
    return kExitOk;
  }
  if (f.type == "masterkey") {
    PrintDocument(cli, crypto::EncodeMasterKeyJson(repo.MasterKey()));
    return kExitOk;
  }
  if (f.type == "key") {
    Id id = repo.KeyId();
    if (!f.id.empty()) {
      auto r = ResolveObjectId(store, ObjectType::kKey, f.id);
      if (!r) return cli.Fatal(r.error());
      id = *r;
    }
    auto raw = repo.LoadRaw({ObjectType::kKey, id.Hex()});
    if (!raw) return cli.Fatal(raw.error());
    PrintDocument(cli, AsString(*raw));
    return kExitOk;
  }
  if (f.type == "snapshot") {
    auto snap = engine::FindSnapshot(repo, f.id, f.filter);
    if (!snap) return cli.Fatal(snap.error());
    auto text = repo.LoadUnpacked(ObjectType::kSnapshot, snap->id);
    if (!text) return cli.Fatal(text.error());
    PrintDocument(cli, *text);
    return kExitOk;
  }
  if (f.type == "index" || f.type == "lock" || f.type == "packindex") {
    ObjectType type = f.type == "index"  ? ObjectType::kIndex
                      : f.type == "lock" ? ObjectType::kLock
                                         : ObjectType::kPackIndex;
    auto id = ResolveObjectId(store, type, f.id);
    if (!id) return cli.Fatal(id.error());
    auto text = repo.LoadUnpacked(type, *id);
    if (!text) return cli.Fatal(text.error());
    PrintDocument(cli, *text);
    return kExitOk;
  }
  if (f.type == "pack") {
    auto id = ResolveObjectId(store, ObjectType::kData, f.id);
    if (!id) return cli.Fatal(id.error());
    auto data = store.Get({ObjectType::kData, id->Hex()});
    if (!data) return cli.Fatal(data.error());
    // Damaged packs are printed too (that is what one inspects them for), with a warning.
    Id got = crypto::Sha256(*data);
    if (got != *id) {
      cli.Warn("Warning: hash of data does not match ID, want\n  " + id->Hex() + "\ngot:\n  " +
               got.Hex() + "\n");
    }
    PrintRaw(*data);
    return kExitOk;
  }
  if (f.type == "blob") {
    auto id = Id::FromHex(f.id);
    if (!id) {
      return cli.Fatal(Error(ErrorCode::kInvalidArgument,
                             "blob needs a full ID (64 hex digits), got \"" + f.id + "\""));
    }
    for (auto type : {repo::BlobType::kData, repo::BlobType::kTree}) {
      if (!repo.GetIndex().Has(type, *id)) continue;
      auto data = repo.LoadBlob(type, *id);
      if (!data) return cli.Fatal(data.error());
      PrintRaw(*data);
      return kExitOk;
    }
    return cli.Fatal(Error(ErrorCode::kNotFound, "blob " + f.id + " not found in the index"));
  }
  // tree: a tree blob ID, or SNAPSHOT[:PATH].
  Id tree_id;
  if (auto full = Id::FromHex(f.id);
      full && f.id.size() == 64 && repo.GetIndex().Has(repo::BlobType::kTree, *full)) {
    tree_id = *full;
  } else {
    SnapshotRef ref = ParseSnapshotRef(f.id);
    auto snap = engine::FindSnapshot(repo, ref.id, f.filter);
    if (!snap) {
      if (full) {
        return cli.Fatal(Error(ErrorCode::kNotFound, "tree " + f.id + " not found in the index"));
      }
      return cli.Fatal(snap.error());
    }
    tree_id = snap->snapshot.tree;
    if (!ref.path.empty() && CleanPath(ref.path) != "/") {
      auto node = engine::FindNode(repo, tree_id, ref.path);
      if (!node) return cli.Fatal(node.error());
      if (node->type != snapshot::NodeType::kDir || !node->subtree) {
        return cli.Fatal(
            Error(ErrorCode::kInvalidArgument, "\"" + ref.path + "\" is not a directory"));
      }
      tree_id = *node->subtree;
    }
  }
  // Decode first so that a damaged tree is reported as such, then print what is stored.
  auto tree = engine::LoadTree(repo, tree_id);
  if (!tree) return cli.Fatal(tree.error());
  auto data = repo.LoadBlob(repo::BlobType::kTree, tree_id);
  if (!data) return cli.Fatal(data.error());
  PrintDocument(cli, AsString(*data));
  return kExitOk;
}

}  // namespace

void AddCat(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<CatFlags>();
  auto* cmd =
      app.add_subcommand("cat", std::string("print internal objects to stdout: ") + kCatTypes);
  cmd->add_option("type", f->type, "what to print")->required();
  cmd->add_option("id", f->id, "its ID (unique prefixes work for stored files and snapshots)");
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/true);
  cmd->callback([&cli, f] { cli.exit_code = RunCat(cli, *f); });
}

}  // namespace halley::cli
