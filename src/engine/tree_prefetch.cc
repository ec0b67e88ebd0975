// SPDX-License-Identifier: Apache-2.0
#include "engine/tree_prefetch.h"

#include "engine/snapshots.h"

namespace halley::engine {

TreePrefetcher::TreePrefetcher(repo::Repository& repo, uint64_t max_bytes)
    : repo_(repo), max_bytes_(max_bytes), thread_([this] { Loop(); }) {}

TreePrefetcher::~TreePrefetcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void TreePrefetcher::Want(const Id& id) {
  auto loc = repo_.GetIndex().Lookup(repo::BlobType::kTree, id);
  if (!loc) return;  // LoadTree reports it, in order
  std::lock_guard lock(mu_);
  if (slots_.contains(id) || bytes_ + loc->PlainSize() > max_bytes_) return;
  slots_[id].bytes = loc->PlainSize();
  bytes_ += loc->PlainSize();
  queue_.push_back(id);
  cv_.notify_all();
}

std::optional<Result<snapshot::Tree>> TreePrefetcher::Take(const Id& id) {
  std::unique_lock lock(mu_);
  auto it = slots_.find(id);
  if (it == slots_.end() || it->second.forgotten) return std::nullopt;
  if (!it->second.started) {
    Erase(it);  // the loop skips its queue entry
    return std::nullopt;
  }
  // A reference, not the iterator: a Want meanwhile may rehash the map.
  Slot& slot = it->second;
  cv_.wait(lock, [&] { return slot.tree.has_value(); });
  std::optional<Result<snapshot::Tree>> out = std::move(slot.tree);
  Erase(slots_.find(id));
  return out;
}

void TreePrefetcher::Forget(const Id& id) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(id);
  if (it == slots_.end()) return;
  if (it->second.started && !it->second.tree) {
    it->second.forgotten = true;
  } else {
    Erase(it);
  }
}

void TreePrefetcher::Erase(std::unordered_map<Id, Slot, IdHash>::iterator it) {
  bytes_ -= it->second.bytes;
  slots_.erase(it);
}

void TreePrefetcher::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const Id id = queue_.front();
    queue_.pop_front();
    auto it = slots_.find(id);
    if (it == slots_.end() || it->second.started) continue;  // withdrawn
    it->second.started = true;
    lock.unlock();
    Result<snapshot::Tree> tree = LoadTree(repo_, id);
    lock.lock();
    it = slots_.find(id);  // still there: only Forget removes a started slot, after this
    if (it->second.forgotten) {
      Erase(it);
    } else {
      it->second.tree = std::move(tree);
    }
    cv_.notify_all();
  }
}

}  // namespace halley::engine
