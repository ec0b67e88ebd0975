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
    auto tree = LoadTree(repo, id);
    if (!tree) {
      if (!on_error) return Fail(tree.error());
      on_error(id, tree.error());
      continue;
    }
    HALLEY_RETURN_IF_ERROR(visit(id, *tree));
    for (auto it = tree->nodes.rbegin(); it != tree->nodes.rend(); ++it) {
      if (it->type == snapshot::NodeType::kDir && it->subtree && !visited.count(*it->subtree)) {
        stack.push_back(*it->subtree);
      }
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
    std::optional<snapshot::Tree> tree;  // loaded on first visit
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
        auto t = LoadTree(repo, item.id);
        if (!t) {
          memo[item.id] = true;  // unreadable: everything beneath is lost
          stack.pop_back();
          continue;
        }
        item.tree = std::move(*t);
        // Children first; this item is finished when it is on top again.
        std::vector<Id> pending;
        for (const auto& n : item.tree->nodes) {
          if (n.type == snapshot::NodeType::kDir && n.subtree && !memo.count(*n.subtree)) {
            pending.push_back(*n.subtree);
          }
        }
        for (const Id& c : pending) stack.push_back({c, std::nullopt});
        continue;
      }
      bool result = false;
      for (const auto& n : item.tree->nodes) {
        if (n.subtree && memo.count(*n.subtree) && memo[*n.subtree]) result = true;
        if (n.content) {
          for (const Id& b : *n.content) {
            if (bad(repo::BlobType::kData, b)) result = true;
          }
        }
        if (result) break;
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
