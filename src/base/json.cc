// SPDX-License-Identifier: Apache-2.0
#include "base/json.h"

namespace halley {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendUnicodeEscape(std::string& out, unsigned cp) {
  out.append("\\u");
  out.push_back(kHex[(cp >> 12) & 0xf]);
  out.push_back(kHex[(cp >> 8) & 0xf]);
  out.push_back(kHex[(cp >> 4) & 0xf]);
  out.push_back(kHex[cp & 0xf]);
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is invalid (Go's rules: no overlong
// forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i, unsigned& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned c0 = b(i);
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xc0) == 0x80; };
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    if (!cont(i + 1)) return 0;
    cp = (c0 & 0x1f) << 6 | (b(i + 1) & 0x3f);
    return 2;
  }
  if (c0 >= 0xe0 && c0 <= 0xef) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    cp = (c0 & 0x0f) << 12 | (b(i + 1) & 0x3f) << 6 | (b(i + 2) & 0x3f);
    if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return 3;
  }
  if (c0 >= 0xf0 && c0 <= 0xf4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    cp = (c0 & 0x07) << 18 | (b(i + 1) & 0x3f) << 12 | (b(i + 2) & 0x3f) << 6 | (b(i + 3) & 0x3f);
    if (cp < 0x10000 || cp > 0x10ffff) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

Result<Json> ParseJson(std::string_view text, JsonLimits limits) {
  if (text.size() > limits.max_bytes) {
    return Fail(ErrorCode::kCorruption,
                "JSON document of " + std::to_string(text.size()) + " bytes exceeds the limit");
  }
  bool too_deep = false;
  auto cb = [&](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth >= limits.max_depth) {
      too_deep = true;
      return false;
    }
    return !too_deep;
  };
  Json j = Json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (too_deep) return Fail(ErrorCode::kCorruption, "JSON nesting exceeds the depth limit");
  if (j.is_discarded()) return Fail(ErrorCode::kCorruption, "malformed JSON");
  return j;
}

void AppendGoJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '<':
        case '>':
        case '&':
          AppendUnicodeEscape(out, c);
          break;
        default:
          if (c < 0x20) {
            AppendUnicodeEscape(out, c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    unsigned cp = 0;
    size_t n = Utf8SequenceLength(s, i, cp);
    if (n == 0) {
      out.append("\\ufffd");
      ++i;
    } else if (cp == 0x2028 || cp == 0x2029) {
      AppendUnicodeEscape(out, cp);
      i += n;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  out.push_back('"');
}

namespace {
Error FieldError(const char* field, const char* want) {
  return Error(ErrorCode::kCorruption,
               std::string("field \"") + field + "\" is missing or not " + want);
}
}  // namespace

Result<std::string> JsonString(const Json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_string()) return Fail(FieldError(field, "a string"));
  return it->get<std::string>();
}

Result<uint64_t> JsonUint(const Json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_number_unsigned()) {
    return Fail(FieldError(field, "an unsigned integer"));
  }
  return it->get<uint64_t>();
}

Result<int64_t> JsonInt(const Json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_number_integer()) return Fail(FieldError(field, "an integer"));
  return it->get<int64_t>();
}

Result<bool> JsonBool(const Json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_boolean()) return Fail(FieldError(field, "a boolean"));
  return it->get<bool>();
}

Result<std::string> OptionalJsonString(const Json& obj, const char* field, std::string def) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_string()) return Fail(FieldError(field, "a string"));
  return it->get<std::string>();
}

Result<uint64_t> OptionalJsonUint(const Json& obj, const char* field, uint64_t def) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_number_unsigned()) return Fail(FieldError(field, "an unsigned integer"));
  return it->get<uint64_t>();
}

std::string StringField(const Json& obj, const char* field) {
  if (!obj.is_object()) return {};
  auto it = obj.find(field);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace halley
