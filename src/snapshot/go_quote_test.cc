// SPDX-License-Identifier: Apache-2.0
#include "snapshot/go_quote.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace halley::snapshot {
namespace {

std::string Utf8(char32_t r) {
  std::string out;
  if (r < 0x80) {
    out.push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (r >> 6)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else if (r < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (r >> 12)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (r >> 18)));
    out.push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3f)));
  }
  return out;
}

// Expected values are what Go's strconv.Quote returns (without the outer quotes).
TEST(GoQuoteNameTest, KnownAnswers) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"plain.txt", "plain.txt"},
      {"with space", "with space"},
      {"a\"b", "a\\\"b"},
      {"a\\b", "a\\\\b"},
      {"<>&'", "<>&'"},
      {"\a\b\f\n\r\t\v", "\\a\\b\\f\\n\\r\\t\\v"},
      {std::string("\x00\x01\x1b\x1f\x7f", 5), "\\x00\\x01\\x1b\\x1f\\x7f"},
      {"\xff\xfe", "\\xff\\xfe"},
      {"\xc0\x80", "\\xc0\\x80"},                    // overlong NUL
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},           // encoded surrogate
      {"\xe2\x82", "\\xe2\\x82"},                    // truncated sequence
      {"\xe2\x82x", "\\xe2\\x82x"},                  // truncated before ASCII
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // above U+10FFFF
      {"\x80", "\\x80"},                             // lone continuation byte
      {"é日本", "é日本"},
      {"\u00a1\u00ac\u00ae\u00ff", "\u00a1\u00ac\u00ae\u00ff"},
      {"\u0080\u0085\u009f\u00a0\u00ad", "\\u0080\\u0085\\u009f\\u00a0\\u00ad"},
      {"\u200b\u200f\u2028\u2029\u202e\u2060\ufeff",
       "\\u200b\\u200f\\u2028\\u2029\\u202e\\u2060\\ufeff"},
      {"\u3000\u1680\u2000\u205f", "\\u3000\\u1680\\u2000\\u205f"},
      {"\ue000\uf8ff", "\\ue000\\uf8ff"},
      {"\U000f0000\U0010fffd", "\\U000f0000\\U0010fffd"},
      {"\U000e0001\U000e007f", "\\U000e0001\\U000e007f"},
      {"\U0001f600", "\U0001f600"},
      {"e\u0301", "e\u0301"},  // combining mark (Mn) is printable
      {"\ufffd", "\ufffd"},    // a real U+FFFD is printable
      {"\uffff\ufdd0", "\\uffff\\ufdd0"},
  };
  for (const auto& [raw, quoted] : cases) {
    EXPECT_EQ(GoQuoteName(raw), quoted) << quoted;
    auto back = GoUnquoteName(quoted);
    ASSERT_TRUE(back) << quoted << ": " << back.error().Message();
    EXPECT_EQ(*back, raw) << quoted;
  }
}

// Every code point assigned in Unicode 14 (testdata/unicode_print.txt, from Python's
// unicodedata) is escaped exactly when Go's IsPrint says it is not printable.
TEST(GoQuoteNameTest, MatchesGoIsPrintOnEveryAssignedCodePoint) {
  std::ifstream in(HALLEY_SNAPSHOT_TESTDATA "/unicode_print.txt");
  ASSERT_TRUE(in.good());
  std::string line;
  size_t checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string first, last, flag;
    fields >> first >> last >> flag;
    char32_t lo = static_cast<char32_t>(std::stoul(first, nullptr, 16));
    char32_t hi = static_cast<char32_t>(std::stoul(last, nullptr, 16));
    for (char32_t r = lo; r <= hi; ++r) {
      if (r == '"' || r == '\\') continue;  // printable but always escaped
      std::string raw = Utf8(r);
      std::string quoted = GoQuoteName(raw);
      if (flag == "P") {
        ASSERT_EQ(quoted, raw) << std::hex << "U+" << static_cast<uint32_t>(r);
      } else {
        ASSERT_EQ(quoted[0], '\\') << std::hex << "U+" << static_cast<uint32_t>(r);
      }
      auto back = GoUnquoteName(quoted);
      ASSERT_TRUE(back);
      ASSERT_EQ(*back, raw);
      ++checked;
    }
  }
  EXPECT_GT(checked, 140000u);
}

TEST(GoQuoteNameTest, RandomByteStringsRoundTrip) {
  std::mt19937_64 rng(20261126);
  // Bias towards bytes that exercise the escapes: controls, quote, backslash, UTF-8 lead and
  // continuation bytes.
  const uint8_t interesting[] = {0x00, 0x07, 0x0a, 0x1f, '"',  '\\', 'x',  'u',  0x7f,
                                 0x80, 0xbf, 0xc2, 0xc0, 0xdf, 0xe0, 0xe2, 0xed, 0xef,
                                 0xf0, 0xf4, 0xf5, 0xff, 0x85, 0xa0, 0xad};
  for (int n = 0; n < 10000; ++n) {
    std::string raw(rng() % 24, '\0');
    for (char& c : raw) {
      uint64_t pick = rng();
      c = static_cast<char>(pick % 3 == 0 ? interesting[(pick >> 8) % sizeof interesting]
                                          : static_cast<uint8_t>(pick >> 16));
    }
    std::string quoted = GoQuoteName(raw);
    // The quoted form is valid UTF-8 with no raw quote or newline, so it survives JSON.
    EXPECT_EQ(quoted.find('\n'), std::string::npos);
    auto back = GoUnquoteName(quoted);
    ASSERT_TRUE(back) << back.error().Message();
    ASSERT_EQ(*back, raw) << quoted;
  }
}

TEST(GoUnquoteNameTest, AcceptsEveryGoEscapeForm) {
  const std::pair<std::string, std::string> cases[] = {
      {"\\101\\000\\377", std::string("A\0\xff", 3)},
      {"\\x41\\xFF\\xfF", "A\xff\xff"},
      {"\\u0041\\u00e9\\U0001F600", "A\u00e9\U0001f600"},
      {"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"", "\a\b\f\n\r\t\v\\\""},
      {"raw\ttab\r", "raw\ttab\r"},      // Go accepts raw control characters except '\n'
      {"bad\xffutf8", "bad\ufffdutf8"},  // raw invalid bytes become U+FFFD, as in Go
      {"", ""},
  };
  for (const auto& [quoted, raw] : cases) {
    auto got = GoUnquoteName(quoted);
    ASSERT_TRUE(got) << quoted << ": " << got.error().Message();
    EXPECT_EQ(*got, raw) << quoted;
  }
}

TEST(GoUnquoteNameTest, RejectsWhatGoRejects) {
  const char* bad[] = {
      "a\"b",         // unescaped quote
      "a\nb",         // unescaped newline
      "trailing\\",   // truncated escape
      "\\x4",         // short \x
      "\\xg0",        // bad hex digit
      "\\u12",        // short \u
      "\\ud800",      // surrogate
      "\\U00110000",  // above U+10FFFF
      "\\400",        // octal above 255
      "\\18",         // bad octal digit
      "\\1",          // short octal
      "\\q",          // unknown escape
      "\\'",          // only valid inside single quotes
  };
  for (const char* q : bad) {
    auto got = GoUnquoteName(q);
    ASSERT_FALSE(got) << q;
    EXPECT_EQ(got.error().Code(), ErrorCode::kCorruption) << q;
  }
}

}  // namespace
}  // namespace halley::snapshot
