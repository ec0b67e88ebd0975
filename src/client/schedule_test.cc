// SPDX-License-Identifier: Apache-2.0
#include "client/schedule.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <string>
#include <vector>

#include "base/test_util.h"

namespace halley::client {
namespace {

using testutil::FailsWith;

// Runs the test in a time zone, restoring the process's afterwards.
class InZone {
 public:
  explicit InZone(const char* tz) {
    if (const char* old = getenv("TZ")) saved_ = old;
    had_ = getenv("TZ") != nullptr;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~InZone() {
    if (had_) {
      setenv("TZ", saved_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  std::string saved_;
  bool had_ = false;
};

TimePoint Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  return std::chrono::system_clock::from_time_t(timegm(&t));
}

std::string Show(std::optional<TimePoint> t) {
  if (!t) return "never";
  const time_t tt = std::chrono::system_clock::to_time_t(*t);
  tm u{};
  gmtime_r(&tt, &u);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &u);
  return buf;
}

Schedule Make(int frequency, int64_t seconds_past) {
  Schedule s;
  s.frequency = frequency;
  s.seconds_past = seconds_past;
  return s;
}

// The next `n` runs after `from`.
std::vector<std::string> Runs(const Schedule& s, TimePoint from, int n) {
  std::vector<std::string> out;
  std::optional<TimePoint> t = from;
  for (int i = 0; i < n && t; ++i) {
    t = NextRun(s, *t);
    out.push_back(Show(t));
  }
  return out;
}

TEST(ScheduleTest, DailyInLocalTime) {
  InZone zone("America/New_York");  // UTC-5 in winter
  const Schedule s = Make(kFrequencyDaily, 9 * 3600 + 30 * 60);
  EXPECT_EQ(Runs(s, Utc(2026, 1, 10, 12), 2),
            (std::vector<std::string>{"2026-01-10 14:30:00 UTC", "2026-01-11 14:30:00 UTC"}));
  // Strictly after: a run due now is the next day's.
  EXPECT_EQ(Show(NextRun(s, Utc(2026, 1, 10, 14, 30))), "2026-01-11 14:30:00 UTC");
}

TEST(ScheduleTest, DailyAcrossDaylightSavingChanges) {
  InZone zone("Europe/Berlin");  // 2026-03-29 02:00 -> 03:00; 2026-10-25 03:00 -> 02:00
  const Schedule s = Make(kFrequencyDaily, 2 * 3600 + 30 * 60);
  // 02:30 does not exist on 29 March: the run comes when the clock jumps, 03:00 CEST.
  EXPECT_EQ(Runs(s, Utc(2026, 3, 28, 12), 3),
            (std::vector<std::string>{"2026-03-29 01:00:00 UTC", "2026-03-30 00:30:00 UTC",
                                      "2026-03-31 00:30:00 UTC"}));
  // 02:30 happens twice on 25 October: the run is at the first, once.
  EXPECT_EQ(Runs(s, Utc(2026, 10, 24, 12), 3),
            (std::vector<std::string>{"2026-10-25 00:30:00 UTC", "2026-10-26 01:30:00 UTC",
                                      "2026-10-27 01:30:00 UTC"}));
  // Other times of day keep their wall-clock time across the change.
  const Schedule noon = Make(kFrequencyDaily, 12 * 3600);
  EXPECT_EQ(Runs(noon, Utc(2026, 3, 28, 12), 2),
            (std::vector<std::string>{"2026-03-29 10:00:00 UTC", "2026-03-30 10:00:00 UTC"}));
}

TEST(ScheduleTest, HourlyFiresEveryRealHourThroughTheChanges) {
  InZone zone("Europe/Berlin");
  const Schedule s = Make(kFrequencyHourly, 15 * 60);
  for (TimePoint day : {Utc(2026, 3, 28, 22), Utc(2026, 10, 24, 22)}) {
    std::optional<TimePoint> t = day;
    for (int i = 0; i < 30; ++i) {
      const std::optional<TimePoint> next = NextRun(s, *t);
      ASSERT_TRUE(next);
      if (i > 0) {
        EXPECT_EQ(*next - *t, std::chrono::hours(1)) << Show(next);
      }
      const time_t tt = std::chrono::system_clock::to_time_t(*next);
      tm l{};
      localtime_r(&tt, &l);
      EXPECT_EQ(l.tm_min, 15);
      EXPECT_EQ(l.tm_sec, 0);
      t = next;
    }
  }
}

TEST(ScheduleTest, WeeklyFromSunday) {
  InZone zone("UTC");
  // Wednesday 18:00. 2026-11-26 is a Thursday.
  const Schedule s = Make(kFrequencyWeekly, 3 * 86400 + 18 * 3600);
  EXPECT_EQ(Runs(s, Utc(2026, 11, 26, 12), 2),
            (std::vector<std::string>{"2026-12-02 18:00:00 UTC", "2026-12-09 18:00:00 UTC"}));
  EXPECT_EQ(Show(NextRun(s, Utc(2026, 11, 25, 17))), "2026-11-25 18:00:00 UTC");
  // Saturday 23:59 and Sunday 00:00 at the ends of the week.
  EXPECT_EQ(Show(NextRun(Make(kFrequencyWeekly, 7 * 86400 - 60), Utc(2026, 11, 26))),
            "2026-11-28 23:59:00 UTC");
  EXPECT_EQ(Show(NextRun(Make(kFrequencyWeekly, 0), Utc(2026, 11, 26))), "2026-11-29 00:00:00 UTC");
}

TEST(ScheduleTest, MonthlyOnTheLastDayOfShortMonths) {
  InZone zone("UTC");
  const Schedule s = Make(kFrequencyMonthly, 30 * 86400 + 3600);  // the 31st, 01:00
  EXPECT_EQ(Runs(s, Utc(2027, 1, 15), 5),
            (std::vector<std::string>{"2027-01-31 01:00:00 UTC", "2027-02-28 01:00:00 UTC",
                                      "2027-03-31 01:00:00 UTC", "2027-04-30 01:00:00 UTC",
                                      "2027-05-31 01:00:00 UTC"}));
  EXPECT_EQ(Show(NextRun(Make(kFrequencyMonthly, 28 * 86400), Utc(2028, 2, 1))),
            "2028-02-29 00:00:00 UTC");  // a leap year has the 29th
  // December rolls into January.
  EXPECT_EQ(Runs(Make(kFrequencyMonthly, 0), Utc(2026, 12, 5), 2),
            (std::vector<std::string>{"2027-01-01 00:00:00 UTC", "2027-02-01 00:00:00 UTC"}));
}

TEST(ScheduleTest, YearlyOnItsDate) {
  InZone zone("UTC");
  Schedule s = Make(kFrequencyYearly, 6 * 3600);
  s.selected_month = 2;
  s.selected_day = 29;
  EXPECT_EQ(Runs(s, Utc(2026, 11, 26), 3),
            (std::vector<std::string>{"2027-02-28 06:00:00 UTC", "2028-02-29 06:00:00 UTC",
                                      "2029-02-28 06:00:00 UTC"}));
}

TEST(ScheduleTest, PeriodicCountsFromItsOffset) {
  InZone zone("Asia/Kolkata");  // local time plays no part
  Schedule s = Make(kFrequencyPeriodic, 900);
  s.offset = 60;
  EXPECT_EQ(Runs(s, Utc(2026, 11, 26, 10, 0, 30), 3),
            (std::vector<std::string>{"2026-11-26 10:01:00 UTC", "2026-11-26 10:16:00 UTC",
                                      "2026-11-26 10:31:00 UTC"}));
  s.offset = std::chrono::system_clock::to_time_t(Utc(2030, 1, 1));  // in the future
  EXPECT_EQ(Show(NextRun(s, Utc(2026, 11, 26, 10, 0, 30))), "2026-11-26 10:15:00 UTC");
}

TEST(ScheduleTest, OnceOnly) {
  const Schedule s =
      Make(kFrequencyOnceOnly, std::chrono::system_clock::to_time_t(Utc(2026, 12, 24, 18)));
  EXPECT_EQ(Show(NextRun(s, Utc(2026, 11, 26))), "2026-12-24 18:00:00 UTC");
  EXPECT_EQ(Show(NextRun(s, Utc(2026, 12, 24, 18))), "never");
}

TEST(ScheduleTest, RestrictDaysSkipsTheOthers) {
  InZone zone("UTC");
  Schedule s = Make(kFrequencyDaily, 20 * 3600);
  s.restrict_days = true;
  for (bool& d : s.days) d = false;
  s.days[1] = s.days[5] = true;  // Monday and Friday; 2026-11-26 is a Thursday
  EXPECT_EQ(Runs(s, Utc(2026, 11, 26), 3),
            (std::vector<std::string>{"2026-11-27 20:00:00 UTC", "2026-11-30 20:00:00 UTC",
                                      "2026-12-04 20:00:00 UTC"}));
  s.days[1] = s.days[5] = false;
  EXPECT_EQ(Show(NextRun(s, Utc(2026, 11, 26))), "never");
}

TEST(ScheduleTest, RestrictRuntimeKeepsRunsInTheWindow) {
  InZone zone("UTC");
  Schedule s = Make(kFrequencyHourly, 0);
  s.restrict_runtime = true;
  s.from_minute = 22 * 60;  // 22:00 to 02:00, across midnight
  s.to_minute = 2 * 60;
  EXPECT_EQ(Runs(s, Utc(2026, 11, 26, 12), 5),
            (std::vector<std::string>{"2026-11-26 22:00:00 UTC", "2026-11-26 23:00:00 UTC",
                                      "2026-11-27 00:00:00 UTC", "2026-11-27 01:00:00 UTC",
                                      "2026-11-27 22:00:00 UTC"}));
  // A daily run outside its own window never comes.
  Schedule noon = Make(kFrequencyDaily, 12 * 3600);
  noon.restrict_runtime = true;
  noon.from_minute = 13 * 60;
  noon.to_minute = 14 * 60;
  EXPECT_EQ(Show(NextRun(noon, Utc(2026, 11, 26))), "never");
}

TEST(ScheduleTest, RandomDelayStaysWithinItsBound) {
  Schedule s = Make(kFrequencyDaily, 0);
  s.random_delay_secs = 600;
  std::mt19937_64 rng(7);
  const TimePoint due = Utc(2026, 11, 26);
  auto lo = std::chrono::seconds::max(), hi = std::chrono::seconds::min();
  for (int i = 0; i < 2000; ++i) {
    const auto d = std::chrono::duration_cast<std::chrono::seconds>(Delay(s, due, rng) - due);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo.count(), 0);
  EXPECT_LE(hi.count(), 600);
  EXPECT_LT(lo.count(), 30);  // the whole range is used
  EXPECT_GT(hi.count(), 570);
  s.random_delay_secs = 0;
  EXPECT_EQ(Delay(s, due, rng), due);
}

TEST(ScheduleTest, ConfigRoundTripsAndOutOfRangeValuesAreNamed) {
  const Json config = {{"FrequencyType", kFrequencyWeekly},
                       {"SecondsPast", 3 * 86400 + 60},
                       {"RestrictRuntime", true},
                       {"FromTime", {{"Hour", 8}, {"Minutes", 30}}},
                       {"ToTime", {{"Hour", 24}, {"Minutes", 0}}},
                       {"RestrictDays", true},
                       {"DaysSelect", {{"Monday", true}, {"Saturday", true}}},
                       {"RandomDelaySecs", 120}};
  auto s = Schedule::FromJson(config);
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->from_minute, 510);
  EXPECT_EQ(s->to_minute, 1440);
  EXPECT_TRUE(s->days[1] && s->days[6] && !s->days[0] && !s->days[2]);
  auto again = Schedule::FromJson(s->ToJson());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ToJson(), s->ToJson());

  struct Bad {
    const char* field;
    Json value;
  };
  for (const Bad& bad :
       {Bad{"FrequencyType", 8017}, Bad{"SecondsPast", 7 * 86400}, Bad{"SecondsPast", -1},
        Bad{"RandomDelaySecs", 18001}, Bad{"FromTime", {{"Hour", 25}, {"Minutes", 0}}},
        Bad{"ToTime", {{"Hour", 24}, {"Minutes", 5}}}}) {
    Json c = config;
    c[bad.field] = bad.value;
    auto r = Schedule::FromJson(c);
    ASSERT_TRUE(FailsWith(r, ErrorCode::kInvalidArgument)) << bad.field;
  }
  EXPECT_TRUE(
      FailsWith(Schedule::FromJson({{"FrequencyType", kFrequencyPeriodic}, {"SecondsPast", 0}}),
                ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(
      Schedule::FromJson(
          {{"FrequencyType", kFrequencyYearly}, {"SelectedMonth", 13}, {"SelectedDay", 1}}),
      ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace halley::client
