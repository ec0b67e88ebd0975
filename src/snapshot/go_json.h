// SPDX-License-Identifier: Apache-2.0
//
// Internal to halley::snapshot: pieces of Go's encoding/json output and input rules shared by
// the tree and snapshot codecs. Not part of the library's interface.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/id.h"
#include "base/json.h"
#include "base/time.h"

namespace halley::snapshot::internal {

// Go's zero time.Time, 0001-01-01T00:00:00Z: what encoding/json leaves in a time field that
// is absent or null.
inline constexpr int64_t kGoZeroTimeSeconds = -62135596800;
inline Time GoZeroTime() { return Time::Utc(kGoZeroTimeSeconds); }

// Writers. AppendKey writes `,"key":` (without the comma when `first`).
void AppendKey(std::string& out, std::string_view key, bool first = false);
void AppendUint(std::string& out, uint64_t v);
void AppendTime(std::string& out, const Time& t);  // quoted RFC3339Nano
void AppendId(std::string& out, const Id& id);     // quoted hex
void AppendStringArray(std::string& out, const std::vector<std::string>& v);
// Writes a JSON value as Go's json.Compact would copy a json.RawMessage (HTML-safe strings,
// members in stored order); with `sort_keys`, the top-level object's keys are written in byte
// order, as Go writes a map. kInvalidArgument for binary values.
Result<void> AppendGoJsonValue(std::string& out, const OrderedJson& v, bool sort_keys = false);

// ParseJson (same limits, same kCorruption errors), but keeping object members in input order.
Result<OrderedJson> ParseOrderedJson(std::string_view text, JsonLimits limits = {});

// Readers for one member value, following encoding/json: null leaves `out` unchanged, a value
// of the wrong type or out of range is kCorruption naming `field`.
template <class J>
Result<void> ReadString(const J& v, const char* field, std::string& out);
template <class J>
Result<void> ReadUint(const J& v, const char* field, uint64_t max, uint64_t& out);
template <class J>
Result<void> ReadUint32(const J& v, const char* field, uint32_t& out);
template <class J>
Result<void> ReadTime(const J& v, const char* field, Time& out);
template <class J>
Result<void> ReadId(const J& v, const char* field, std::optional<Id>& out);
template <class J>
Result<void> ReadStringArray(const J& v, const char* field, std::vector<std::string>& out);

}  // namespace halley::snapshot::internal
