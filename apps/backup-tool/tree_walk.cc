// SPDX-License-Identifier: Apache-2.0
#include "tree_walk.h"

#include <signal.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "cli.h"

namespace halley::cli {

Result<TreeCache::TreePtr> TreeCache::Load(const Id& id) {
  ++clock_;
  if (auto it = entries_.find(id); it != entries_.end()) {
    it->second.last_use = clock_;
    return it->second.tree;
  }
  HALLEY_ASSIGN_OR_RETURN(auto tree, engine::LoadTree(repo_, id));
  size_t cost = sizeof(snapshot::Tree);
  for (const auto& n : tree.nodes) {
    cost += sizeof(snapshot::Node) + n.name.size() + n.user.size() + n.group.size() +
            n.linktarget.size() + (n.content ? n.content->size() * sizeof(Id) : 0);
  }
  auto ptr = std::make_shared<const snapshot::Tree>(std::move(tree));
  if (cost <= budget_) {
    entries_[id] = Entry{ptr, cost, clock_};
    used_ += cost;
    if (used_ > budget_) Evict();
  }
  return ptr;
}

void TreeCache::Evict() {
  // Drop the least recently used half (by cost); eviction is rare enough for a full sort.
  std::vector<std::pair<uint64_t, Id>> order;
  order.reserve(entries_.size());
  for (const auto& [id, e] : entries_) order.emplace_back(e.last_use, id);
  std::sort(order.begin(), order.end());
  for (const auto& [use, id] : order) {
    if (used_ <= budget_ / 2) break;
    auto it = entries_.find(id);
    used_ -= it->second.cost;
    entries_.erase(it);
  }
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == "/") return "/" + name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string CleanPath(const std::string& path) {
  std::string out;
  for (const auto& part : engine::SplitPath(path)) {
    if (part == ".") continue;
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

bool PathWithin(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string ParentPath(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

Result<std::vector<engine::SnapshotEntry>> SelectSnapshots(const Cli& cli, repo::Repository& repo,
                                                           const std::vector<std::string>& refs,
                                                           const engine::SnapshotFilter& filter) {
  std::vector<engine::SnapshotEntry> out;
  if (refs.empty()) {
    std::vector<Error> errors;
    HALLEY_ASSIGN_OR_RETURN(auto all, engine::ListSnapshots(repo, &errors));
    for (const auto& e : errors) cli.Warn("error: " + e.Message() + "\n");
    for (auto& e : all) {
      if (engine::Matches(e.snapshot, filter)) out.push_back(std::move(e));
    }
    return out;
  }
  std::set<Id> seen;
  for (const auto& ref : refs) {
    HALLEY_ASSIGN_OR_RETURN(auto e, engine::FindSnapshot(repo, ref, filter));
    if (seen.insert(e.id).second) out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.snapshot.time < b.snapshot.time; });
  return out;
}

void IgnoreSigpipe() { ::signal(SIGPIPE, SIG_IGN); }

bool OutputClosed() { return std::cout.fail(); }

Result<void> CheckContinue(const Cli& cli) {
  if (cli.StopToken().stop_requested()) return Fail(ErrorCode::kCancelled, "interrupted");
  if (OutputClosed()) return Fail(ErrorCode::kCancelled, "standard output closed");
  return {};
}

int WalkFailed(const Cli& cli, const Error& e) {
  if (OutputClosed()) return kExitFailure;
  return cli.Fatal(e);
}

bool IsHexPrefix(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

namespace {

std::string ObjectNoun(storage::ObjectType type) {
  switch (type) {
    case storage::ObjectType::kData:
      return "pack";
    case storage::ObjectType::kKey:
      return "key";
    case storage::ObjectType::kLock:
      return "lock";
    case storage::ObjectType::kSnapshot:
      return "snapshot";
    case storage::ObjectType::kIndex:
      return "index file";
    case storage::ObjectType::kPackIndex:
      return "packindex file";
    case storage::ObjectType::kConfig:
      break;
  }
  return "config";
}

}  // namespace

Result<Id> ResolveObjectId(storage::BlobStore& store, storage::ObjectType type,
                           const std::string& prefix) {
  std::string what = ObjectNoun(type);
  if (!IsHexPrefix(prefix)) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid " + what + " ID \"" + prefix + "\" (want 1-64 hex digits)");
  }
  if (prefix.size() == 64) return Id::FromHex(prefix);
  std::vector<std::string> matches;
  HALLEY_RETURN_IF_ERROR(store.List(type, [&](const storage::ObjectInfo& info) {
    if (info.name.compare(0, prefix.size(), prefix) == 0) matches.push_back(info.name);
    return Result<void>{};
  }));
  if (matches.empty()) {
    return Fail(ErrorCode::kNotFound, "no " + what + " matched ID prefix \"" + prefix + "\"");
  }
  if (matches.size() > 1) {
    return Fail(ErrorCode::kInvalidArgument, "ID prefix \"" + prefix + "\" is ambiguous (" +
                                                 std::to_string(matches.size()) + " " + what +
                                                 "s match)");
  }
  return Id::FromHex(matches[0]);
}

}  // namespace halley::cli
