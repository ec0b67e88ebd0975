// SPDX-License-Identifier: Apache-2.0
#include "repo/config.h"

#include "base/encoding.h"
#include "chunker/gear.h"
#include "chunker/rabin.h"
#include "crypto/kdf.h"
#include "crypto/random.h"

namespace halley::repo {
namespace {

constexpr std::string_view kGearTableInfo = "halley/chunker/gear-table/v1";

std::array<uint64_t, 256> GearTable(const std::array<uint8_t, 32>& key) {
  Bytes raw = crypto::HkdfSha256(key, {}, AsBytes(kGearTableInfo), 256 * 8);
  std::array<uint64_t, 256> table{};
  for (size_t i = 0; i < 256; ++i) {
    uint64_t v = 0;
    for (int b = 7; b >= 0; --b) v = v << 8 | raw[i * 8 + static_cast<size_t>(b)];
    table[i] = v;
  }
  return table;
}

uint64_t Random64() {
  uint64_t v;
  crypto::RandomBytes(MutableByteView(reinterpret_cast<uint8_t*>(&v), sizeof v));
  return v;
}

}  // namespace

Config Config::New() {
  Config c;
  c.id = HexEncode(crypto::RandomBytes(32));
  c.chunker_polynomial = chunker::RandomIrreduciblePolynomial(Random64);
  GearChunkerConfig gear;
  crypto::RandomBytes(gear.key);
  c.gear = gear;
  return c;
}

std::unique_ptr<chunker::Chunker> Config::NewChunker() const {
  if (gear) {
    auto g = chunker::GearChunker::Create(
        GearTable(gear->key), chunker::GearParams{gear->min_size, gear->avg_size, gear->max_size});
    HALLEY_CHECK(g.has_value());  // parameters were validated by DecodeConfig
    return std::move(*g);
  }
  auto r = chunker::RabinChunker::Create(chunker_polynomial);
  HALLEY_CHECK(r.has_value());  // DecodeConfig checked the polynomial
  return std::move(*r);
}

std::string EncodeConfig(const Config& config) {
  // restic's fields first, in Go's order, then ours; restic ignores what it does not know.
  OrderedJson j;
  j["version"] = config.version;
  j["id"] = config.id;
  j["chunker_polynomial"] = chunker::PolynomialToHex(config.chunker_polynomial);
  if (config.gear) {
    OrderedJson g;
    g["type"] = config.gear->type;
    g["min_size"] = config.gear->min_size;
    g["avg_size"] = config.gear->avg_size;
    g["max_size"] = config.gear->max_size;
    g["key"] = HexEncode(config.gear->key);
    j["halley_chunker"] = g;
  }
  for (const auto& [k, v] : config.extra.items()) j[k] = v;
  return j.dump();
}

Result<Config> DecodeConfig(std::string_view text) {
  HALLEY_ASSIGN_OR_RETURN(Json j, ParseJson(text, JsonLimits{.max_bytes = 1 << 20}));
  if (!j.is_object()) return Fail(ErrorCode::kCorruption, "config is not a JSON object");
  Config c;
  HALLEY_ASSIGN_OR_RETURN(uint64_t version, JsonUint(j, "version"));
  if (version < 1 || version > 2) {
    return Fail(ErrorCode::kNotSupported,
                "unsupported repository version " + std::to_string(version));
  }
  c.version = static_cast<int>(version);
  HALLEY_ASSIGN_OR_RETURN(c.id, JsonString(j, "id"));
  HALLEY_ASSIGN_OR_RETURN(std::string pol, JsonString(j, "chunker_polynomial"));
  auto parsed = chunker::PolynomialFromHex(pol);
  if (!parsed || !chunker::RabinChunker::Create(*parsed)) {
    return Fail(ErrorCode::kCorruption, "invalid chunker polynomial \"" + pol + "\"");
  }
  c.chunker_polynomial = *parsed;
  if (auto it = j.find("halley_chunker"); it != j.end()) {
    if (!it->is_object()) return Fail(ErrorCode::kCorruption, "halley_chunker is not an object");
    GearChunkerConfig g;
    HALLEY_ASSIGN_OR_RETURN(g.type, JsonString(*it, "type"));
    if (g.type != "gear-v1") {
      return Fail(ErrorCode::kNotSupported, "unsupported chunker type \"" + g.type + "\"");
    }
    HALLEY_ASSIGN_OR_RETURN(uint64_t min_size, JsonUint(*it, "min_size"));
    HALLEY_ASSIGN_OR_RETURN(uint64_t avg_size, JsonUint(*it, "avg_size"));
    HALLEY_ASSIGN_OR_RETURN(uint64_t max_size, JsonUint(*it, "max_size"));
    if (max_size > (uint64_t{1} << 30)) {
      return Fail(ErrorCode::kCorruption, "chunker max_size is too large");
    }
    g.min_size = static_cast<uint32_t>(min_size);
    g.avg_size = static_cast<uint32_t>(avg_size);
    g.max_size = static_cast<uint32_t>(max_size);
    HALLEY_ASSIGN_OR_RETURN(std::string key_hex, JsonString(*it, "key"));
    auto key = HexDecode(key_hex);
    if (!key || key->size() != 32) return Fail(ErrorCode::kCorruption, "invalid chunker key");
    std::copy(key->begin(), key->end(), g.key.begin());
    std::array<uint64_t, 256> zero_table{};
    auto probe = chunker::GearChunker::Create(
        zero_table, chunker::GearParams{g.min_size, g.avg_size, g.max_size});
    if (!probe) return Fail(probe.error().WithContext("halley_chunker"));
    c.gear = g;
  }
  for (const auto& [k, v] : j.items()) {
    if (k != "version" && k != "id" && k != "chunker_polynomial" && k != "halley_chunker") {
      c.extra[k] = v;
    }
  }
  return c;
}

}  // namespace halley::repo
