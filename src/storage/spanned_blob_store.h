// SPDX-License-Identifier: Apache-2.0
//
// SpannedBlobStore spreads one store over several member stores (the Storage Role's volumes,
// the product's "Spanned" type 1006 without static slots): new objects go to the member with
// the most free space (members within 1% of it take turns), and reads search every member. So
// objects may be moved from one member to another by hand while the store is in use (a read that
// races such a move retries once), and members can be merged, split and reordered freely.
//
// No overwrite holds across members for writers using the same SpannedBlobStore: the check
// that no member has the name and the commit run under a lock for that name. (Another process
// writing to the members directly could still race; the Storage Role is the only writer.)
// List() reports each name once even if it exists on several members, and Remove() removes
// every copy. Thread-safe if the members are.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "storage/blob_store.h"

namespace halley::storage {

class SpannedBlobStore final : public BlobStore {
 public:
  struct Member {
    BlobStorePtr store;
    // Bytes free for new objects; consulted on every new object. Null means "unknown" (0).
    std::function<uint64_t()> free_bytes;
  };

  // kInvalidArgument if `members` is empty.
  static Result<BlobStorePtr> Open(std::vector<Member> members);

  std::string Location() const override;
  // Creates the layout on every member (so that any member can take new objects).
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;
  Result<std::unique_ptr<ObjectWriter>> NewWriter(ObjectType type, size_t size_hint = 0) override;
  Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) override;
  Result<void> ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) override;
  Result<uint64_t> Stat(const ObjectHandle& h) override;
  Result<void> List(ObjectType type, const ListCallback& fn) override;
  Result<void> Remove(const ObjectHandle& h) override;
  Result<size_t> RemoveStaleTemporaries(std::chrono::seconds min_age) override;  // every member

 private:
  explicit SpannedBlobStore(std::vector<Member> members) : members_(std::move(members)) {}
  BlobStore& Emptiest();
  // kAlreadyExists if any member holds `h`.
  Result<void> CheckAbsent(const ObjectHandle& h);
  // Runs `op` on each member in turn until one does not answer kNotFound; a miss on every
  // member is tried once more, for an object that moved between members during the search.
  template <class T, class Op>
  Result<T> FirstFound(const ObjectHandle& h, Op op);

  // Serialises check-then-commit per name (striped by the name's first byte).
  std::mutex& CommitLock(const ObjectHandle& h) {
    return commit_locks_[h.name.empty()
                             ? 0
                             : static_cast<unsigned char>(h.name[0]) % commit_locks_.size()];
  }

  std::vector<Member> members_;
  std::atomic<size_t> next_{0};  // rotates among equally empty members
  std::array<std::mutex, 16> commit_locks_;
};

}  // namespace halley::storage
