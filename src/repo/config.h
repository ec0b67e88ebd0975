// SPDX-License-Identifier: Apache-2.0
//
// The vault's `config` object: restic's fields (version, id, chunker_polynomial) plus Halley's
// chunker parameters in an extra field restic ignores. Unknown fields are kept and written back.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "chunker/chunker.h"

namespace halley::repo {

inline constexpr int kRepoVersion = 2;

// Halley's keyed gear chunker (docs/vault-format.md). The key is secret: the config object is
// encrypted, and the gear table derived from the key never leaves memory.
struct GearChunkerConfig {
  std::string type = "gear-v1";
  uint32_t min_size = 512 * 1024;
  uint32_t avg_size = 1024 * 1024;
  uint32_t max_size = 8 * 1024 * 1024;
  std::array<uint8_t, 32> key{};
};

struct Config {
  int version = kRepoVersion;
  std::string id;               // 64 hex digits
  uint64_t chunker_polynomial;  // restic's Rabin polynomial (always present, restic requires it)
  std::optional<GearChunkerConfig> gear;  // absent in vaults restic created
  Json extra = Json::object();            // unknown fields, preserved

  // A fresh config for a new vault: random id, random irreducible polynomial, random gear key.
  static Config New();
  // A new chunker for this vault: the gear chunker if configured, else restic's Rabin chunker
  // (so that backups into a restic-made vault cut and deduplicate exactly as restic does).
  std::unique_ptr<chunker::Chunker> NewChunker() const;
};

std::string EncodeConfig(const Config& config);
// kCorruption for malformed JSON or fields; kNotSupported for an unknown version or chunker type.
Result<Config> DecodeConfig(std::string_view json);

}  // namespace halley::repo
