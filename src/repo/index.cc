// SPDX-License-Identifier: Apache-2.0
#include "repo/index.h"

#include "base/json.h"

namespace halley::repo {

std::string EncodeIndexFile(const IndexFile& file) {
  std::string out = "{\"packs\":[";
  bool first_pack = true;
  for (const auto& p : file.packs) {
    if (!first_pack) out.push_back(',');
    first_pack = false;
    out += "{\"id\":\"" + p.id.Hex() + "\",\"blobs\":[";
    bool first_blob = true;
    for (const auto& b : p.blobs) {
      if (!first_blob) out.push_back(',');
      first_blob = false;
      out += "{\"id\":\"" + b.id.Hex() + "\",\"type\":\"" + std::string(BlobTypeName(b.type)) +
             "\",\"offset\":" + std::to_string(b.offset) +
             ",\"length\":" + std::to_string(b.length);
      if (b.Compressed())
        out += ",\"uncompressed_length\":" + std::to_string(b.uncompressed_length);
      out.push_back('}');
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

namespace {

Result<uint32_t> U32Field(const Json& j, const char* field, bool optional) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (optional) return 0u;
    return Fail(ErrorCode::kCorruption, std::string("index: missing field ") + field);
  }
  if (!it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX) {
    return Fail(ErrorCode::kCorruption, std::string("index: invalid ") + field);
  }
  return static_cast<uint32_t>(it->get<uint64_t>());
}

Result<IndexPack> DecodePack(const Json& p) {
  if (!p.is_object()) return Fail(ErrorCode::kCorruption, "index: pack entry is not an object");
  IndexPack pack;
  HALLEY_ASSIGN_OR_RETURN(std::string id, JsonString(p, "id"));
  auto pid = Id::FromHex(id);
  if (!pid) return Fail(ErrorCode::kCorruption, "index: invalid pack ID");
  pack.id = *pid;
  auto blobs = p.find("blobs");
  if (blobs == p.end() || !blobs->is_array()) {
    return Fail(ErrorCode::kCorruption, "index: pack " + pack.id.Short() + " has no blob list");
  }
  pack.blobs.reserve(blobs->size());
  for (const auto& b : *blobs) {
    if (!b.is_object()) return Fail(ErrorCode::kCorruption, "index: blob entry is not an object");
    PackedBlob blob;
    HALLEY_ASSIGN_OR_RETURN(std::string bid, JsonString(b, "id"));
    auto parsed = Id::FromHex(bid);
    if (!parsed) return Fail(ErrorCode::kCorruption, "index: invalid blob ID");
    blob.id = *parsed;
    HALLEY_ASSIGN_OR_RETURN(std::string type, JsonString(b, "type"));
    if (type == "data") {
      blob.type = BlobType::kData;
    } else if (type == "tree") {
      blob.type = BlobType::kTree;
    } else {
      return Fail(ErrorCode::kCorruption, "index: invalid blob type \"" + type + "\"");
    }
    HALLEY_ASSIGN_OR_RETURN(blob.offset, U32Field(b, "offset", false));
    HALLEY_ASSIGN_OR_RETURN(blob.length, U32Field(b, "length", false));
    HALLEY_ASSIGN_OR_RETURN(blob.uncompressed_length, U32Field(b, "uncompressed_length", true));
    if (blob.length < 32) return Fail(ErrorCode::kCorruption, "index: blob length below 32");
    pack.blobs.push_back(blob);
  }
  return pack;
}

}  // namespace

Result<IndexFile> DecodeIndexFile(std::string_view json) {
  HALLEY_ASSIGN_OR_RETURN(Json j, ParseJson(json));
  IndexFile file;
  const Json* packs = nullptr;
  if (j.is_array()) {
    packs = &j;  // legacy format: a bare array of packs
  } else if (j.is_object()) {
    auto it = j.find("packs");
    if (it == j.end() || !it->is_array()) {
      return Fail(ErrorCode::kCorruption, "index: no \"packs\" array");
    }
    packs = &*it;
    if (auto s = j.find("supersedes"); s != j.end() && s->is_array()) {
      for (const auto& id : *s) {
        if (!id.is_string()) continue;
        if (auto parsed = Id::FromHex(id.get<std::string>())) file.supersedes.push_back(*parsed);
      }
    }
  } else {
    return Fail(ErrorCode::kCorruption, "index is neither an object nor an array");
  }
  file.packs.reserve(packs->size());
  for (const auto& p : *packs) {
    HALLEY_ASSIGN_OR_RETURN(IndexPack pack, DecodePack(p));
    file.packs.push_back(std::move(pack));
  }
  return file;
}

void Index::AddPack(const Id& pack, const std::vector<PackedBlob>& blobs) {
  std::unique_lock lock(mu_);
  if (pack_numbers_.count(pack)) return;  // the same pack listed by two index files
  uint32_t n = static_cast<uint32_t>(packs_.size());
  packs_.push_back(pack);
  pack_sizes_.push_back(PackSize(blobs));
  pack_numbers_.emplace(pack, n);
  for (const auto& b : blobs) {
    Table& t = b.type == BlobType::kTree ? trees_ : data_;
    t.try_emplace(b.id, Entry{n, b.offset, b.length, b.uncompressed_length});
  }
}

void Index::Clear() {
  std::unique_lock lock(mu_);
  packs_.clear();
  pack_sizes_.clear();
  pack_numbers_.clear();
  data_.clear();
  trees_.clear();
}

std::optional<BlobLocation> Index::Lookup(BlobType type, const Id& id) const {
  std::shared_lock lock(mu_);
  const Table& t = TableFor(type);
  auto it = t.find(id);
  if (it == t.end()) return std::nullopt;
  const Entry& e = it->second;
  return BlobLocation{packs_[e.pack], e.offset, e.length, e.uncompressed_length};
}

bool Index::Has(BlobType type, const Id& id) const {
  std::shared_lock lock(mu_);
  return TableFor(type).count(id) != 0;
}

size_t Index::BlobCount(BlobType type) const {
  std::shared_lock lock(mu_);
  return TableFor(type).size();
}

std::unordered_map<Id, uint64_t, IdHash> Index::PackSizes() const {
  std::shared_lock lock(mu_);
  std::unordered_map<Id, uint64_t, IdHash> out;
  out.reserve(packs_.size());
  for (size_t i = 0; i < packs_.size(); ++i) out.emplace(packs_[i], pack_sizes_[i]);
  return out;
}

}  // namespace halley::repo
