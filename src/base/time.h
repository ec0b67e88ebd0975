// SPDX-License-Identifier: Apache-2.0
//
// Wall-clock instants as the vault stores them: nanosecond precision plus the UTC offset the
// instant was recorded in, printed in Go's RFC3339Nano form ("2026-11-26T07:32:13.5+01:00",
// trailing fractional zeros trimmed, "Z" for offset 0).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace halley {

struct Time {
  int64_t seconds = 0;     // since the Unix epoch, UTC
  int32_t nanos = 0;       // 0..999'999'999
  int32_t utc_offset = 0;  // seconds east of UTC, for display only

  static Time Utc(int64_t seconds, int32_t nanos = 0) { return {seconds, nanos, 0}; }
  // The instant with the host's local UTC offset at that instant (TZ honoured).
  static Time Local(int64_t seconds, int32_t nanos = 0);
  static Time FromTimePoint(std::chrono::system_clock::time_point tp);  // local offset

  std::chrono::system_clock::time_point ToTimePoint() const;
  int64_t UnixNanos() const { return seconds * 1'000'000'000 + nanos; }

  // Orders by instant; the offset does not take part.
  friend bool operator==(const Time& a, const Time& b) {
    return a.seconds == b.seconds && a.nanos == b.nanos;
  }
  friend auto operator<=>(const Time& a, const Time& b) {
    if (auto c = a.seconds <=> b.seconds; c != 0) return c;
    return a.nanos <=> b.nanos;
  }
};

// Civil date and time of an instant in its own offset.
struct CivilTime {
  int year, month, day, hour, minute, second;
  int weekday;  // 0 = Sunday
  int yearday;  // 0-based
};
CivilTime ToCivil(const Time& t);
// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

// Go's time.Format(time.RFC3339Nano). Years are clamped to 0..9999 (as restic does).
std::string FormatRfc3339Nano(const Time& t);
// "2006-01-02 15:04:05" in the instant's own offset, as restic prints snapshot times.
std::string FormatHuman(const Time& t);
// Parses RFC 3339 with an optional fraction of up to 9 digits ("Z" or "+hh:mm").
Result<Time> ParseRfc3339(std::string_view text);

}  // namespace halley
