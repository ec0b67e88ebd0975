// SPDX-License-Identifier: Apache-2.0
//
// Decodes trees ahead of a walk, on a thread of its own. An unchanged backup walks the source
// and the parent snapshot side by side; without this, one thread both calls lstat on every file
// and decodes every tree of the parent, while the other core idles.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "base/error.h"
#include "base/id.h"
#include "repo/repository.h"
#include "snapshot/tree.h"

namespace halley::engine {

class TreePrefetcher {
 public:
  // At most `max_bytes` of tree JSON (the blobs' plaintext sizes) queued or decoded and not yet
  // taken: a tree that does not fit is not prefetched, and its user loads it itself.
  TreePrefetcher(repo::Repository& repo, uint64_t max_bytes);
  ~TreePrefetcher();
  TreePrefetcher(const TreePrefetcher&) = delete;
  TreePrefetcher& operator=(const TreePrefetcher&) = delete;

  // Queues the tree `id` (in the order the walk will take them) if it fits.
  void Want(const Id& id);
  // The tree `id` as LoadTree gives it, if it was wanted: waits while it is being decoded. A
  // wanted tree not started yet is withdrawn: null, as for one never wanted, and the caller
  // decodes it at once instead of waiting behind the queue.
  std::optional<Result<snapshot::Tree>> Take(const Id& id);
  // Withdraws `id` if it was wanted and not taken (the walk skipped that directory).
  void Forget(const Id& id);

 private:
  struct Slot {
    uint64_t bytes = 0;
    bool started = false;
    bool forgotten = false;  // dropped when its decoding ends
    std::optional<Result<snapshot::Tree>> tree;
  };
  void Loop();
  void Erase(std::unordered_map<Id, Slot, IdHash>::iterator it);  // REQUIRES: mu_ held

  repo::Repository& repo_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Id> queue_;                        // Guarded by mu_.
  std::unordered_map<Id, Slot, IdHash> slots_;  // Guarded by mu_.
  uint64_t bytes_ = 0;                          // Guarded by mu_.
  bool stop_ = false;                           // Guarded by mu_.
  std::thread thread_;
};

}  // namespace halley::engine
