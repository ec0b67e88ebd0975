// SPDX-License-Identifier: Apache-2.0
//
// JSON: parsing with limits (all JSON we read may be hostile), and a writer for Go's
// encoding/json string form, which trees must match byte for byte to deduplicate with restic.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace halley {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

struct JsonLimits {
  size_t max_bytes = size_t{256} << 20;
  int max_depth = 64;
};

// Parses `text`. Returns kCorruption for malformed JSON or for input over the limits (the
// depth limit is enforced while parsing, before a deep document is built).
Result<Json> ParseJson(std::string_view text, JsonLimits limits = {});

// Appends `s` as a quoted JSON string the way Go's encoding/json does: HTML-safe escapes
// (\u003c \u003e \u0026), \n \r \t, other control bytes as \u00XX, U+2028/U+2029 escaped,
// and each byte of invalid UTF-8 replaced by \ufffd.
void AppendGoJsonString(std::string& out, std::string_view s);

// Typed field access for decoders: kCorruption naming the field when it is missing or has the
// wrong type. `Optional*` variants return the default when the field is absent or null.
Result<std::string> JsonString(const Json& obj, const char* field);
Result<uint64_t> JsonUint(const Json& obj, const char* field);
Result<int64_t> JsonInt(const Json& obj, const char* field);
Result<bool> JsonBool(const Json& obj, const char* field);
Result<std::string> OptionalJsonString(const Json& obj, const char* field, std::string def = {});
// obj[field] if it is a string, else "": for JSON from elsewhere (a client, a profile, another
// server), where nlohmann's value() would throw on a field of another type.
std::string StringField(const Json& obj, const char* field);
Result<uint64_t> OptionalJsonUint(const Json& obj, const char* field, uint64_t def = 0);

}  // namespace halley
