// SPDX-License-Identifier: Apache-2.0
//
// Repository: an opened vault. It owns the master key, the config and the in-memory index, and
// is the only writer of vault objects: unpacked files (snapshots, index, locks, packindex) and
// blobs, which it compresses, encrypts, verifies, assembles into packs and uploads.
//
// Write order is packs -> index -> snapshot (DESIGN §9): a pack is listed in an index file only
// after the store acknowledged it durable, and callers write a snapshot only after Flush().
//
// Thread safety: all methods may be called from several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/id.h"
#include "base/time.h"
#include "crypto/seal.h"
#include "repo/config.h"
#include "repo/index.h"
#include "repo/key_file.h"
#include "repo/pack.h"
#include "storage/blob_store.h"

namespace halley::repo {

enum class Compression { kAuto, kOff, kMax };

// Blobs an index file lists at most, and so a pack holds: a 16 MiB pack of blobs of ~100 bytes
// would otherwise hold 160,000, and its index file be 24 MB of JSON, which saving and loading
// hold in memory whole.
inline constexpr size_t kIndexFileBlobs = 50000;

struct RepositoryOptions {
  size_t pack_size = 16 * 1024 * 1024;  // target size of data packs
  Compression compression = Compression::kAuto;
  int upload_threads = 2;
  size_t open_data_packs = 2;        // blobs go to a random open pack (CDC fingerprinting)
  size_t index_flush_blobs = 50000;  // write an index file after this many new blobs...
  std::chrono::seconds index_flush_interval{300};  // ...or this long, so backups resume cheaply
};

struct InitOptions {
  ScryptParams kdf = PasswordScryptParams();
  std::string username;
  std::string hostname;
  std::optional<Config> config;       // default: Config::New()
  std::optional<crypto::Key> master;  // default: a random master key
};

// Counters of what this Repository object wrote.
struct WriteStats {
  uint64_t data_blobs = 0;
  uint64_t tree_blobs = 0;
  uint64_t data_added = 0;         // plaintext bytes of new blobs
  uint64_t data_added_packed = 0;  // stored bytes of new blobs
  uint64_t packs = 0;
};

// restic's short form of a handle in messages: "<index/1a2b3c4d5e>".
std::string ShortHandle(const storage::ObjectHandle& h);

class Repository {
 public:
  // Creates a vault in `store`, which must hold no config. Returns kAlreadyExists otherwise.
  static Result<std::unique_ptr<Repository>> Init(storage::BlobStore& store,
                                                  std::string_view password,
                                                  const InitOptions& init,
                                                  RepositoryOptions options = {});
  // Opens the vault by trying every key file. kNotFound if `store` holds no vault (no config),
  // kUnauthenticated if no key file opens with `password`, kCorruption for a damaged config.
  static Result<std::unique_ptr<Repository>> Open(storage::BlobStore& store,
                                                  std::string_view password,
                                                  RepositoryOptions options = {});
  ~Repository();
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;

  storage::BlobStore& Store() const { return store_; }
  const Config& GetConfig() const { return config_; }
  const crypto::Key& MasterKey() const { return key_; }
  const Id& KeyId() const { return key_id_; }  // the key file that opened the vault
  Index& GetIndex() { return index_; }
  const RepositoryOptions& Options() const { return options_; }

  // Loads every index file into the index. kCorruption names the file that failed:
  // "Load(<index/1234abcd>): ...".
  // `each`, when given, also receives every index file once it is in the index (serialised:
  // it need not lock), for callers that need the files themselves (prune).
  using IndexFileFn = std::function<void(const Id& file, IndexFile&& content)>;
  Result<void> LoadIndex(const IndexFileFn& each = nullptr);
  // Replaces the in-memory index with what the index files say now (after prune or
  // rebuild-index rewrote them). REQUIRES: no blob is being saved.
  Result<void> ReloadIndex(const IndexFileFn& each = nullptr);

  // Reads a stored file and checks SHA-256(content) == name (except config).
  Result<Bytes> LoadRaw(const storage::ObjectHandle& h);
  // Compresses (v2), seals, verifies and stores an unpacked file; returns its ID.
  Result<Id> SaveUnpacked(storage::ObjectType type, std::string_view plaintext);
  // Writes index files listing `packs` (sorted by pack ID, split so that no file lists more
  // than 50,000 blobs); returns how many files were written. Does not touch the in-memory index.
  Result<size_t> WriteIndexFiles(std::vector<IndexPack> packs);
  // Loads, verifies, opens and decompresses an unpacked file.
  Result<std::string> LoadUnpacked(storage::ObjectType type, const Id& id);

  // Returns the plaintext of a blob, checking its hash. kNotFound if the index has no such blob.
  Result<Bytes> LoadBlob(BlobType type, const Id& id);
  // Decodes one sealed blob read from a pack (open, decompress, hash check).
  Result<Bytes> DecodeBlob(const Id& id, ByteView sealed, uint32_t uncompressed_length) const;
  // Grow-only buffers that a thread reuses blob after blob (fresh memory costs page faults).
  struct DecodeScratch {
    Bytes opened;
    Bytes plain;
  };
  // DecodeBlob into `scratch`: returns a view into it, valid until its next use.
  Result<ByteView> DecodeBlobInto(const Id& id, ByteView sealed, uint32_t uncompressed_length,
                                  DecodeScratch& scratch) const;

  // Saves a blob unless the vault has it already (or it is being saved); `id` must be the
  // SHA-256 of `plaintext`. The CPU work runs on the calling thread; uploads run in the
  // background. Returns true if the blob was new. Once an upload failed, returns its error.
  // `store_duplicate` saves it even if the index has it (prune moving blobs out of a pack).
  Result<bool> SaveBlob(BlobType type, const Id& id, ByteView plaintext,
                        bool store_duplicate = false);
  // Seals all open packs, waits for every upload and writes an index file for what is not yet
  // indexed. After success every blob saved so far is durable and indexed.
  Result<void> Flush();

  WriteStats Stats() const;
  // The packs this object has uploaded, from the `from`-th on (a value of Stats().packs taken
  // earlier gives the packs written since then).
  std::vector<Id> WrittenPacks(size_t from = 0) const;

  // Adds a key file wrapping this vault's master key under `password`; returns its ID.
  Result<Id> AddKey(std::string_view password, ScryptParams params, std::string username,
                    std::string hostname);

 private:
  struct OpenPack {
    std::mutex mu;
    std::unique_ptr<PackWriter> writer;  // Guarded by mu.
  };
  struct Upload {
    PackWriter::Finished pack;
    BlobType type;
  };

  Repository(storage::BlobStore& store, Config config, crypto::Key key, Id key_id,
             RepositoryOptions options);
  void StartUploaders();
  void StopUploaders();
  void UploadLoop();
  Result<void> Enqueue(std::unique_ptr<PackWriter> writer);
  Result<void> FirstError() const;
  void SetError(const Error& e);
  size_t TargetPackSize(BlobType type) const;

  storage::BlobStore& store_;
  Config config_;
  crypto::Key key_;
  Id key_id_;
  RepositoryOptions options_;
  Index index_;

  std::mutex pending_mu_;
  std::unordered_set<Id, IdHash> pending_data_;   // Guarded by pending_mu_: saved, not indexed.
  std::unordered_set<Id, IdHash> pending_trees_;  // Guarded by pending_mu_.

  std::vector<std::unique_ptr<OpenPack>> data_packs_;
  std::vector<std::unique_ptr<OpenPack>> tree_packs_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;  // Guarded by rng_mu_.

  mutable std::mutex upload_mu_;
  std::condition_variable upload_cv_;
  std::deque<Upload> queue_;          // Guarded by upload_mu_.
  size_t in_flight_ = 0;              // Guarded by upload_mu_: queued + uploading.
  bool stopping_ = false;             // Guarded by upload_mu_.
  std::optional<Error> error_;        // Guarded by upload_mu_.
  std::vector<IndexPack> unindexed_;  // Guarded by upload_mu_.
  size_t unindexed_blobs_ = 0;        // Guarded by upload_mu_.
  std::chrono::steady_clock::time_point last_index_write_;  // Guarded by upload_mu_.
  WriteStats stats_;                                        // Guarded by upload_mu_.
  std::vector<Id> written_packs_;                           // Guarded by upload_mu_.
  std::mutex index_write_mu_;  // One index file is encoded and saved at a time.
  std::vector<std::thread> uploaders_;
};

}  // namespace halley::repo
