// SPDX-License-Identifier: Apache-2.0
//
// FreeList: keeps up to `max` released objects (large buffers) for reuse. Reusing a buffer
// avoids both the page faults of fresh memory and the heap growth that freeing and allocating
// large blocks from several threads causes in glibc's arenas. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace halley {

template <typename T>
class FreeList {
 public:
  explicit FreeList(size_t max) : max_(max) {}

  // A released object, or nullopt if none is kept.
  std::optional<T> Take() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return std::nullopt;
    T t = std::move(free_.back());
    free_.pop_back();
    return t;
  }

  // Keeps `t` for a later Take(), or drops it if `max` are kept already.
  void Give(T t) {
    std::lock_guard lock(mu_);
    if (free_.size() < max_) free_.push_back(std::move(t));
  }

 private:
  std::mutex mu_;
  size_t max_;
  std::vector<T> free_;  // Guarded by mu_.
};

}  // namespace halley
