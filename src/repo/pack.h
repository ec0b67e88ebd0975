// SPDX-License-Identifier: Apache-2.0
//
// Pack files (restic.md §1.6): sealed blobs back to back, then the sealed header listing them,
// then the header's length as uint32 LE. A pack holds only data blobs or only tree blobs.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/id.h"
#include "crypto/hash.h"
#include "crypto/seal.h"
#include "storage/blob_store.h"

namespace halley::repo {

enum class BlobType : uint8_t { kData = 0, kTree = 1 };
std::string_view BlobTypeName(BlobType t);  // "data" / "tree"

struct PackedBlob {
  BlobType type = BlobType::kData;
  Id id;                             // SHA-256 of the uncompressed plaintext
  uint32_t offset = 0;               // of the sealed blob within the pack
  uint32_t length = 0;               // of the sealed blob (ciphertext + 32)
  uint32_t uncompressed_length = 0;  // 0: stored uncompressed

  bool Compressed() const { return uncompressed_length != 0; }
};

inline constexpr size_t kHeaderEntrySize = 37;
inline constexpr size_t kCompressedHeaderEntrySize = 41;
inline constexpr size_t kMaxHeaderSize = 16 * 1024 * 1024 + 4;

// Size of a pack holding `blobs` (sum of blob lengths + sealed header + 4).
uint64_t PackSize(const std::vector<PackedBlob>& blobs);

// Writes sealed blobs of one type into a pack as they come, through an ObjectWriter (a
// temporary file for a local vault), hashing as it goes. Small blobs are gathered into writes
// of up to kWriteBuffer bytes: a system call per 2 KiB blob would cost more than the blob.
// Not thread-safe.
class PackWriter {
 public:
  PackWriter(BlobType type, std::unique_ptr<storage::ObjectWriter> out);

  BlobType Type() const { return type_; }
  // Appends a sealed blob (iv||ct||tag).
  Result<void> Add(const Id& id, ByteView sealed, uint32_t uncompressed_length);
  size_t Size() const { return size_; }
  size_t Count() const { return blobs_.size(); }

  struct Finished {
    Id id;  // SHA-256 of the pack, its name
    uint64_t size = 0;
    std::vector<PackedBlob> blobs;
    std::unique_ptr<storage::ObjectWriter> out;  // to Commit() under the pack's name
  };
  // Seals the header with `key`, verifies it opens again, and writes it.
  // REQUIRES: Count() > 0. The writer is spent afterwards.
  Result<Finished> Finish(const crypto::Key& key);

 private:
  static constexpr size_t kWriteBuffer = 1 << 20;
  Result<void> Write(ByteView data);
  Result<void> FlushBuffer();

  BlobType type_;
  std::unique_ptr<storage::ObjectWriter> out_;
  Bytes buffer_;  // written, not yet passed to out_
  crypto::Sha256Hasher hash_;
  size_t size_ = 0;
  std::vector<PackedBlob> blobs_;
};

// Parses a decrypted header. kCorruption on an unknown type byte or a truncated entry.
Result<std::vector<PackedBlob>> ParsePackHeader(ByteView plaintext);

// Reads and verifies the header of pack `id` (of `size` bytes, as listed) from `store`: reads
// the tail, opens the header, checks it fits the pack. kCorruption describes what is wrong.
Result<std::vector<PackedBlob>> LoadPackHeader(storage::BlobStore& store, const crypto::Key& key,
                                               const Id& id, uint64_t size);

// Same, from the whole pack already in memory.
Result<std::vector<PackedBlob>> ParsePack(const crypto::Key& key, ByteView pack);

}  // namespace halley::repo
