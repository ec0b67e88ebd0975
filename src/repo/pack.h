// SPDX-License-Identifier: Apache-2.0
//
// Pack files (restic.md §1.6): sealed blobs back to back, then the sealed header listing them,
// then the header's length as uint32 LE. A pack holds only data blobs or only tree blobs.
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/id.h"
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

// Accumulates sealed blobs of one type into a pack in memory. Not thread-safe.
class PackWriter {
 public:
  explicit PackWriter(BlobType type, size_t reserve = 0);

  BlobType Type() const { return type_; }
  // Appends a sealed blob (iv||ct||tag).
  void Add(const Id& id, ByteView sealed, uint32_t uncompressed_length);
  size_t Size() const { return data_.size(); }
  size_t Count() const { return blobs_.size(); }

  struct Finished {
    Id id;  // SHA-256 of `data`, the pack's name
    Bytes data;
    std::vector<PackedBlob> blobs;
  };
  // Seals the header with `key`, verifies it opens again, and returns the finished pack.
  // REQUIRES: Count() > 0. The writer is empty afterwards.
  Result<Finished> Finish(const crypto::Key& key);

 private:
  BlobType type_;
  Bytes data_;
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
