// SPDX-License-Identifier: Apache-2.0
//
// The index: where every blob lives (pack, offset, length). In memory it is one table for the
// whole vault; on storage it is a set of index files (restic.md §1.7) that may overlap.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "base/id.h"
#include "repo/pack.h"

namespace halley::repo {

struct BlobLocation {
  Id pack;
  uint32_t offset = 0;
  uint32_t length = 0;
  uint32_t uncompressed_length = 0;

  // Size of the plaintext (uncompressed) blob.
  uint32_t PlainSize() const { return uncompressed_length ? uncompressed_length : length - 32; }
};

// One index file's content.
struct IndexPack {
  Id id;
  std::vector<PackedBlob> blobs;
};
struct IndexFile {
  std::vector<IndexPack> packs;
  std::vector<Id> supersedes;  // legacy field; read, never written
};

std::string EncodeIndexFile(const IndexFile& file);
// Accepts the current format and the legacy bare-array form. kCorruption on anything else.
Result<IndexFile> DecodeIndexFile(std::string_view json);

// The in-memory index of the whole vault. Thread-safe. A blob costs 48 bytes (its ID and
// four 32-bit fields) in a sorted array, plus at most half a byte of directory; blobs added
// since the array was last merged (at most an eighth of it, or 16,384) wait in a hash table.
class Index {
 public:
  Index();
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Adds every blob of a pack. A blob already known keeps its first location.
  void AddPack(const Id& pack, const std::vector<PackedBlob>& blobs);
  // Forgets everything (before reloading after the index files were rewritten).
  void Clear();

  std::optional<BlobLocation> Lookup(BlobType type, const Id& id) const;
  bool Has(BlobType type, const Id& id) const;
  size_t BlobCount(BlobType type) const;

  // Packs the index references, with their expected sizes (computed from the blobs).
  std::unordered_map<Id, uint64_t, IdHash> PackSizes() const;

 private:
  struct Location {
    uint32_t pack;  // into packs_
    uint32_t offset;
    uint32_t length;
    uint32_t uncompressed_length;
  };
  class Table;

  Table& TableFor(BlobType t) const { return *(t == BlobType::kTree ? trees_ : data_); }

  mutable std::shared_mutex mu_;
  std::vector<Id> packs_;                                  // Guarded by mu_.
  std::vector<uint64_t> pack_sizes_;                       // Guarded by mu_.
  std::unordered_map<Id, uint32_t, IdHash> pack_numbers_;  // Guarded by mu_.
  std::unique_ptr<Table> data_, trees_;                    // Guarded by mu_.
};

}  // namespace halley::repo
