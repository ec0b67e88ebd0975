// SPDX-License-Identifier: Apache-2.0
//
// ScanJson against nlohmann's SAX parser, its specification: on handpicked edge cases, on
// random documents and on random corruptions of them, both must accept the same texts and
// report the same events.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/json.h"

namespace halley {
namespace {

std::string FloatEvent(double v) { return "f:" + std::to_string(std::bit_cast<uint64_t>(v)); }

// Our events as strings.
class Recorder : public JsonEvents {
 public:
  std::vector<std::string> events;
  std::vector<std::pair<size_t, size_t>> containers;  // [start, end) of each, in end order

  bool Null() override { return Add("null"); }
  bool Bool(bool v) override { return Add(v ? "true" : "false"); }
  bool Unsigned(uint64_t v) override { return Add("u:" + std::to_string(v)); }
  bool Integer(int64_t v) override { return Add("i:" + std::to_string(v)); }
  bool Float(double v) override { return Add(FloatEvent(v)); }
  bool String(std::string& v) override { return Add("s:" + v); }
  bool Key(std::string& k) override { return Add("k:" + k); }
  bool StartObject(size_t offset) override {
    starts_.push_back(offset);
    return Add("{");
  }
  bool EndObject(size_t end) override { return End(end, "}"); }
  bool StartArray(size_t offset) override {
    starts_.push_back(offset);
    return Add("[");
  }
  bool EndArray(size_t end) override { return End(end, "]"); }

 private:
  bool Add(std::string e) {
    events.push_back(std::move(e));
    return true;
  }
  bool End(size_t end, const char* e) {
    containers.emplace_back(starts_.back(), end);
    starts_.pop_back();
    return Add(e);
  }
  std::vector<size_t> starts_;
};

// nlohmann's events as the same strings.
struct NlohmannRecorder : nlohmann::json_sax<Json> {
  std::vector<std::string> events;
  bool null() override { return Add("null"); }
  bool boolean(bool v) override { return Add(v ? "true" : "false"); }
  bool number_integer(int64_t v) override { return Add("i:" + std::to_string(v)); }
  bool number_unsigned(uint64_t v) override { return Add("u:" + std::to_string(v)); }
  bool number_float(double v, const std::string&) override { return Add(FloatEvent(v)); }
  bool string(std::string& v) override { return Add("s:" + v); }
  bool binary(binary_t&) override { return Add("binary"); }
  bool start_object(size_t) override { return Add("{"); }
  bool key(std::string& k) override { return Add("k:" + k); }
  bool end_object() override { return Add("}"); }
  bool start_array(size_t) override { return Add("["); }
  bool end_array() override { return Add("]"); }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool Add(std::string e) {
    events.push_back(std::move(e));
    return true;
  }
};

// Compares the two on `text`; returns whether it was accepted.
bool ExpectSame(const std::string& text) {
  Recorder ours;
  JsonScan scan = ScanJson(text, ours);
  NlohmannRecorder theirs;
  bool accepted = Json::sax_parse(text.begin(), text.end(), &theirs);
  EXPECT_NE(scan.outcome, JsonScan::Outcome::kStopped);
  EXPECT_EQ(scan.outcome == JsonScan::Outcome::kDone, accepted) << "text: " << text;
  if (accepted && scan.outcome == JsonScan::Outcome::kDone) {
    EXPECT_EQ(ours.events, theirs.events) << "text: " << text;
    EXPECT_EQ(scan.offset, text.size());
    for (auto [from, to] : ours.containers) {
      // The raw text of each object and array parses on its own to the same events.
      std::string raw = text.substr(from, to - from);
      EXPECT_TRUE(raw.starts_with("{") || raw.starts_with("[")) << raw;
      EXPECT_TRUE(raw.ends_with("}") || raw.ends_with("]")) << raw;
      Recorder part;
      EXPECT_EQ(ScanJson(raw, part).outcome, JsonScan::Outcome::kDone) << raw;
    }
  } else if (scan.outcome == JsonScan::Outcome::kMalformed) {
    EXPECT_LE(scan.offset, text.size());
  }
  return accepted;
}

TEST(JsonScanTest, AgreesWithNlohmannOnEdgeCases) {
  const std::vector<std::string> accepted = {"0",
                                             "-0",
                                             "1",
                                             "-1",
                                             "0.5",
                                             "-0.0",
                                             "1e5",
                                             "1E+5",
                                             "1e-5",
                                             "2.5e-3",
                                             "1e-400",
                                             "18446744073709551615",
                                             "18446744073709551616",
                                             "-9223372036854775808",
                                             "-9223372036854775809",
                                             "123456789012345678901234567890",
                                             "true",
                                             "false",
                                             "null",
                                             "\"\"",
                                             "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
                                             "\"\\u0000\"",
                                             "\"\\u00e9\\u4e2d\"",
                                             "\"\\ud83d\\ude00\"",
                                             "\"\\uD83D\\uDE00\"",
                                             "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"",
                                             "\"\xed\x9f\xbf\"",
                                             "\"\xf4\x8f\xbf\xbf\"",
                                             " \t\r\n{ } ",
                                             "[]",
                                             "{}",
                                             "[[[]]]",
                                             "{\"a\":{\"b\":[1,{\"c\":null}]}}",
                                             "\xef\xbb\xbf[1]",
                                             "{\"a\":1,\"a\":2}",
                                             "[1 , 2 ]",
                                             "{\"\":\"\"}"};
  for (const auto& t : accepted) EXPECT_TRUE(ExpectSame(t)) << t;
  const std::vector<std::string> refused = {"",
                                            " ",
                                            "01",
                                            "-",
                                            "-01",
                                            "1.",
                                            ".5",
                                            "1e",
                                            "1e+",
                                            "+1",
                                            "1e400",
                                            "-1e400",
                                            "0x10",
                                            "NaN",
                                            "Infinity",
                                            "tru",
                                            "nulll",
                                            "[1,]",
                                            "{\"a\":1,}",
                                            "[1 2]",
                                            "{\"a\" 1}",
                                            "{1:2}",
                                            "{\"a\"}",
                                            "[",
                                            "]",
                                            "{",
                                            "}",
                                            "[1]]",
                                            "[1] x",
                                            "\"abc",
                                            "\"\\x\"",
                                            "\"\\u12\"",
                                            "\"\\u12g4\"",
                                            "\"\\ud800\"",
                                            "\"\\udc00\"",
                                            "\"\\ud800\\u0041\"",
                                            "\"\\ud800x\"",
                                            "\"a\x01\"",
                                            "\"a\nb\"",
                                            "\"\xc0\xaf\"",
                                            "\"\xc2\"",
                                            "\"\xe0\x80\x80\"",
                                            "\"\xed\xa0\x80\"",
                                            "\"\xf4\x90\x80\x80\"",
                                            "\"\xf5\x80\x80\x80\"",
                                            "\"\x80\"",
                                            "\"\xff\"",
                                            "\xef\xbb",
                                            "\xef\xbb\xbf",
                                            "[1]\xef\xbb\xbf",
                                            std::string("\"a\0b\"", 5),
                                            "'a'",
                                            "[\"a\",]",
                                            "{\"a\":}",
                                            "//c\n1",
                                            "/*c*/1",
                                            "1 2"};
  for (const auto& t : refused) EXPECT_FALSE(ExpectSame(t)) << t;
}

// The one difference, on purpose: nlohmann takes a NUL byte for the end of the input, so it
// accepts a document followed by a NUL and anything at all. ScanJson refuses it, as Go does.
TEST(JsonScanTest, RefusesWhatFollowsANulByte) {
  for (std::string t : {std::string("[1]\0", 4), std::string("{}\0{\"x\"", 6)}) {
    NlohmannRecorder theirs;
    EXPECT_TRUE(Json::sax_parse(t.begin(), t.end(), &theirs));
    Recorder ours;
    JsonScan scan = ScanJson(t, ours);
    EXPECT_EQ(scan.outcome, JsonScan::Outcome::kMalformed);
    EXPECT_EQ(t[scan.offset], '\0');
  }
}

// Random JSON text in the shapes we read, with escapes, odd numbers and random whitespace.
class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  std::string Document() {
    std::string out;
    Value(out, 0);
    return Space() + out + Space();
  }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  std::string Space() {
    static const char* kSpaces[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    return kSpaces[Pick(7)];
  }

  void String(std::string& out) {
    out.push_back('"');
    size_t n = Pick(12);
    for (size_t i = 0; i < n; ++i) {
      switch (Pick(10)) {
        case 0: {
          static const char* kEscapes[] = {"\\\"", "\\\\", "\\/", "\\b",    "\\f",
                                           "\\n",  "\\r",  "\\t", "\\u0000"};
          out += kEscapes[Pick(9)];
          break;
        }
        case 1: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(Pick(0x10000)));
          out += buf;  // a lone surrogate now and then, which both must refuse
          break;
        }
        case 2:
          out += Pick(2) ? "\\ud83d\\ude00" : "\\uDBFF\\uDFFF";
          break;
        case 3:
          out += Pick(2) ? "\xc3\xa9" : "\xf0\x9f\x98\x80";
          break;
        default:
          out.push_back(static_cast<char>('a' + Pick(26)));
      }
    }
    out.push_back('"');
  }

  void Number(std::string& out) {
    static const char* kNumbers[] = {"0",
                                     "-0",
                                     "7",
                                     "-7",
                                     "42",
                                     "3.25",
                                     "-0.5",
                                     "1e3",
                                     "1E-3",
                                     "6.02e+23",
                                     "1e308",
                                     "1e309",
                                     "18446744073709551615",
                                     "18446744073709551616",
                                     "-9223372036854775808",
                                     "-9223372036854775809",
                                     "1700000000123456789",
                                     "4.9e-324",
                                     "2e-400"};
    out += kNumbers[Pick(std::size(kNumbers))];
  }

  void Value(std::string& out, int depth) {
    size_t kind = Pick(depth > 5 ? 4 : 6);
    switch (kind) {
      case 0:
        String(out);
        return;
      case 1:
        Number(out);
        return;
      case 2: {
        static const char* kWords[] = {"true", "false", "null"};
        out += kWords[Pick(3)];
        return;
      }
      case 3:
        out += std::to_string(Pick(1000000));
        return;
      case 4: {
        out.push_back('[');
        size_t n = Pick(5);
        for (size_t i = 0; i < n; ++i) {
          if (i > 0) out += Space() + "," + Space();
          Value(out, depth + 1);
        }
        out.push_back(']');
        return;
      }
      default: {
        out.push_back('{');
        size_t n = Pick(5);
        for (size_t i = 0; i < n; ++i) {
          if (i > 0) out += ",";
          out += Space();
          String(out);
          out += Space() + ":" + Space();
          Value(out, depth + 1);
        }
        out += Space() + "}";
      }
    }
  }

  std::mt19937 rng_;
};

TEST(JsonScanTest, AgreesWithNlohmannOnRandomDocumentsAndTheirCorruptions) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Generator gen(seed);
  std::mt19937 rng(seed ^ 0x9e3779b9u);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  static const char kBytes[] = "{}[]\",:\\u0123456789eE.+-tfn \x80\xc3\xed\xef\xf0\xff";
  size_t accepted = 0, corrupt_accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string doc = gen.Document();
    accepted += ExpectSame(doc);
    for (int m = 0; m < 5 && !doc.empty(); ++m) {
      std::string bad = doc;
      size_t at = pick(bad.size());
      switch (pick(4)) {
        case 0:
          bad[at] = kBytes[pick(sizeof kBytes - 1)];
          break;
        case 1:
          bad.insert(bad.begin() + static_cast<ptrdiff_t>(at), kBytes[pick(sizeof kBytes - 1)]);
          break;
        case 2:
          bad.erase(at, 1);
          break;
        default:
          bad.resize(at);
      }
      corrupt_accepted += ExpectSame(bad);
    }
    if (HasFailure()) break;
  }
  // Both outcomes were exercised: most documents are valid, some corruptions are too.
  EXPECT_GT(accepted, 5000u);
  EXPECT_GT(corrupt_accepted, 500u);
}

// A handler that stops at the first string: the scan says so and goes no further.
TEST(JsonScanTest, HandlerCanStopTheScan) {
  struct StopAtString : Recorder {
    bool String(std::string&) override { return false; }
  } h;
  JsonScan scan = ScanJson("[1,\"x\",2]", h);
  EXPECT_EQ(scan.outcome, JsonScan::Outcome::kStopped);
  EXPECT_EQ(h.events, (std::vector<std::string>{"[", "u:1"}));
}

// Deep nesting does not recurse: a million levels are scanned (and refused as unbalanced)
// without exhausting the stack.
TEST(JsonScanTest, DeepNestingDoesNotRecurse) {
  std::string deep(1'000'000, '[');
  Recorder h;
  EXPECT_EQ(ScanJson(deep, h).outcome, JsonScan::Outcome::kMalformed);
  EXPECT_EQ(h.events.size(), deep.size());
}

}  // namespace
}  // namespace halley
