// SPDX-License-Identifier: Apache-2.0
#include "engine/snapshots.h"

#include <algorithm>

namespace halley::engine {

using storage::ObjectType;

bool Matches(const snapshot::Snapshot& s, const SnapshotFilter& f) {
  if (!f.hosts.empty() && std::find(f.hosts.begin(), f.hosts.end(), s.hostname) == f.hosts.end()) {
    return false;
  }
  for (const auto& t : f.tags) {
    if (std::find(s.tags.begin(), s.tags.end(), t) == s.tags.end()) return false;
  }
  for (const auto& p : f.paths) {
    if (std::find(s.paths.begin(), s.paths.end(), p) == s.paths.end()) return false;
  }
  return true;
}

Result<std::vector<SnapshotEntry>> ListSnapshots(repo::Repository& repo,
                                                 std::vector<Error>* errors) {
  std::vector<Id> ids;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kSnapshot, [&](const auto& info) {
    if (auto id = Id::FromHex(info.name)) ids.push_back(*id);
    return Result<void>{};
  }));
  std::vector<SnapshotEntry> out;
  out.reserve(ids.size());
  for (const Id& id : ids) {
    auto text = repo.LoadUnpacked(ObjectType::kSnapshot, id);
    Result<snapshot::Snapshot> s =
        text ? snapshot::DecodeSnapshot(*text) : Result<snapshot::Snapshot>(Fail(text.error()));
    if (!s) {
      Error e = text ? s.error().WithContext("snapshot " + id.Short()) : s.error();
      if (errors == nullptr) return Fail(e);
      errors->push_back(e);
      continue;
    }
    out.push_back({id, std::move(*s)});
  }
  std::sort(out.begin(), out.end(), [](const SnapshotEntry& a, const SnapshotEntry& b) {
    if (a.snapshot.time != b.snapshot.time) return a.snapshot.time < b.snapshot.time;
    return a.id < b.id;
  });
  return out;
}

Result<SnapshotEntry> FindSnapshot(repo::Repository& repo, const std::string& ref,
                                   const SnapshotFilter& filter) {
  if (ref == "latest") {
    std::vector<Error> errors;
    HALLEY_ASSIGN_OR_RETURN(auto all, ListSnapshots(repo, &errors));
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (Matches(it->snapshot, filter)) return *it;
    }
    return Fail(ErrorCode::kNotFound, "no snapshot found (latest)");
  }
  if (ref.empty() || ref.size() > 64 ||
      ref.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "invalid snapshot ID \"" + ref + "\"");
  }
  std::vector<std::string> matches;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kSnapshot, [&](const auto& info) {
    if (info.name.compare(0, ref.size(), ref) == 0) matches.push_back(info.name);
    return Result<void>{};
  }));
  if (matches.empty()) return Fail(ErrorCode::kNotFound, "no snapshot matched ID \"" + ref + "\"");
  if (matches.size() > 1) {
    return Fail(ErrorCode::kInvalidArgument, "snapshot ID prefix \"" + ref + "\" is ambiguous");
  }
  Id id = *Id::FromHex(matches[0]);
  HALLEY_ASSIGN_OR_RETURN(std::string text, repo.LoadUnpacked(ObjectType::kSnapshot, id));
  auto s = snapshot::DecodeSnapshot(text);
  if (!s) return Fail(s.error().WithContext("snapshot " + id.Short()));
  return SnapshotEntry{id, std::move(*s)};
}

namespace {

template <class T>
Result<T> LoadTreeAs(repo::Repository& repo, const Id& id,
                     Result<T> (*decode)(std::string_view json)) {
  auto blob = repo.LoadBlob(repo::BlobType::kTree, id);
  if (!blob) return Fail(blob.error().WithContext("couldn't load tree " + id.Short()));
  auto tree = decode(AsString(*blob));
  if (!tree) return Fail(tree.error().WithContext("couldn't decode tree " + id.Short()));
  return tree;
}

}  // namespace

Result<snapshot::Tree> LoadTree(repo::Repository& repo, const Id& id) {
  return LoadTreeAs(repo, id, snapshot::DecodeTree);
}

Result<snapshot::TreeBlobs> LoadTreeBlobs(repo::Repository& repo, const Id& id) {
  return LoadTreeAs(repo, id, snapshot::DecodeTreeBlobs);
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

Result<snapshot::Node> FindNode(repo::Repository& repo, const Id& root, const std::string& path) {
  snapshot::Node node;
  node.name = "/";
  node.type = snapshot::NodeType::kDir;
  node.subtree = root;
  for (const auto& part : SplitPath(path)) {
    if (node.type != snapshot::NodeType::kDir || !node.subtree) {
      return Fail(ErrorCode::kNotFound, "\"" + path + "\": " + part + " is not in a directory");
    }
    HALLEY_ASSIGN_OR_RETURN(auto tree, LoadTree(repo, *node.subtree));
    auto it =
        std::lower_bound(tree.nodes.begin(), tree.nodes.end(), part,
                         [](const snapshot::Node& n, const std::string& p) { return n.name < p; });
    if (it == tree.nodes.end() || it->name != part) {
      return Fail(ErrorCode::kNotFound, "path \"" + path + "\" not found in snapshot");
    }
    node = std::move(*it);
  }
  return node;
}

}  // namespace halley::engine
