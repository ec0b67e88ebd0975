// SPDX-License-Identifier: Apache-2.0
//
// BlobStore is the only way the engine touches persistent storage: a flat namespace of
// immutable objects per ObjectType, laid out exactly as a restic repository (config, data/xx/,
// index/, keys/, locks/, snapshots/, plus our packindex/). Each backend maps that layout onto
// its medium; the engine never sees paths, URLs or sharding.
//
// Every implementation guarantees:
//  * read-after-write: once Put() returns success, Get(), Stat() and List() see the object;
//  * atomic Put(): no reader ever observes a partially written object, and a failed or
//    interrupted Put() leaves no object under the final name;
//  * durability: Put() returns only after the object (and the directory entry naming it) is on
//    stable storage; Remove() likewise;
//  * no overwrite: Put() of an existing name fails with kAlreadyExists and leaves the existing
//    object untouched (a remote store may report success instead when the existing object has
//    exactly the bytes given: halleyd acknowledges a retried upload whose first reply was lost);
//  * errors by kind: kNotFound for a missing object, kUnavailable only for failures a retry may
//    fix, kCorruption for a read beyond the end of an object, kPermissionDenied, kNoSpace,
//    kIoError otherwise.
// Implementations are safe for concurrent use from multiple threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"

namespace halley::storage {

enum class ObjectType { kConfig, kData, kKey, kLock, kSnapshot, kIndex, kPackIndex };

inline constexpr ObjectType kAllObjectTypes[] = {
    ObjectType::kConfig,   ObjectType::kData,  ObjectType::kKey,      ObjectType::kLock,
    ObjectType::kSnapshot, ObjectType::kIndex, ObjectType::kPackIndex};

// The directory name of a type in the layout ("data", "keys", "locks", "snapshots", "index",
// "packindex"); "" for kConfig, which is the single file "config" at the top.
std::string_view ObjectTypeDir(ObjectType type);

// Names an object. For kConfig the name is always "config". Every other name is 64 lower-case
// hex digits (the SHA-256 of the stored bytes); backends refuse anything else with
// kInvalidArgument, so a hostile name can never escape the layout.
struct ObjectHandle {
  ObjectType type;
  std::string name;

  static ObjectHandle Config() { return {ObjectType::kConfig, "config"}; }
  // "data/3f/3fa2...", "config": the path of the object in the layout, for messages.
  std::string Path() const;
};

// Returns kInvalidArgument unless `h` names a valid object (see ObjectHandle).
Result<void> ValidateHandle(const ObjectHandle& h);

// True for 64 lower-case hex digits (an object name) and for 2 (a data/ shard directory).
bool IsObjectName(std::string_view s);
bool IsShardName(std::string_view s);

// A fresh name for the temporary file of a write in flight: ".tmp-<16 hex>". It starts with
// '.', so it can never collide with or be listed as an object.
std::string TempName();

struct ObjectInfo {
  std::string name;
  uint64_t size = 0;
};

using ListCallback = std::function<Result<void>(const ObjectInfo&)>;

class BlobStore;

// An object written piece by piece before its name is known (a pack is named by the hash of
// its content). Nothing is visible in the store before Commit(); destroying a writer that was
// not committed discards what it wrote. Not thread-safe: one writer, one thread at a time.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Result<void> Write(ByteView data) = 0;
  // Publishes everything written as `h`, with Put()'s guarantees (atomic, durable, no
  // overwrite: kAlreadyExists). Call at most once.
  virtual Result<void> Commit(const ObjectHandle& h) = 0;
};

// The default ObjectWriter: keeps the bytes in memory and Put()s them at Commit().
class BufferedObjectWriter final : public ObjectWriter {
 public:
  explicit BufferedObjectWriter(BlobStore& store, size_t size_hint = 0) : store_(store) {
    data_.reserve(size_hint);
  }
  Result<void> Write(ByteView data) override;
  Result<void> Commit(const ObjectHandle& h) override;
  const Bytes& Data() const { return data_; }

 private:
  BlobStore& store_;
  Bytes data_;
};

// A temporary file untouched this long belongs to no write in flight (writers touch theirs
// with every piece, and network uploads stall out after minutes).
inline constexpr std::chrono::seconds kStaleTemporaryAge = std::chrono::hours(24);

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Where the store lives (a path, or a URL without credentials), for messages.
  virtual std::string Location() const = 0;

  // Prepares an empty store (directories, bucket). Succeeds if the layout already exists and
  // holds no config; returns kAlreadyExists if a config object exists.
  virtual Result<void> Create() = 0;

  // Stores `data` under `h` (atomic, durable, never overwriting: see above).
  virtual Result<void> Put(const ObjectHandle& h, ByteView data) = 0;

  // Starts an object of `type` to be written in pieces and named at Commit(); `size_hint` is
  // the size it will probably reach. The default buffers it in memory (BufferedObjectWriter,
  // reserving the hint at once so that it never grows by copying); stores that can stream to
  // their medium (local files) override it so that a pack being assembled costs no memory.
  virtual Result<std::unique_ptr<ObjectWriter>> NewWriter(ObjectType type, size_t size_hint = 0);

  // Returns `length` bytes starting at `offset`; length 0 means "to the end". kNotFound if the
  // object does not exist; kCorruption if it is shorter than offset + length.
  virtual Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) = 0;

  // Reads exactly out.size() bytes at `offset` into `out`, so that a caller reading many
  // objects reuses its buffers (fresh memory costs page faults). Errors as Get().
  virtual Result<void> ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out);

  // Returns the size of the object, or kNotFound.
  virtual Result<uint64_t> Stat(const ObjectHandle& h) = 0;

  // Calls `fn` once for every object of `type`, in no particular order (data objects are
  // listed flat, without their shard directory). Skips temporary files of in-flight Put()s.
  // Stops at and returns the first error of `fn`. Listing a type with no objects succeeds.
  virtual Result<void> List(ObjectType type, const ListCallback& fn) = 0;

  // Removes the object. Succeeds if it does not exist (idempotent).
  virtual Result<void> Remove(const ObjectHandle& h) = 0;

  // Removes the temporary files of writes that never finished (a killed process) once they
  // are older than `min_age`, so that crashes do not cost disk space for good; younger ones
  // may belong to writes in flight. Returns how many were removed. The default, for stores
  // whose interrupted writes leave nothing behind, removes nothing.
  virtual Result<size_t> RemoveStaleTemporaries(std::chrono::seconds min_age);
};

using BlobStorePtr = std::unique_ptr<BlobStore>;

}  // namespace halley::storage
