// SPDX-License-Identifier: Apache-2.0
#include "engine/walker.h"

#include <optional>
#include <unordered_map>

#include "engine/snapshots.h"

namespace halley::engine {

Result<void> WalkTrees(repo::Repository& repo, const std::vector<Id>& roots,
                       std::unordered_set<Id, IdHash>& visited, const TreeVisitor& visit,
                       const TreeErrorFn& on_error, std::stop_token stop) {
  // An explicit stack: hostile or simply deep snapshots must not exhaust the call stack.
  std::vector<Id> stack(roots.rbegin(), roots.rend());
  while (!stack.empty()) {
    if (stop.stop_requested()) return Fail(ErrorCode::kCancelled, "interrupted");
    Id id = stack.back();
    stack.pop_back();
    if (!visited.insert(id).second) continue;
    auto tree = LoadTreeBlobs(repo, id);
    if (!tree) {
      if (!on_error) return Fail(tree.error());
      on_error(id, tree.error());
      continue;
    }
    HALLEY_RETURN_IF_ERROR(visit(id, *tree));
    for (auto it = tree->subtrees.rbegin(); it != tree->subtrees.rend(); ++it) {
      if (!visited.count(*it)) stack.push_back(*it);
    }
  }
  return {};
}

Result<std::vector<bool>> DependsOn(repo::Repository& repo, const std::vector<Id>& roots,
                                    const BlobPredicate& bad, std::stop_token stop) {
  std::unordered_map<Id, bool, IdHash> memo;
  // Iterative post-order over the tree graph: a tree's answer needs its subtrees' answers.
  struct Item {
    Id id;
    std::optional<snapshot::TreeBlobs> tree;  // loaded on first visit
  };
  for (const Id& root : roots) {
    std::vector<Item> stack{{root, std::nullopt}};
    while (!stack.empty()) {
      if (stop.stop_requested()) return Fail(ErrorCode::kCancelled, "interrupted");
      Item& item = stack.back();
      if (memo.count(item.id)) {
        stack.pop_back();
        continue;
      }
      if (!item.tree) {
        if (bad(repo::BlobType::kTree, item.id)) {
          memo[item.id] = true;
          stack.pop_back();
          continue;
        }
        auto t = LoadTreeBlobs(repo, item.id);
        if (!t) {
          memo[item.id] = true;  // unreadable: everything beneath is lost
          stack.pop_back();
          continue;
        }
        item.tree = std::move(*t);
        // Children first; this item is finished when it is on top again.
        std::vector<Id> pending;
        for (const Id& sub : item.tree->subtrees) {
          if (!memo.count(sub)) pending.push_back(sub);
        }
        for (const Id& c : pending) stack.push_back({c, std::nullopt});
        continue;
      }
      bool result = false;
      for (const Id& sub : item.tree->subtrees) {
        auto it = memo.find(sub);
        result = result || (it != memo.end() && it->second);
      }
      for (size_t i = 0; i < item.tree->content.size() && !result; ++i) {
        result = bad(repo::BlobType::kData, item.tree->content[i]);
      }
      memo[item.id] = result;
      stack.pop_back();
    }
  }
  std::vector<bool> out;
  out.reserve(roots.size());
  for (const Id& r : roots) out.push_back(memo[r]);
  return out;
}

}  // namespace halley::engine
