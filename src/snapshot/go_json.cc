// SPDX-License-Identifier: Apache-2.0
#include "snapshot/go_json.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "base/encoding.h"

namespace halley::snapshot::internal {
namespace {

Error FieldError(const char* field, const char* want) {
  return Error(ErrorCode::kCorruption, std::string("field \"") + field + "\" is not " + want);
}

}  // namespace

void AppendKey(std::string& out, std::string_view key, bool first) {
  if (!first) out.push_back(',');
  out.push_back('"');
  out.append(key);  // our keys are plain ASCII without characters that need escaping
  out.append("\":");
}

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  HALLEY_CHECK(ec == std::errc());
  out.append(buf, end);
}

void AppendTime(std::string& out, const Time& t) {
  out.push_back('"');
  out.append(FormatRfc3339Nano(t));
  out.push_back('"');
}

void AppendId(std::string& out, const Id& id) {
  out.push_back('"');
  out.append(id.Hex());
  out.push_back('"');
}

void AppendStringArray(std::string& out, const std::vector<std::string>& v) {
  out.push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendGoJsonString(out, v[i]);
  }
  out.push_back(']');
}

Result<void> AppendGoJsonValue(std::string& out, const OrderedJson& v, bool sort_keys) {
  switch (v.type()) {
    case OrderedJson::value_t::null:
      out.append("null");
      return {};
    case OrderedJson::value_t::boolean:
      out.append(v.get<bool>() ? "true" : "false");
      return {};
    case OrderedJson::value_t::number_unsigned:
      AppendUint(out, v.get<uint64_t>());
      return {};
    case OrderedJson::value_t::number_integer:
    case OrderedJson::value_t::number_float:
      // Go copies a RawMessage's number text verbatim; nlohmann keeps only the value, and
      // prints integers exactly and floats in their shortest round-trip form.
      out.append(v.dump());
      return {};
    case OrderedJson::value_t::string:
      AppendGoJsonString(out, v.get_ref<const std::string&>());
      return {};
    case OrderedJson::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out.push_back(',');
        first = false;
        HALLEY_RETURN_IF_ERROR(AppendGoJsonValue(out, e));
      }
      out.push_back(']');
      return {};
    }
    case OrderedJson::value_t::object: {
      std::vector<OrderedJson::const_iterator> members;
      members.reserve(v.size());
      for (auto it = v.begin(); it != v.end(); ++it) members.push_back(it);
      if (sort_keys) {
        std::sort(members.begin(), members.end(),
                  [](const auto& a, const auto& b) { return a.key() < b.key(); });
      }
      out.push_back('{');
      bool first = true;
      for (const auto& it : members) {
        if (!first) out.push_back(',');
        first = false;
        AppendGoJsonString(out, it.key());
        out.push_back(':');
        HALLEY_RETURN_IF_ERROR(AppendGoJsonValue(out, it.value()));
      }
      out.push_back('}');
      return {};
    }
    case OrderedJson::value_t::binary:
    case OrderedJson::value_t::discarded:
      break;
  }
  return Fail(ErrorCode::kInvalidArgument, "JSON value has no JSON text form");
}

Result<OrderedJson> ParseOrderedJson(std::string_view text, JsonLimits limits) {
  if (text.size() > limits.max_bytes) {
    return Fail(ErrorCode::kCorruption,
                "JSON document of " + std::to_string(text.size()) + " bytes exceeds the limit");
  }
  // Enforce the depth limit with a scan before parsing: nlohmann's parser callback would do it
  // too, but makes parsing several times slower, and trees can be tens of megabytes.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limits.max_depth) {
        return Fail(ErrorCode::kCorruption, "JSON nesting exceeds the depth limit");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  OrderedJson j = OrderedJson::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail(ErrorCode::kCorruption, "malformed JSON");
  return j;
}

template <class J>
Result<void> ReadString(const J& v, const char* field, std::string& out) {
  if (v.is_null()) return {};
  if (!v.is_string()) return Fail(FieldError(field, "a string"));
  out = v.template get_ref<const std::string&>();
  return {};
}

template <class J>
Result<void> ReadUint(const J& v, const char* field, uint64_t max, uint64_t& out) {
  if (v.is_null()) return {};
  if (!v.is_number_unsigned() || v.template get<uint64_t>() > max) {
    return Fail(FieldError(field, "an unsigned integer in range"));
  }
  out = v.template get<uint64_t>();
  return {};
}

template <class J>
Result<void> ReadUint32(const J& v, const char* field, uint32_t& out) {
  uint64_t wide = out;
  HALLEY_RETURN_IF_ERROR(ReadUint(v, field, std::numeric_limits<uint32_t>::max(), wide));
  out = static_cast<uint32_t>(wide);
  return {};
}

template <class J>
Result<void> ReadTime(const J& v, const char* field, Time& out) {
  if (v.is_null()) return {};
  if (!v.is_string()) return Fail(FieldError(field, "an RFC 3339 time"));
  auto t = ParseRfc3339(v.template get_ref<const std::string&>());
  if (!t) return Fail(FieldError(field, "an RFC 3339 time"));
  out = *t;
  return {};
}

template <class J>
Result<void> ReadId(const J& v, const char* field, std::optional<Id>& out) {
  if (v.is_null()) return {};
  if (!v.is_string()) return Fail(FieldError(field, "an ID"));
  auto id = Id::FromHex(v.template get_ref<const std::string&>());
  if (!id) return Fail(FieldError(field, "an ID of 64 hex digits"));
  out = *id;
  return {};
}

template <class J>
Result<void> ReadStringArray(const J& v, const char* field, std::vector<std::string>& out) {
  if (v.is_null()) return {};
  if (!v.is_array()) return Fail(FieldError(field, "an array of strings"));
  std::vector<std::string> items;
  items.reserve(v.size());
  for (const auto& e : v) {
    if (!e.is_string()) return Fail(FieldError(field, "an array of strings"));
    items.push_back(e.template get<std::string>());
  }
  out = std::move(items);
  return {};
}

#define HALLEY_INSTANTIATE_READERS(J)                                            \
  template Result<void> ReadString<J>(const J&, const char*, std::string&);      \
  template Result<void> ReadUint<J>(const J&, const char*, uint64_t, uint64_t&); \
  template Result<void> ReadUint32<J>(const J&, const char*, uint32_t&);         \
  template Result<void> ReadTime<J>(const J&, const char*, Time&);               \
  template Result<void> ReadId<J>(const J&, const char*, std::optional<Id>&);    \
  template Result<void> ReadStringArray<J>(const J&, const char*, std::vector<std::string>&);

HALLEY_INSTANTIATE_READERS(Json)
#undef HALLEY_INSTANTIATE_READERS

}  // namespace halley::snapshot::internal
