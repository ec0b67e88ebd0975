// SPDX-License-Identifier: Apache-2.0
#include "storage/limited_blob_store.h"

#include <algorithm>

#include "base/error.h"

namespace halley::storage {

// Holds one of the store's slots for the duration of a call. Tickets admit callers in the
// order they came, so a steady stream of new calls cannot starve an old one.
class LimitedBlobStore::Slot {
 public:
  explicit Slot(LimitedBlobStore& s) : s_(s) {
    std::unique_lock lock(s_.mu_);
    const uint64_t ticket = s_.next_ticket_++;
    s_.freed_.wait(lock, [&] { return ticket == s_.serving_ && s_.in_flight_ < s_.limit_; });
    ++s_.serving_;
    ++s_.in_flight_;
    s_.peak_ = std::max(s_.peak_, s_.in_flight_);
    // The next ticket may be admitted too, if a slot is still free.
    s_.freed_.notify_all();
  }
  ~Slot() {
    {
      std::lock_guard lock(s_.mu_);
      --s_.in_flight_;
    }
    s_.freed_.notify_all();
  }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  LimitedBlobStore& s_;
};

LimitedBlobStore::LimitedBlobStore(BlobStorePtr inner, int limit)
    : inner_(std::move(inner)), limit_(limit) {
  HALLEY_CHECK(limit_ >= 1);
}

Result<void> LimitedBlobStore::Create() {
  Slot slot(*this);
  return inner_->Create();
}

Result<void> LimitedBlobStore::Put(const ObjectHandle& h, ByteView data) {
  Slot slot(*this);
  return inner_->Put(h, data);
}

Result<Bytes> LimitedBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  Slot slot(*this);
  return inner_->Get(h, offset, length);
}

Result<void> LimitedBlobStore::ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) {
  Slot slot(*this);
  return inner_->ReadAt(h, offset, out);
}

Result<uint64_t> LimitedBlobStore::Stat(const ObjectHandle& h) {
  Slot slot(*this);
  return inner_->Stat(h);
}

Result<void> LimitedBlobStore::List(ObjectType type, const ListCallback& fn) {
  return inner_->List(type, fn);
}

Result<void> LimitedBlobStore::Remove(const ObjectHandle& h) {
  Slot slot(*this);
  return inner_->Remove(h);
}

Result<size_t> LimitedBlobStore::RemoveStaleTemporaries(std::chrono::seconds min_age) {
  Slot slot(*this);
  return inner_->RemoveStaleTemporaries(min_age);
}

int LimitedBlobStore::PeakInFlight() const {
  std::lock_guard lock(mu_);
  return peak_;
}

}  // namespace halley::storage
