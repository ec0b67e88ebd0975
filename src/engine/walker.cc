// SPDX-License-Identifier: Apache-2.0
#include "engine/walker.h"

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

}  // namespace halley::engine
