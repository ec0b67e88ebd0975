// SPDX-License-Identifier: Apache-2.0
#include "repo/index.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>

#include "base/json.h"

namespace halley::repo {

std::string EncodeIndexFile(const IndexFile& file) {
  // Sized once (a blob's entry is at most ~190 bytes): index files reach tens of megabytes,
  // and growing by doubling would hold up to twice that, more than once.
  size_t blobs = 0;
  for (const auto& p : file.packs) blobs += p.blobs.size();
  std::string out;
  out.reserve(16 + file.packs.size() * 96 + blobs * 192);
  out.append("{\"packs\":[");
  bool first_pack = true;
  for (const auto& p : file.packs) {
    if (!first_pack) out.push_back(',');
    first_pack = false;
    out.append("{\"id\":\"").append(p.id.Hex()).append("\",\"blobs\":[");
    bool first_blob = true;
    for (const auto& b : p.blobs) {
      if (!first_blob) out.push_back(',');
      first_blob = false;
      out.append("{\"id\":\"").append(b.id.Hex()).append("\",\"type\":\"");
      out.append(BlobTypeName(b.type)).append("\",\"offset\":");
      out.append(std::to_string(b.offset)).append(",\"length\":").append(std::to_string(b.length));
      if (b.Compressed()) {
        out.append(",\"uncompressed_length\":").append(std::to_string(b.uncompressed_length));
      }
      out.push_back('}');
    }
    out.append("]}");
  }
  out.append("]}");
  return out;
}

namespace {

enum class Where { kRoot, kPacks, kPack, kBlobs, kBlob, kSupersedes };

// Decodes an index file as it is parsed: no document tree, which for an index file costs ten
// times the blobs it lists on every thread loading one. A member given twice keeps its last
// value; unknown members are skipped.
class IndexFileReader : public SaxReader<IndexFileReader, Where> {
 public:
  Result<IndexFile> Read(std::string_view json) {
    HALLEY_RETURN_IF_ERROR(Parse(json));
    if (!root_seen_) return Fail(ErrorCode::kCorruption, "index is neither an object nor an array");
    if (!packs_seen_) return Fail(ErrorCode::kCorruption, "index: no \"packs\" array");
    return std::move(file_);
  }

  std::optional<Where> Place(SaxValue v) {
    if (Stack().empty()) {
      root_seen_ = v == SaxValue::kObject || v == SaxValue::kArray;
      if (v == SaxValue::kObject) return Where::kRoot;
      packs_seen_ = v == SaxValue::kArray;  // the legacy form: a bare array of packs
      if (packs_seen_) return Where::kPacks;
      return std::nullopt;
    }
    const std::string_view key = Key();
    switch (Stack().back()) {
      case Where::kRoot:
        if (key == "packs") {
          packs_seen_ = v == SaxValue::kArray;
          file_.packs.clear();
          if (packs_seen_) return Where::kPacks;
        } else if (key == "supersedes" && v == SaxValue::kArray) {
          file_.supersedes.clear();
          return Where::kSupersedes;
        }
        return std::nullopt;
      case Where::kPacks:
        if (v != SaxValue::kObject) {
          Problem("index: pack entry is not an object");
          return std::nullopt;
        }
        pack_ = IndexPack{};
        pack_id_.reset();
        blobs_seen_ = false;
        return Where::kPack;
      case Where::kPack:
        if (key == "id") {
          pack_id_ = String(v);
        } else if (key == "blobs") {
          blobs_seen_ = v == SaxValue::kArray;
          pack_.blobs.clear();
          if (blobs_seen_) return Where::kBlobs;
        }
        return std::nullopt;
      case Where::kBlobs:
        if (v != SaxValue::kObject) {
          Problem("index: blob entry is not an object");
          return std::nullopt;
        }
        blob_id_.reset();
        blob_type_.reset();
        offset_ = length_ = uncompressed_ = U32{};
        return Where::kBlob;
      case Where::kBlob:
        if (key == "id") {
          blob_id_ = String(v);
        } else if (key == "type") {
          blob_type_ = String(v);
        } else if (key == "offset") {
          offset_ = Number(v);
        } else if (key == "length") {
          length_ = Number(v);
        } else if (key == "uncompressed_length") {
          uncompressed_ = Number(v);
        }
        return std::nullopt;
      case Where::kSupersedes:
        if (v == SaxValue::kString) {
          if (auto id = Id::FromHex(text_)) file_.supersedes.push_back(*id);
        }
        return std::nullopt;
    }
    return std::nullopt;
  }

  void Closed(Where w) {
    if (w == Where::kBlob) FinishBlob();
    if (w == Where::kPack) FinishPack();
  }

 private:
  struct U32 {
    bool present = false, valid = false;
    uint32_t value = 0;
  };

  std::optional<std::string> String(SaxValue v) {
    if (v != SaxValue::kString) return std::nullopt;
    return std::move(text_);
  }
  U32 Number(SaxValue v) const {
    return {v != SaxValue::kNull, v == SaxValue::kUnsigned && number_ <= UINT32_MAX,
            static_cast<uint32_t>(number_)};
  }
  static std::string NotAString(const char* field) {
    return std::string("field \"") + field + "\" is missing or not a string";
  }

  void FinishBlob() {
    PackedBlob blob;
    if (!blob_id_) return Problem(NotAString("id"));
    auto id = Id::FromHex(*blob_id_);
    if (!id) return Problem("index: invalid blob ID");
    blob.id = *id;
    if (!blob_type_) return Problem(NotAString("type"));
    if (*blob_type_ == "data") {
      blob.type = BlobType::kData;
    } else if (*blob_type_ == "tree") {
      blob.type = BlobType::kTree;
    } else {
      return Problem("index: invalid blob type \"" + blob_type_->substr(0, 32) + "\"");
    }
    for (auto [f, name, optional] :
         {std::tuple{&offset_, "offset", false}, std::tuple{&length_, "length", false},
          std::tuple{&uncompressed_, "uncompressed_length", true}}) {
      if (!f->present && !optional) return Problem(std::string("index: missing field ") + name);
      if (f->present && !f->valid) return Problem(std::string("index: invalid ") + name);
    }
    blob.offset = offset_.value;
    blob.length = length_.value;
    blob.uncompressed_length = uncompressed_.present ? uncompressed_.value : 0;
    if (blob.length < 32) return Problem("index: blob length below 32");
    pack_.blobs.push_back(blob);
  }

  void FinishPack() {
    if (!pack_id_) return Problem(NotAString("id"));
    auto id = Id::FromHex(*pack_id_);
    if (!id) return Problem("index: invalid pack ID");
    pack_.id = *id;
    if (!blobs_seen_) return Problem("index: pack " + pack_.id.Short() + " has no blob list");
    file_.packs.push_back(std::move(pack_));
  }

  IndexFile file_;
  bool root_seen_ = false, packs_seen_ = false;
  IndexPack pack_;  // the pack being read
  std::optional<std::string> pack_id_;
  bool blobs_seen_ = false;
  std::optional<std::string> blob_id_, blob_type_;  // the blob being read
  U32 offset_, length_, uncompressed_;
};

}  // namespace

Result<IndexFile> DecodeIndexFile(std::string_view json) { return IndexFileReader().Read(json); }

// One blob type's entries: a sorted array, found through a directory of where each value of
// the IDs' leading bits starts (SHA-256 IDs are uniform: about eight entries share one), and
// the entries added since the last merge, hashed. The array grows with realloc, which for
// large blocks moves pages instead of copying them, so a merge holds no second copy.
class Index::Table {
 public:
  Table() = default;
  ~Table() { std::free(sorted_); }
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  const Location* Find(const Id& id) const {
    if (const Location* sorted = FindSorted(id)) return sorted;
    auto r = recent_.find(id);
    return r == recent_.end() ? nullptr : &r->second;
  }

  // Keeps the first location of an ID (try_emplace leaves one already in recent_ alone).
  void Add(const Id& id, const Location& loc) {
    if (FindSorted(id) || !recent_.try_emplace(id, loc).second) return;
    if (recent_.size() > std::max<size_t>(kMinRecent, n_ / 8)) Merge();
  }

  size_t Size() const { return n_ + recent_.size(); }

 private:
  struct Entry {
    Id id;
    Location loc;
  };
  static_assert(sizeof(Entry) == 48 && std::is_trivially_copyable_v<Entry>);
  static constexpr size_t kMinRecent = 1 << 14;

  const Location* FindSorted(const Id& id) const {
    if (n_ == 0) return nullptr;
    uint32_t b = Bucket(id);
    const Entry* first = sorted_ + dir_[b];
    const Entry* last = sorted_ + dir_[b + 1];
    const Entry* it = std::lower_bound(first, last, id,
                                       [](const Entry& e, const Id& want) { return e.id < want; });
    return it != last && it->id == id ? &it->loc : nullptr;
  }

  uint32_t Bucket(const Id& id) const {
    if (bits_ == 0) return 0;
    uint32_t lead = uint32_t{id.bytes[0]} << 24 | uint32_t{id.bytes[1]} << 16 |
                    uint32_t{id.bytes[2]} << 8 | id.bytes[3];
    return lead >> (32 - bits_);
  }

  void Merge() {
    std::vector<Entry> add;
    add.reserve(recent_.size());
    for (const auto& [id, loc] : recent_) add.push_back({id, loc});
    recent_ = {};
    std::sort(add.begin(), add.end(), [](const Entry& a, const Entry& b) { return a.id < b.id; });
    size_t total = n_ + add.size();
    auto* grown = static_cast<Entry*>(std::realloc(sorted_, total * sizeof(Entry)));
    if (grown == nullptr) throw std::bad_alloc();
    sorted_ = grown;
    // Merge from the back, in place: the old entries move up at most add.size() places.
    size_t i = n_, j = add.size(), k = total;
    while (j > 0) {
      if (i > 0 && add[j - 1].id < sorted_[i - 1].id) {
        sorted_[--k] = sorted_[--i];
      } else {
        sorted_[--k] = add[--j];
      }
    }
    n_ = total;
    bits_ = 0;
    while (bits_ < 26 && (size_t{8} << bits_) <= n_) ++bits_;  // about 4-8 per bucket
    dir_.assign((size_t{1} << bits_) + 1, 0);
    size_t at = 0;
    for (uint32_t b = 0; b < (uint32_t{1} << bits_); ++b) {
      dir_[b] = static_cast<uint32_t>(at);
      while (at < n_ && Bucket(sorted_[at].id) == b) ++at;
    }
    dir_.back() = static_cast<uint32_t>(n_);
    dir_.shrink_to_fit();
  }

  Entry* sorted_ = nullptr;  // n_ entries, ascending by ID, none also in recent_
  size_t n_ = 0;
  int bits_ = 0;
  std::vector<uint32_t> dir_;  // bucket b's entries: [dir_[b], dir_[b + 1])
  std::unordered_map<Id, Location, IdHash> recent_;
};

Index::Index() : data_(std::make_unique<Table>()), trees_(std::make_unique<Table>()) {}
Index::~Index() = default;

void Index::AddPack(const Id& pack, const std::vector<PackedBlob>& blobs) {
  std::unique_lock lock(mu_);
  if (pack_numbers_.count(pack)) return;  // the same pack listed by two index files
  uint32_t n = static_cast<uint32_t>(packs_.size());
  packs_.push_back(pack);
  pack_sizes_.push_back(PackSize(blobs));
  pack_numbers_.emplace(pack, n);
  for (const auto& b : blobs) {
    TableFor(b.type).Add(b.id, Location{n, b.offset, b.length, b.uncompressed_length});
  }
}

void Index::Clear() {
  std::unique_lock lock(mu_);
  packs_.clear();
  pack_sizes_.clear();
  pack_numbers_.clear();
  data_ = std::make_unique<Table>();
  trees_ = std::make_unique<Table>();
}

std::optional<BlobLocation> Index::Lookup(BlobType type, const Id& id) const {
  std::shared_lock lock(mu_);
  const Location* e = TableFor(type).Find(id);
  if (e == nullptr) return std::nullopt;
  return BlobLocation{packs_[e->pack], e->offset, e->length, e->uncompressed_length};
}

bool Index::Has(BlobType type, const Id& id) const {
  std::shared_lock lock(mu_);
  return TableFor(type).Find(id) != nullptr;
}

size_t Index::BlobCount(BlobType type) const {
  std::shared_lock lock(mu_);
  return TableFor(type).Size();
}

std::unordered_map<Id, uint64_t, IdHash> Index::PackSizes() const {
  std::shared_lock lock(mu_);
  std::unordered_map<Id, uint64_t, IdHash> out;
  out.reserve(packs_.size());
  for (size_t i = 0; i < packs_.size(); ++i) out.emplace(packs_[i], pack_sizes_[i]);
  return out;
}

}  // namespace halley::repo
