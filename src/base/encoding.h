// SPDX-License-Identifier: Apache-2.0
//
// Hex and base64 (RFC 4648, standard alphabet with padding, as Go's encoding/json uses for
// []byte). Decoders reject malformed input with kInvalidArgument.
#pragma once

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"

namespace halley {

std::string HexEncode(ByteView data);  // lower case
Result<Bytes> HexDecode(std::string_view hex);
// HexDecode into `out`, without allocating: false unless `hex` is 2 * out.size() hex digits.
bool HexDecodeInto(std::string_view hex, MutableByteView out);

std::string Base64Encode(ByteView data);
Result<Bytes> Base64Decode(std::string_view text);

}  // namespace halley
