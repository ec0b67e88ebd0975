// SPDX-License-Identifier: Apache-2.0
//
// LocalBlobStore keeps a vault in a local directory, laid out exactly like restic's local
// backend so that restic and Halley can open each other's vaults:
//
//   root/config
//   root/data/<first 2 hex>/<64 hex>
//   root/{keys,locks,snapshots,index,packindex}/<64 hex>
//
// Directories are mode 0700 and objects 0400 (immutable), as restic makes them.
// Put() and NewWriter() write a temporary file in the type directory (".tmp-<16 hex>", which
// can never be a valid object name and is never listed; data/ for packs), fsync it, publish it
// under the final name with renameat2(RENAME_NOREPLACE) (or link()+unlink() where the
// filesystem lacks it), and fsync the directory that gained the name. A Put() that fails at
// any step, and a writer destroyed before its Commit(), remove the temporary file. Missing
// type or shard directories below an existing root are created on demand (tools that copy
// vaults often drop empty directories, and restic does not make packindex/); a missing root
// is never created except by Create(), so a mistyped path fails with kNotFound instead of
// starting a new vault.
//
// Errors follow the BlobStore contract; errno values map through halley::ErrnoError
// (EACCES/EPERM/EROFS -> kPermissionDenied, ENOSPC/EDQUOT -> kNoSpace, ...). A read that ends
// early (file shorter than the requested range) is kCorruption.
//
// Thread-safe: the object holds no mutable state; concurrency is the kernel's.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "storage/blob_store.h"

namespace halley::storage {

class LocalBlobStore final : public BlobStore {
 public:
  struct Options {
    // false forces the link()+unlink() publish path that filesystems without
    // RENAME_NOREPLACE take, so tests can cover it on any filesystem.
    bool rename_noreplace = true;
  };

  // Returns a store rooted at `root`. Touches nothing on disk: the directory need not exist
  // until Create(). kInvalidArgument if `root` is empty.
  static Result<BlobStorePtr> Open(std::string root);
  static Result<BlobStorePtr> Open(std::string root, Options options);

  // BlobStore
  std::string Location() const override { return root_; }
  // Makes root (and its parents, mode 0700) and every type directory including all 256
  // data/xx shards. kAlreadyExists if root/config exists.
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;
  Result<std::unique_ptr<ObjectWriter>> NewWriter(ObjectType type, size_t size_hint = 0) override;
  Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) override;
  Result<void> ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) override;
  Result<uint64_t> Stat(const ObjectHandle& h) override;
  Result<void> List(ObjectType type, const ListCallback& fn) override;
  Result<void> Remove(const ObjectHandle& h) override;
  // The ".tmp-*" files in the type directories whose mtime is older than `min_age`.
  Result<size_t> RemoveStaleTemporaries(std::chrono::seconds min_age) override;

 private:
  LocalBlobStore(std::string root, Options options) : root_(std::move(root)), options_(options) {}
  // Reads `length` bytes at `offset` (0: to the end) into the buffer `buffer(length)` returns,
  // once the range is known to be inside the object.
  Result<void> Read(const ObjectHandle& h, uint64_t offset, uint64_t length,
                    const std::function<MutableByteView(uint64_t)>& buffer);

  const std::string root_;
  const Options options_;
};

}  // namespace halley::storage
