// SPDX-License-Identifier: Apache-2.0
#include "client/schedule.h"

#include <time.h>

#include <algorithm>
#include <string>

#include "client/profile.h"

namespace halley::client {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kMaxInt = 1125899906842624;  // SCHEDULE_MAXINT
constexpr const char* kDayNames[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                      "Thursday", "Friday", "Saturday"};

struct Civil {
  int year, month, day;  // month 1-12
};

tm Local(time_t t) {
  tm out{};
  localtime_r(&t, &out);
  return out;
}

long Offset(time_t t) { return Local(t).tm_gmtoff; }

// The calendar day `days` after y-m-d (any of them may be out of range: 31 February + 1 is
// 4 March).
Civil AddDays(int year, int month, int day, int64_t days) {
  tm t{};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = 12;
  const time_t noon = timegm(&t) + static_cast<time_t>(days * kDay);
  tm n{};
  gmtime_r(&noon, &n);
  return {n.tm_year + 1900, n.tm_mon + 1, n.tm_mday};
}

int DaysInMonth(int year, int month) {
  const Civil first_of_next = AddDays(year, month, 1, 31);
  return 31 - (first_of_next.day - 1);
}

// The instant the local wall clock shows `second_of_day` on `day`: the first of two when the
// clock is turned back over it, the end of the gap when the clock skips it.
time_t WallTime(Civil day, int64_t second_of_day) {
  const int h = static_cast<int>(second_of_day / 3600);
  const int m = static_cast<int>(second_of_day / 60 % 60);
  const int s = static_cast<int>(second_of_day % 60);
  // mktime() of that wall time, read as standard time (0), summer time (1) or as it sees fit.
  auto make = [&](int isdst) {
    tm want{};
    want.tm_year = day.year - 1900;
    want.tm_mon = day.month - 1;
    want.tm_mday = day.day;
    want.tm_hour = h;
    want.tm_min = m;
    want.tm_sec = s;
    want.tm_isdst = isdst;
    return mktime(&want);
  };
  bool found = false;
  time_t best = 0;
  for (int isdst : {0, 1}) {
    const time_t t = make(isdst);
    const tm got = Local(t);
    if (got.tm_year + 1900 == day.year && got.tm_mon + 1 == day.month && got.tm_mday == day.day &&
        got.tm_hour == h && got.tm_min == m && got.tm_sec == s && (!found || t < best)) {
      best = t;
      found = true;
    }
  }
  if (found) return best;
  // Skipped by a change of offset: the first instant after the gap, found by bisecting for
  // where the offset changes within the day before mktime's reading of the time.
  time_t hi = make(-1);
  time_t lo = hi - static_cast<time_t>(kDay);
  const long after = Offset(hi);
  while (hi - lo > 1) {
    const time_t mid = lo + (hi - lo) / 2;
    (Offset(mid) == after ? hi : lo) = mid;
  }
  return hi;
}

Civil LocalDay(time_t t) {
  const tm l = Local(t);
  return {l.tm_year + 1900, l.tm_mon + 1, l.tm_mday};
}

// The first nominal time of `s` after `after`, restrictions aside.
std::optional<time_t> NextCandidate(const Schedule& s, time_t after) {
  const Civil today = LocalDay(after);
  switch (s.frequency) {
    case kFrequencyOnceOnly:
      if (s.seconds_past > after) return static_cast<time_t>(s.seconds_past);
      return std::nullopt;
    case kFrequencyPeriodic: {
      const int64_t since = after - s.offset;
      const int64_t n = since >= 0 ? since / s.seconds_past + 1 : -((-since) / s.seconds_past);
      int64_t t = s.offset + n * s.seconds_past;
      if (t <= after) t += s.seconds_past;
      return static_cast<time_t>(t);
    }
    case kFrequencyHourly: {
      // Every real hour whose local minutes and seconds are SecondsPast (whole-hour offsets).
      const long off = Offset(after);
      const int64_t local = after + off;
      time_t t = static_cast<time_t>(local - local % 3600 + s.seconds_past - off);
      while (t <= after) t += 3600;
      return t;
    }
    case kFrequencyDaily:
      for (int d = 0; d < 3; ++d) {
        const time_t t = WallTime(AddDays(today.year, today.month, today.day, d), s.seconds_past);
        if (t > after) return t;
      }
      break;
    case kFrequencyWeekly: {
      const int wday = Local(after).tm_wday;
      for (int w = 0; w < 3; ++w) {
        const Civil day =
            AddDays(today.year, today.month, today.day, 7 * w - wday + s.seconds_past / kDay);
        const time_t t = WallTime(day, s.seconds_past % kDay);
        if (t > after) return t;
      }
      break;
    }
    case kFrequencyMonthly:
    case kFrequencyYearly: {
      const bool yearly = s.frequency == kFrequencyYearly;
      for (int k = 0; k < 3; ++k) {
        const int year = yearly ? today.year + k : today.year + (today.month - 1 + k) / 12;
        const int month = yearly ? s.selected_month : (today.month - 1 + k) % 12 + 1;
        const int64_t wanted = yearly ? s.selected_day : 1 + s.seconds_past / kDay;
        const int day = static_cast<int>(std::min<int64_t>(wanted, DaysInMonth(year, month)));
        const time_t t = WallTime({year, month, day}, s.seconds_past % kDay);
        if (t > after) return t;
      }
      break;
    }
    default:
      break;
  }
  return std::nullopt;
}

bool Allowed(const Schedule& s, time_t t) {
  const tm l = Local(t);
  if (s.restrict_days && !s.days[l.tm_wday]) return false;
  if (s.restrict_runtime && s.from_minute != s.to_minute) {
    const int minute = l.tm_hour * 60 + l.tm_min;
    const bool inside = s.from_minute < s.to_minute
                            ? minute >= s.from_minute && minute < s.to_minute
                            : minute >= s.from_minute || minute < s.to_minute;
    if (!inside) return false;
  }
  return true;
}

Result<int64_t> Field(const Json& j, const char* name, int64_t lo, int64_t hi,
                      const char* where = "") {
  const int64_t v = IntField(j, name);
  if (v < lo || v > hi) {
    return Fail(ErrorCode::kInvalidArgument, std::string("schedule ") + where + name + " " +
                                                 std::to_string(v) + " is not between " +
                                                 std::to_string(lo) + " and " + std::to_string(hi));
  }
  return v;
}

Result<int> Minute(const Json& j, const char* name) {
  const Json& t = j.contains(name) ? j[name] : Json();
  std::string where = std::string(name) + ".";
  HALLEY_ASSIGN_OR_RETURN(int64_t hour, Field(t, "Hour", 0, 24, where.c_str()));
  HALLEY_ASSIGN_OR_RETURN(int64_t minutes, Field(t, "Minutes", 0, 59, where.c_str()));
  if (hour == 24 && minutes != 0) {
    return Fail(ErrorCode::kInvalidArgument, "schedule " + where + "Hour 24 allows no minutes");
  }
  return static_cast<int>(hour * 60 + minutes);
}

bool BoolField(const Json& j, const char* name) {
  return j.is_object() && j.contains(name) && j[name].is_boolean() && j[name].get<bool>();
}

}  // namespace

Result<Schedule> Schedule::FromJson(const Json& c) {
  Schedule s;
  HALLEY_ASSIGN_OR_RETURN(int64_t frequency,
                          Field(c, "FrequencyType", kFrequencyOnceOnly, kFrequencyYearly));
  s.frequency = static_cast<int>(frequency);
  const int64_t limit = s.frequency == kFrequencyHourly    ? 3600 - 1
                        : s.frequency == kFrequencyDaily   ? kDay - 1
                        : s.frequency == kFrequencyWeekly  ? 7 * kDay - 1
                        : s.frequency == kFrequencyMonthly ? 31 * kDay - 1
                        : s.frequency == kFrequencyYearly  ? kDay - 1
                                                           : kMaxInt;
  HALLEY_ASSIGN_OR_RETURN(
      s.seconds_past, Field(c, "SecondsPast", s.frequency == kFrequencyPeriodic ? 1 : 0, limit));
  HALLEY_ASSIGN_OR_RETURN(s.offset, Field(c, "Offset", -kMaxInt, kMaxInt));
  HALLEY_ASSIGN_OR_RETURN(s.random_delay_secs, Field(c, "RandomDelaySecs", 0, kMaxRandomDelaySecs));
  s.restrict_runtime = BoolField(c, "RestrictRuntime");
  if (s.restrict_runtime) {
    HALLEY_ASSIGN_OR_RETURN(s.from_minute, Minute(c, "FromTime"));
    HALLEY_ASSIGN_OR_RETURN(s.to_minute, Minute(c, "ToTime"));
  }
  s.restrict_days = BoolField(c, "RestrictDays");
  if (s.restrict_days) {
    const Json& days = c.contains("DaysSelect") ? c["DaysSelect"] : Json();
    for (int d = 0; d < 7; ++d) s.days[d] = BoolField(days, kDayNames[d]);
  }
  if (s.frequency == kFrequencyYearly) {
    HALLEY_ASSIGN_OR_RETURN(int64_t month, Field(c, "SelectedMonth", 1, 12));
    HALLEY_ASSIGN_OR_RETURN(int64_t day, Field(c, "SelectedDay", 1, 31));
    s.selected_month = static_cast<int>(month);
    s.selected_day = static_cast<int>(day);
  }
  return s;
}

Json Schedule::ToJson() const {
  Json selected = Json::object();
  for (int d = 0; d < 7; ++d) selected[kDayNames[d]] = days[d];
  return {{"FrequencyType", frequency},
          {"SecondsPast", seconds_past},
          {"Offset", offset},
          {"RestrictRuntime", restrict_runtime},
          {"FromTime", {{"Hour", from_minute / 60}, {"Minutes", from_minute % 60}}},
          {"ToTime", {{"Hour", to_minute / 60}, {"Minutes", to_minute % 60}}},
          {"RestrictDays", restrict_days},
          {"DaysSelect", selected},
          {"RandomDelaySecs", random_delay_secs},
          {"SelectedMonth", selected_month},
          {"SelectedDay", selected_day}};
}

std::optional<TimePoint> NextRun(const Schedule& s, TimePoint after) {
  const time_t start = std::chrono::system_clock::to_time_t(after);
  const time_t horizon = start + static_cast<time_t>(3660 * kDay);  // ten years
  time_t t = start;
  // An hourly schedule outside its window for ten years is the longest search: 87,840 hours.
  for (int i = 0; i < 100'000; ++i) {
    const std::optional<time_t> next = NextCandidate(s, t);
    if (!next || *next > horizon) return std::nullopt;
    if (Allowed(s, *next)) return std::chrono::system_clock::from_time_t(*next);
    t = *next;
  }
  return std::nullopt;
}

TimePoint Delay(const Schedule& s, TimePoint due, std::mt19937_64& rng) {
  if (s.random_delay_secs <= 0) return due;
  std::uniform_int_distribution<int64_t> secs(0, s.random_delay_secs);
  return due + std::chrono::seconds(secs(rng));
}

}  // namespace halley::client
