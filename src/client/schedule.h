// SPDX-License-Identifier: Apache-2.0
//
// When a Schedule fires: the product's ScheduleConfig (reference/comet.md §2.4, §3.5) read from
// a profile's BackupRules, and the next time it is due after a given instant. All calendar
// arithmetic is in the device's local time zone (TZ, as the C library reads it):
//
//   8010 once only   SecondsPast is a Unix time
//   8011 daily       SecondsPast past 00:00 local, every day
//   8012 hourly      SecondsPast past every local hour (:00)
//   8013 weekly      SecondsPast past Sunday 00:00 local
//   8014 monthly     SecondsPast past 00:00 on the 1st; a month too short for that day fires on
//                    its last day at the same time (a monthly backup never skips February)
//   8015 periodic    every SecondsPast seconds, counted from Offset seconds after the epoch
//   8016 yearly      SelectedMonth (1-12) / SelectedDay (1-31) at SecondsPast past 00:00; a
//                    day the month lacks (29 February) is the month's last day
//
// A local time that a daylight-saving change skips (02:30 on a spring-forward night) fires at
// the end of the gap (03:00 local, the instant the clock jumps); a time it repeats fires once,
// at its first occurrence. Hourly schedules fire every real hour, the repeated one included.
//
// RestrictDays (DaysSelect{Sunday..Saturday}) and RestrictRuntime (FromTime..ToTime, local,
// wrapping past midnight when FromTime is later than ToTime; ToTime excluded) drop candidate
// times outside them. RandomDelaySecs (at most 18000) is added by the caller: Delay().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "base/error.h"
#include "base/json.h"

namespace halley::client {

inline constexpr int kFrequencyOnceOnly = 8010;
inline constexpr int kFrequencyDaily = 8011;
inline constexpr int kFrequencyHourly = 8012;
inline constexpr int kFrequencyWeekly = 8013;
inline constexpr int kFrequencyMonthly = 8014;
inline constexpr int kFrequencyPeriodic = 8015;
inline constexpr int kFrequencyYearly = 8016;
inline constexpr int64_t kMaxRandomDelaySecs = 18000;  // SCHEDULE_MAX_RANDOM_DELAY_SECS

struct Schedule {
  int frequency = kFrequencyDaily;
  int64_t seconds_past = 0;
  int64_t offset = 0;  // periodic only
  bool restrict_runtime = false;
  int from_minute = 0;  // of the day, local: FromTime.Hour * 60 + FromTime.Minutes
  int to_minute = 0;
  bool restrict_days = false;
  bool days[7] = {true, true, true, true, true, true, true};  // Sunday first
  int64_t random_delay_secs = 0;
  int selected_month = 1;  // yearly: 1-12
  int selected_day = 1;    // yearly: 1-31

  // Reads a ScheduleConfig. kInvalidArgument naming the field for an unknown frequency or a
  // value out of range (a day of 40, a negative period, a random delay over 18000 s).
  static Result<Schedule> FromJson(const Json& config);
  Json ToJson() const;
};

using TimePoint = std::chrono::system_clock::time_point;

// The first time strictly after `after` at which `s` is due (before its random delay), or
// nullopt if it never is again (a once-only time passed, no day selected, a window that no
// candidate falls into within ten years).
std::optional<TimePoint> NextRun(const Schedule& s, TimePoint after);

// `due` plus a uniform random delay of 0..RandomDelaySecs seconds.
TimePoint Delay(const Schedule& s, TimePoint due, std::mt19937_64& rng);

}  // namespace halley::client
