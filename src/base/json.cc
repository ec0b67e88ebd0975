// SPDX-License-Identifier: Apache-2.0
#include "base/json.h"

#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdlib>

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

// ScanJson's cursor over the text.
class Scanner {
 public:
  Scanner(std::string_view text, JsonEvents& events) : text_(text), events_(events) {}

  JsonScan Run() {
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // as nlohmann does
    enum class Next { kValue, kKey, kAfterValue };
    Next next = Next::kValue;
    for (;;) {
      SkipSpace();
      if (next == Next::kKey) {
        if (!Peek('"') || !ReadString()) return Malformed();
        if (!events_.Key(buf_)) return Stopped();
        SkipSpace();
        if (!Peek(':')) return Malformed();
        ++pos_;
        next = Next::kValue;
        continue;
      }
      if (next == Next::kValue) {
        if (pos_ >= text_.size()) return Malformed();
        const size_t start = pos_;
        const char c = text_[pos_];
        if (c == '{' || c == '[') {
          const bool object = c == '{';
          ++pos_;
          if (!(object ? events_.StartObject(start) : events_.StartArray(start))) return Stopped();
          SkipSpace();
          if (Peek(object ? '}' : ']')) {
            ++pos_;
            if (!(object ? events_.EndObject(pos_) : events_.EndArray(pos_))) return Stopped();
            next = Next::kAfterValue;
          } else {
            open_.push_back(object);
            next = object ? Next::kKey : Next::kValue;
          }
          continue;
        }
        bool ok = true;
        if (c == '"') {
          if (!ReadString()) return Malformed();
          ok = events_.String(buf_);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          if (!ReadNumber(ok)) return Malformed();
        } else if (Literal("true")) {
          ok = events_.Bool(true);
        } else if (Literal("false")) {
          ok = events_.Bool(false);
        } else if (Literal("null")) {
          ok = events_.Null();
        } else {
          return Malformed();
        }
        if (!ok) return Stopped();
        next = Next::kAfterValue;
        continue;
      }
      // After a value: the end of the text, or what its container allows.
      if (open_.empty()) {
        if (pos_ != text_.size()) return Malformed();
        return {JsonScan::Outcome::kDone, pos_};
      }
      const bool object = open_.back();
      if (Peek(',')) {
        ++pos_;
        next = object ? Next::kKey : Next::kValue;
      } else if (Peek(object ? '}' : ']')) {
        ++pos_;
        open_.pop_back();
        if (!(object ? events_.EndObject(pos_) : events_.EndArray(pos_))) return Stopped();
      } else {
        return Malformed();
      }
    }
  }

 private:
  JsonScan Malformed() const { return {JsonScan::Outcome::kMalformed, pos_}; }
  JsonScan Stopped() const { return {JsonScan::Outcome::kStopped, pos_}; }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  uint8_t Byte(size_t i) const { return static_cast<uint8_t>(text_[i]); }

  void SkipSpace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++pos_;
    }
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // Four hex digits at pos_.
  bool Hex4(unsigned& out) {
    if (text_.size() - pos_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      unsigned d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        --pos_;
        return false;
      }
      out = out << 4 | d;
    }
    return true;
  }

  void AppendUtf8(unsigned cp) {
    if (cp < 0x80) {
      buf_.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      buf_.push_back(static_cast<char>(0xc0 | cp >> 6));
      buf_.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      buf_.push_back(static_cast<char>(0xe0 | cp >> 12));
      buf_.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
      buf_.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      buf_.push_back(static_cast<char>(0xf0 | cp >> 18));
      buf_.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3f)));
      buf_.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
      buf_.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  // The string whose opening quote is at pos_, decoded into buf_.
  bool ReadString() {
    buf_.clear();
    ++pos_;
    for (;;) {
      // Plain ASCII runs, the bulk of every string we read, are copied at once.
      size_t run = pos_;
      while (run < text_.size()) {
        uint8_t c = Byte(run);
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
        ++run;
      }
      buf_.append(text_.data() + pos_, run - pos_);
      pos_ = run;
      if (pos_ >= text_.size()) return false;
      uint8_t c = Byte(pos_);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;
      if (c >= 0x80) {
        unsigned cp = 0;
        size_t n = Utf8SequenceLength(text_, pos_, cp);
        if (n == 0) return false;
        buf_.append(text_.data() + pos_, n);
        pos_ += n;
        continue;
      }
      // A backslash.
      if (++pos_ >= text_.size()) return false;
      char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          buf_.push_back(e);
          break;
        case 'b':
          buf_.push_back('\b');
          break;
        case 'f':
          buf_.push_back('\f');
          break;
        case 'n':
          buf_.push_back('\n');
          break;
        case 'r':
          buf_.push_back('\r');
          break;
        case 't':
          buf_.push_back('\t');
          break;
        case 'u': {
          unsigned cp = 0;
          if (!Hex4(cp)) return false;
          if (cp >= 0xdc00 && cp <= 0xdfff) return false;  // a low surrogate first
          if (cp >= 0xd800 && cp <= 0xdbff) {
            unsigned low = 0;
            if (!Literal("\\u") || !Hex4(low) || low < 0xdc00 || low > 0xdfff) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(cp);
          break;
        }
        default:
          --pos_;
          return false;
      }
    }
  }

  // The number at pos_ (JSON's grammar), reported as Unsigned, Integer or Float; `ok` is the
  // handler's answer.
  bool ReadNumber(bool& ok) {
    const size_t start = pos_;
    auto digits = [&] {
      size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    const bool negative = Peek('-');
    if (negative) ++pos_;
    if (Peek('0')) {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    bool integral = true;
    if (Peek('.')) {
      ++pos_;
      integral = false;
      if (!digits()) return false;
    }
    if (Peek('e') || Peek('E')) {
      ++pos_;
      integral = false;
      if (Peek('+') || Peek('-')) ++pos_;
      if (!digits()) return false;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      if (negative) {
        int64_t v = 0;
        auto r = std::from_chars(first, last, v);
        if (r.ec == std::errc() && r.ptr == last) {
          ok = events_.Integer(v);
          return true;
        }
      } else {
        uint64_t v = 0;
        auto r = std::from_chars(first, last, v);
        if (r.ec == std::errc() && r.ptr == last) {
          ok = events_.Unsigned(v);
          return true;
        }
      }
    }
    // nlohmann reads other numbers with strtod and refuses what overflows a double. strtod_l
    // in the C locale: the process's locale could make ',' the decimal point.
    static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t{});
    std::string copy(first, last);
    double v = strtod_l(copy.c_str(), nullptr, c_locale);
    if (!std::isfinite(v)) {
      pos_ = start;
      return false;
    }
    ok = events_.Float(v);
    return true;
  }

  std::string_view text_;
  JsonEvents& events_;
  size_t pos_ = 0;
  std::vector<bool> open_;  // the containers the scan is in: true for an object
  std::string buf_;
};

}  // namespace

JsonScan ScanJson(std::string_view text, JsonEvents& events) { return Scanner(text, events).Run(); }

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
