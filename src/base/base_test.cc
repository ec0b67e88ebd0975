// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "base/encoding.h"
#include "base/error.h"
#include "base/id.h"
#include "base/json.h"
#include "base/time.h"

namespace halley {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Fail(ErrorCode::kInvalidArgument, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  HALLEY_ASSIGN_OR_RETURN(int h, Half(x));
  HALLEY_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(ErrorTest, PropagatesThroughMacros) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().WithContext("quartering").Message(), "quartering: odd");
}

TEST(ErrorTest, ErrnoMapping) {
  EXPECT_EQ(ErrnoError("open x", ENOENT).Code(), ErrorCode::kNotFound);
  EXPECT_EQ(ErrnoError("open x", EACCES).Code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(ErrnoError("open x", ENOSPC).Code(), ErrorCode::kNoSpace);
  EXPECT_EQ(ErrnoError("open x", ENOENT).Message(), "open x: No such file or directory");
}

TEST(EncodingTest, HexRoundTrip) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "0001abff");
  EXPECT_EQ(*HexDecode("0001ABff"), b);
  EXPECT_FALSE(HexDecode("abc"));
  EXPECT_FALSE(HexDecode("zz"));
}

TEST(EncodingTest, Base64KnownAnswers) {
  // RFC 4648 section 10.
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(Base64Encode(AsBytes(plain[i])), coded[i]);
    EXPECT_EQ(ToString(*Base64Decode(coded[i])), plain[i]);
  }
  EXPECT_FALSE(Base64Decode("Zg="));
  EXPECT_FALSE(Base64Decode("Z===")) << "three pad characters";
  EXPECT_FALSE(Base64Decode("Zg==Zg=="));
  EXPECT_FALSE(Base64Decode("Zm9*"));
}

TEST(IdTest, HexRoundTripAndOrdering) {
  std::string hex(64, 'a');
  auto id = Id::FromHex(hex);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->Hex(), hex);
  EXPECT_EQ(id->Short(), "aaaaaaaa");
  EXPECT_FALSE(Id::FromHex("abc"));
  EXPECT_TRUE(Id{}.IsNull());
  EXPECT_LT(Id{}, *id);
}

TEST(TimeTest, FormatsLikeGo) {
  EXPECT_EQ(FormatRfc3339Nano(Time::Utc(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(Time{1435400331, 759239612, 7200}),
            "2015-06-27T12:18:51.759239612+02:00");
  EXPECT_EQ(FormatRfc3339Nano(Time{1435400331, 500000000, -5 * 3600 - 1800}),
            "2015-06-27T04:48:51.5-05:30");
}

// Against printf's formatting, which the formatter replaced: random instants from year 0 to
// 9999 (and beyond, clamped), nanoseconds and offsets.
TEST(TimeTest, FormatsAsPrintfWould) {
  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < 20000; ++i) {
    Time t{static_cast<int64_t>(rng() % 700'000'000'000) - 350'000'000'000,
           static_cast<int32_t>(rng() % 4 == 0 ? 0 : rng() % 1'000'000'000),
           static_cast<int32_t>(rng() % 3 == 0 ? 0 : static_cast<int>(rng() % 100'000) - 50'000)};
    CivilTime c = ToCivil(t);
    int year = c.year < 0 ? 0 : (c.year > 9999 ? 9999 : c.year);
    char buf[96];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", year, c.month, c.day,
                          c.hour, c.minute, c.second);
    std::string want(buf, static_cast<size_t>(n));
    if (t.nanos != 0) {
      std::snprintf(buf, sizeof buf, "%09d", t.nanos);
      std::string frac(buf);
      while (frac.back() == '0') frac.pop_back();
      want += "." + frac;
    }
    if (t.utc_offset == 0) {
      want += "Z";
    } else {
      int off = t.utc_offset < 0 ? -t.utc_offset : t.utc_offset;
      std::snprintf(buf, sizeof buf, "%c%02d:%02d", t.utc_offset < 0 ? '-' : '+', off / 3600,
                    off / 60 % 60);
      want += buf;
    }
    ASSERT_EQ(FormatRfc3339Nano(t), want) << t.seconds << " " << t.nanos << " " << t.utc_offset;
  }
}

TEST(TimeTest, ParseRoundTrip) {
  for (const char* s : {"2015-06-27T12:18:51.759239612+02:00", "1970-01-01T00:00:00Z",
                        "2026-11-26T05:17:18.9433647Z", "1969-12-31T23:59:59.1-01:00"}) {
    auto t = ParseRfc3339(s);
    ASSERT_TRUE(t) << s;
    EXPECT_EQ(FormatRfc3339Nano(*t), s);
  }
  EXPECT_EQ(ParseRfc3339("2015-06-27T12:18:51+02:00")->seconds, 1435400331);
  EXPECT_FALSE(ParseRfc3339("2015-06-27 garbage"));
  EXPECT_FALSE(ParseRfc3339("2015-13-27T12:18:51Z"));
  EXPECT_FALSE(ParseRfc3339("2015-06-27T12:18:51"));
}

TEST(TimeTest, Civil) {
  CivilTime c = ToCivil(*ParseRfc3339("2024-02-29T23:30:00-01:00"));
  EXPECT_EQ(c.year, 2024);
  EXPECT_EQ(c.month, 2);
  EXPECT_EQ(c.day, 29);
  EXPECT_EQ(c.hour, 23);
  EXPECT_EQ(c.weekday, 4);  // Thursday
  EXPECT_EQ(c.yearday, 59);
}

TEST(JsonTest, GoStringEscapes) {
  std::string out;
  AppendGoJsonString(out, "a<b>&\"\\\n\t\x01\x7f");
  EXPECT_EQ(out, R"("a\u003cb\u003e\u0026\"\\\n\t\u0001)"
                 "\x7f\"");
  out.clear();
  AppendGoJsonString(out, "\xc3\xa9\xe2\x80\xa8\xff");
  EXPECT_EQ(out, "\"\xc3\xa9\\u2028\\ufffd\"");
  out.clear();
  AppendGoJsonString(out, "\xed\xa0\x80");  // an encoded surrogate is invalid UTF-8
  EXPECT_EQ(out, R"("\ufffd\ufffd\ufffd")");
}

TEST(JsonTest, LimitsAreEnforced) {
  EXPECT_TRUE(ParseJson(R"({"a":[1,2,{"b":null}]})"));
  EXPECT_FALSE(ParseJson("{\"a\":"));
  std::string deep(100000, '[');
  auto r = ParseJson(deep + std::string(100000, ']'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Code(), ErrorCode::kCorruption);
  EXPECT_FALSE(ParseJson("[1]", JsonLimits{.max_bytes = 2}));
}

TEST(JsonTest, TypedFields) {
  Json j = *ParseJson(R"({"s":"x","n":5,"neg":-1,"b":true})");
  EXPECT_EQ(*JsonString(j, "s"), "x");
  EXPECT_EQ(*JsonUint(j, "n"), 5u);
  EXPECT_FALSE(JsonUint(j, "neg"));
  EXPECT_EQ(*JsonInt(j, "neg"), -1);
  EXPECT_FALSE(JsonString(j, "missing"));
  EXPECT_EQ(*OptionalJsonString(j, "missing", "d"), "d");
  EXPECT_TRUE(*JsonBool(j, "b"));
}

TEST(BytesTest, SecureZeroWipesAndAcceptsAnEmptyBuffer) {
  std::string secret = "key";
  SecureZero(secret.data(), secret.size());
  EXPECT_EQ(secret, std::string(3, '\0'));
  Bytes empty;  // data() is null: explicit_bzero must not see it (UBSan's nonnull check)
  SecureZero(empty.data(), empty.size());
}

}  // namespace
}  // namespace halley
