// SPDX-License-Identifier: Apache-2.0
#include "base/time.h"

#include <time.h>

#include <cstdio>

namespace halley {
namespace {

// Howard Hinnant's civil_from_days.
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool ParseDigits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Time Time::Local(int64_t seconds, int32_t nanos) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  int32_t offset = 0;
  if (localtime_r(&t, &tm) != nullptr) offset = static_cast<int32_t>(tm.tm_gmtoff);
  return {seconds, nanos, offset};
}

Time Time::FromTimePoint(std::chrono::system_clock::time_point tp) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  int64_t s = FloorDiv(ns, 1'000'000'000);
  return Local(s, static_cast<int32_t>(ns - s * 1'000'000'000));
}

std::chrono::system_clock::time_point Time::ToTimePoint() const {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos)));
}

CivilTime ToCivil(const Time& t) {
  int64_t local = t.seconds + t.utc_offset;
  int64_t days = FloorDiv(local, 86400);
  int64_t secs = local - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  CivilTime c{};
  c.year = static_cast<int>(y);
  c.month = static_cast<int>(m);
  c.day = static_cast<int>(d);
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs / 60 % 60);
  c.second = static_cast<int>(secs % 60);
  int64_t wd = (days + 4) % 7;  // 1970-01-01 was a Thursday
  c.weekday = static_cast<int>(wd < 0 ? wd + 7 : wd);
  c.yearday = static_cast<int>(days - DaysFromCivil(y, 1, 1));
  return c;
}

namespace {

// Appends v as printf's %0*u would: at least `width` digits. (snprintf itself was a tenth of
// an unchanged backup, which encodes three times for every file.)
void AppendPadded(std::string& out, unsigned v, int width) {
  char digits[12];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (int i = n; i < width; ++i) out.push_back('0');
  while (n > 0) out.push_back(digits[--n]);
}

}  // namespace

std::string FormatRfc3339Nano(const Time& t) {
  CivilTime c = ToCivil(t);
  int year = c.year < 0 ? 0 : (c.year > 9999 ? 9999 : c.year);
  std::string out;
  out.reserve(40);
  AppendPadded(out, static_cast<unsigned>(year), 4);
  out.push_back('-');
  AppendPadded(out, static_cast<unsigned>(c.month), 2);
  out.push_back('-');
  AppendPadded(out, static_cast<unsigned>(c.day), 2);
  out.push_back('T');
  AppendPadded(out, static_cast<unsigned>(c.hour), 2);
  out.push_back(':');
  AppendPadded(out, static_cast<unsigned>(c.minute), 2);
  out.push_back(':');
  AppendPadded(out, static_cast<unsigned>(c.second), 2);
  if (t.nanos != 0) {
    out.push_back('.');
    AppendPadded(out, static_cast<unsigned>(t.nanos), 9);
    while (out.back() == '0') out.pop_back();  // nanos != 0: a non-zero digit stops it
  }
  if (t.utc_offset == 0) {
    out.push_back('Z');
  } else {
    int off = t.utc_offset;
    out.push_back(off < 0 ? '-' : '+');
    if (off < 0) off = -off;
    AppendPadded(out, static_cast<unsigned>(off / 3600), 2);
    out.push_back(':');
    AppendPadded(out, static_cast<unsigned>(off / 60 % 60), 2);
  }
  return out;
}

std::string FormatHuman(const Time& t) {
  CivilTime c = ToCivil(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

Result<Time> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid RFC 3339 time \"" + std::string(s.substr(0, 64)) + "\"");
  };
  int year, month, day, hour, minute, second;
  if (s.size() < 20 || !ParseDigits(s, 0, 4, year) || s[4] != '-' || !ParseDigits(s, 5, 2, month) ||
      s[7] != '-' || !ParseDigits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !ParseDigits(s, 11, 2, hour) || s[13] != ':' || !ParseDigits(s, 14, 2, minute) ||
      s[16] != ':' || !ParseDigits(s, 17, 2, second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  size_t pos = 19;
  int32_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  int32_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!ParseDigits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, om)) {
      return bad();
    }
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset;
  return Time{secs, nanos, offset};
}

}  // namespace halley
