// SPDX-License-Identifier: Apache-2.0
//
// MemBlobStore keeps a vault in memory, for engine tests and --dry-run. It honours the whole
// BlobStore contract (names validated, no overwrite, ranges checked, kNotFound for missing
// objects); durability is trivially "until the object is destroyed". Create() is optional:
// a fresh store accepts Put() at once.
//
// Thread-safe: one mutex guards the map. Objects are immutable and shared, so Get() copies
// its range outside the lock and List() calls its callback outside the lock (the callback
// may call back into the store).
#pragma once

#include <array>
#include <cstddef>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "storage/blob_store.h"

namespace halley::storage {

class MemBlobStore final : public BlobStore {
 public:
  MemBlobStore() = default;

  static BlobStorePtr Make() { return std::make_unique<MemBlobStore>(); }

  // BlobStore
  std::string Location() const override { return "mem:"; }
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;
  Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) override;
  Result<uint64_t> Stat(const ObjectHandle& h) override;
  Result<void> List(ObjectType type, const ListCallback& fn) override;
  Result<void> Remove(const ObjectHandle& h) override;

 private:
  using Object = std::shared_ptr<const Bytes>;
  static constexpr size_t kTypeCount = std::size(kAllObjectTypes);

  // Returns the object or kNotFound. REQUIRES: `h` is valid.
  Result<Object> Find(const ObjectHandle& h) const;

  mutable std::mutex mutex_;
  std::array<std::map<std::string, Object>, kTypeCount> objects_;  // Guarded by mutex_.
};

}  // namespace halley::storage
