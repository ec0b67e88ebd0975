// SPDX-License-Identifier: Apache-2.0
//
// A decorator that lets at most N calls reach the store at once (restic's -o *.connections):
// for a server that throttles or fails under many parallel requests, or a link that more
// connections would only congest. Callers beyond the limit wait their turn, first come first
// served. List is not counted: its callback may call back into the store, and listings are few
// and sequential.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "storage/blob_store.h"

namespace halley::storage {

class LimitedBlobStore final : public BlobStore {
 public:
  // REQUIRES: limit >= 1.
  LimitedBlobStore(BlobStorePtr inner, int limit);

  std::string Location() const override { return inner_->Location(); }
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;
  Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) override;
  Result<void> ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) override;
  Result<uint64_t> Stat(const ObjectHandle& h) override;
  Result<void> List(ObjectType type, const ListCallback& fn) override;
  Result<void> Remove(const ObjectHandle& h) override;
  Result<size_t> RemoveStaleTemporaries(std::chrono::seconds min_age) override;

  // The most calls that were in the store at once so far (for tests).
  int PeakInFlight() const;

 private:
  class Slot;

  BlobStorePtr inner_;
  const int limit_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  uint64_t next_ticket_ = 0;  // guarded by mu_: the order callers arrived in
  uint64_t serving_ = 0;      // guarded by mu_: the first ticket not yet admitted
  int in_flight_ = 0;         // guarded by mu_
  int peak_ = 0;              // guarded by mu_
};

}  // namespace halley::storage
