// SPDX-License-Identifier: Apache-2.0
//
// JSON: parsing with limits (all JSON we read may be hostile), and a writer for Go's
// encoding/json string form, which trees must match byte for byte to deduplicate with restic.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Base of a decoder that reads a document of known shape while it is parsed (nlohmann's SAX
// interface), without building the document tree, which costs ten times the text. `Derived`
// says where each value goes:
//   std::optional<Where> Place(SaxValue v): a value at the current position (`Stack()`, `Key()`;
//     a scalar's text or number in `text_` / `number_`); for an object or array, the context
//     to enter, or nullopt to skip it and everything in it;
//   void Closed(Where w): the object or array entered as `w` ended.
// Unknown members are skipped; nesting and size are bounded by JsonLimits.
enum class SaxValue { kNull, kBool, kInteger, kUnsigned, kFloat, kString, kObject, kArray };

template <class Derived, class Where>
class SaxReader {
 public:
  // The first problem: a syntax error, else the first one the decoder reported.
  Result<void> Parse(std::string_view text, JsonLimits limits = {}) {
    if (text.size() > limits.max_bytes) {
      return Fail(ErrorCode::kCorruption,
                  "JSON document of " + std::to_string(text.size()) + " bytes exceeds the limit");
    }
    max_depth_ = static_cast<size_t>(limits.max_depth);
    bool ok = Json::sax_parse(text.begin(), text.end(), static_cast<Derived*>(this));
    if (!ok && !syntax_error_.empty()) return Fail(ErrorCode::kCorruption, syntax_error_);
    if (problem_) return Fail(*problem_);
    if (!ok) return Fail(ErrorCode::kCorruption, "malformed JSON");
    return {};
  }

  // nlohmann::json_sax<Json>
  bool null() { return Scalar(SaxValue::kNull); }
  bool boolean(bool) { return Scalar(SaxValue::kBool); }
  bool number_integer(int64_t) { return Scalar(SaxValue::kInteger); }
  bool number_unsigned(uint64_t v) {
    number_ = v;
    return Scalar(SaxValue::kUnsigned);
  }
  bool number_float(double, const std::string&) { return Scalar(SaxValue::kFloat); }
  bool string(std::string& v) {
    if (skip_ == 0) text_.swap(v);
    return Scalar(SaxValue::kString);
  }
  bool binary(Json::binary_t&) { return Scalar(SaxValue::kNull); }  // not in JSON text
  bool key(std::string& k) {
    if (skip_ == 0) key_.swap(k);
    return true;
  }
  bool start_object(size_t) { return Open(SaxValue::kObject); }
  bool start_array(size_t) { return Open(SaxValue::kArray); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception&) {
    syntax_error_ = "malformed JSON at byte " + std::to_string(position);
    return false;
  }

 protected:
  const std::vector<Where>& Stack() const { return stack_; }
  const std::string& Key() const { return key_; }
  void Problem(std::string message) {
    if (!problem_) problem_ = Error(ErrorCode::kCorruption, std::move(message));
  }

  std::string text_;
  uint64_t number_ = 0;

 private:
  Derived& Self() { return *static_cast<Derived*>(this); }

  bool Scalar(SaxValue v) {
    if (skip_ == 0) Self().Place(v);
    return true;
  }
  bool Open(SaxValue v) {
    if (stack_.size() + skip_ >= max_depth_) {
      Problem("JSON nesting exceeds the depth limit");
      return false;
    }
    if (skip_ == 0) {
      if (std::optional<Where> w = Self().Place(v)) {
        stack_.push_back(*w);
        return true;
      }
    }
    ++skip_;
    return true;
  }
  bool Close() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    Where done = stack_.back();
    stack_.pop_back();
    Self().Closed(done);
    return true;
  }

  std::vector<Where> stack_;
  size_t skip_ = 0;  // depth inside a value being skipped
  size_t max_depth_ = 64;
  std::string key_, syntax_error_;
  std::optional<Error> problem_;
};

}  // namespace halley
