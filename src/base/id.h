// SPDX-License-Identifier: Apache-2.0
//
// Id: a 32-byte SHA-256 value naming a blob (hash of its plaintext) or a stored file (hash of
// its stored bytes). Printed as 64 lower-case hex digits; Short() gives the first 8.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"

namespace halley {

struct Id {
  std::array<uint8_t, 32> bytes{};

  static Result<Id> FromHex(std::string_view hex);
  static Id FromBytes(ByteView b);  // REQUIRES: b.size() == 32
  std::string Hex() const;
  std::string Short() const { return Hex().substr(0, 8); }
  bool IsNull() const;

  auto operator<=>(const Id&) const = default;
  bool operator==(const Id&) const = default;
};

struct IdHash {
  size_t operator()(const Id& id) const {
    // SHA-256 output is uniform; its first eight bytes are a fine hash.
    uint64_t v;
    std::memcpy(&v, id.bytes.data(), sizeof v);
    return static_cast<size_t>(v);
  }
};

}  // namespace halley
