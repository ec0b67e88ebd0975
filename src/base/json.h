// SPDX-License-Identifier: Apache-2.0
//
// JSON: parsing with limits (all JSON we read may be hostile), and a writer for Go's
// encoding/json string form, which trees must match byte for byte to deduplicate with restic.
#pragma once

#include <cstdint>
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

// The events of a JSON text, in document order, for ScanJson. A callback that returns false
// stops the scan. StartObject/StartArray get the byte offset of the '{' or '[', EndObject/
// EndArray the offset just past the '}' or ']', so that a handler can take a value's raw text.
class JsonEvents {
 public:
  virtual ~JsonEvents() = default;
  virtual bool Null() = 0;
  virtual bool Bool(bool v) = 0;
  virtual bool Unsigned(uint64_t v) = 0;    // an integer >= 0 that fits in 64 bits
  virtual bool Integer(int64_t v) = 0;      // an integer < 0 that fits in 64 bits
  virtual bool Float(double v) = 0;         // any other number
  virtual bool String(std::string& v) = 0;  // decoded; the handler may take it
  virtual bool Key(std::string& k) = 0;     // an object member's name, decoded
  virtual bool StartObject(size_t offset) = 0;
  virtual bool EndObject(size_t end) = 0;
  virtual bool StartArray(size_t offset) = 0;
  virtual bool EndArray(size_t end) = 0;
};

struct JsonScan {
  enum class Outcome { kDone, kStopped, kMalformed };
  Outcome outcome = Outcome::kDone;
  size_t offset = 0;  // kMalformed: the first byte that does not fit the grammar
};

// Scans one JSON text (RFC 8259), accepting exactly what nlohmann's parser accepts: a single
// value with whitespace around it, a UTF-8 byte order mark skipped at the start, strings of
// valid UTF-8 without raw control characters whose \u escapes pair their surrogates, numbers
// without leading zeros and finite as doubles. The document is never built; nesting does not
// recurse, so the handler bounds it. Several times faster than nlohmann's lexer, which copies
// strings a byte at a time.
JsonScan ScanJson(std::string_view text, JsonEvents& events);

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

// Base of a decoder that reads a document of known shape while it is scanned (ScanJson),
// without building the document tree, which costs ten times the text. `Derived` says where
// each value goes:
//   std::optional<Where> Place(SaxValue v): a value at the current position (`Stack()`, `Key()`;
//     a scalar's text or number in `text_` / `number_`); for an object or array, the context
//     to enter, or nullopt to skip it and everything in it;
//   void Closed(Where w): the object or array entered as `w` ended;
//   optionally void Skipped(std::string_view raw): the text of an object or array just skipped.
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
    document_ = text;
    Events events(*this);
    JsonScan scan = ScanJson(text, events);
    if (scan.outcome == JsonScan::Outcome::kMalformed) {
      return Fail(ErrorCode::kCorruption, "malformed JSON at byte " + std::to_string(scan.offset));
    }
    if (problem_) return Fail(*problem_);
    return {};
  }

  void Skipped(std::string_view) {}

 protected:
  const std::vector<Where>& Stack() const { return stack_; }
  std::string_view Key() const { return key_; }  // a view: compared by length first
  void Problem(std::string message) {
    if (!problem_) problem_ = Error(ErrorCode::kCorruption, std::move(message));
  }

  std::string text_;
  uint64_t number_ = 0;

 private:
  // ScanJson's events, kept out of Derived's namespace.
  class Events final : public JsonEvents {
   public:
    explicit Events(SaxReader& r) : r_(r) {}
    bool Null() override { return r_.Scalar(SaxValue::kNull); }
    bool Bool(bool) override { return r_.Scalar(SaxValue::kBool); }
    bool Integer(int64_t) override { return r_.Scalar(SaxValue::kInteger); }
    bool Unsigned(uint64_t v) override {
      r_.number_ = v;
      return r_.Scalar(SaxValue::kUnsigned);
    }
    bool Float(double) override { return r_.Scalar(SaxValue::kFloat); }
    bool String(std::string& v) override {
      if (r_.skip_ == 0) r_.text_.swap(v);
      return r_.Scalar(SaxValue::kString);
    }
    bool Key(std::string& k) override {
      if (r_.skip_ == 0) r_.key_.swap(k);
      return true;
    }
    bool StartObject(size_t offset) override { return r_.Open(SaxValue::kObject, offset); }
    bool StartArray(size_t offset) override { return r_.Open(SaxValue::kArray, offset); }
    bool EndObject(size_t end) override { return r_.Close(end); }
    bool EndArray(size_t end) override { return r_.Close(end); }

   private:
    SaxReader& r_;
  };

  Derived& Self() { return *static_cast<Derived*>(this); }

  bool Scalar(SaxValue v) {
    if (skip_ == 0) Self().Place(v);
    return true;
  }
  bool Open(SaxValue v, size_t offset) {
    if (stack_.size() + skip_ >= max_depth_) {
      Problem("JSON nesting exceeds the depth limit");
      return false;
    }
    if (skip_ == 0) {
      if (std::optional<Where> w = Self().Place(v)) {
        stack_.push_back(*w);
        return true;
      }
      skip_from_ = offset;
    }
    ++skip_;
    return true;
  }
  bool Close(size_t end) {
    if (skip_ > 0) {
      if (--skip_ == 0) Self().Skipped(document_.substr(skip_from_, end - skip_from_));
      return true;
    }
    Where done = stack_.back();
    stack_.pop_back();
    Self().Closed(done);
    return true;
  }

  std::string_view document_;
  std::vector<Where> stack_;
  size_t skip_ = 0;       // depth inside a value being skipped
  size_t skip_from_ = 0;  // where the outermost skipped value started
  size_t max_depth_ = 64;
  std::string key_;
  std::optional<Error> problem_;
};

}  // namespace halley
