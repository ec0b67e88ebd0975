// SPDX-License-Identifier: Apache-2.0
#include "base/id.h"

#include "base/encoding.h"

namespace halley {

Result<Id> Id::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid ID \"" + std::string(hex.substr(0, 80)) + "\": must be 64 hex digits");
  }
  Id id;
  if (!HexDecodeInto(hex, id.bytes)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid ID \"" + std::string(hex) + "\"");
  }
  return id;
}

Id Id::FromBytes(ByteView b) {
  HALLEY_CHECK(b.size() == 32);
  Id id;
  std::memcpy(id.bytes.data(), b.data(), 32);
  return id;
}

std::string Id::Hex() const { return HexEncode(bytes); }

bool Id::IsNull() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace halley
