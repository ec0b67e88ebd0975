// SPDX-License-Identifier: Apache-2.0
//
// Every expectation below was worked out by hand from the definitions in docs/retention.md
// (calendar facts: 2026-01-01 is a Thursday, 2026-03-01 and 2026-11-01 are Sundays, 2026-11-20
// is a Friday; ISO week 2026-W01 runs from 2025-12-29 to 2026-01-04).
#include "snapshot/retention.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

// GCC 12 warns about members a designated initializer leaves out; the tables below rely on
// exactly that to name only the rules a case uses.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace halley::snapshot {
namespace {

Time T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  HALLEY_CHECK(t.has_value());
  return *t;
}

Snapshot Snap(std::string_view time, std::vector<std::string> tags = {}) {
  Snapshot s;
  s.time = T(time);
  s.hostname = "host";
  s.paths = {"/data"};
  s.tags = std::move(tags);
  return s;
}

// "-" for a removed snapshot, else its reasons joined by " | ".
std::vector<std::string> Render(const std::vector<RetentionDecision>& decisions) {
  std::vector<std::string> out;
  for (const auto& d : decisions) {
    EXPECT_EQ(d.keep, !d.reasons.empty());
    std::string s;
    for (size_t i = 0; i < d.reasons.size(); ++i) s += (i ? " | " : "") + d.reasons[i];
    out.push_back(d.keep ? s : "-");
  }
  return out;
}

// Sets TZ for the lifetime of the object and restores the previous value.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTz() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  ScopedTz(const ScopedTz&) = delete;
  ScopedTz& operator=(const ScopedTz&) = delete;

 private:
  std::optional<std::string> old_;
};

// ---------------------------------------------------------------------------------------------
// restic's rules.

// Newest first, UTC. ISO weeks: 0-2 W11, 3-4 W10, 5 W09, 6 W07, 7 2026-W01, 8 2025-W22.
std::vector<Snapshot> SetA() {
  return {Snap("2026-03-10T12:00:00Z"), Snap("2026-03-10T08:00:00Z"), Snap("2026-03-09T23:00:00Z"),
          Snap("2026-03-08T10:00:00Z"), Snap("2026-03-02T10:00:00Z"), Snap("2026-02-28T10:00:00Z"),
          Snap("2026-02-15T10:00:00Z"), Snap("2025-12-31T23:00:00Z"), Snap("2025-06-01T00:00:00Z"),
          Snap("2024-02-29T12:00:00Z")};
}

// The two oldest share a day (the "keep the oldest while count is left" rule).
std::vector<Snapshot> SetB() {
  return {Snap("2026-03-10T12:00:00Z"), Snap("2026-03-10T08:00:00Z"), Snap("2026-03-09T10:00:00Z"),
          Snap("2026-03-09T09:00:00Z")};
}

// Across a year boundary: 2026-01-01 and 2025-12-31 are both in ISO week 2026-W01,
// 2025-12-28 (a Sunday) in 2025-W52, 2025-12-20 in 2025-W51.
std::vector<Snapshot> SetC() {
  return {Snap("2026-01-01T10:00:00Z"), Snap("2025-12-31T10:00:00Z"), Snap("2025-12-28T10:00:00Z"),
          Snap("2025-12-20T10:00:00Z")};
}

std::vector<Snapshot> WithTagA(std::vector<Snapshot> v) {
  v[0].tags = {"a"};
  return v;
}

struct ResticCase {
  const char* name;
  ResticPolicy policy;
  const char* now;
  std::vector<Snapshot> snapshots;  // newest first
  std::vector<std::string> want;
};

const std::string kLast = "last snapshot";
const std::string kHourly = "hourly snapshot";
const std::string kDaily = "daily snapshot";
const std::string kWeekly = "weekly snapshot";
const std::string kMonthly = "monthly snapshot";
const std::string kYearly = "yearly snapshot";

std::vector<ResticCase> ResticCases() {
  const char* now_a = "2026-03-11T00:00:00Z";
  return {
      {"KeepLast3",
       {.last = 3},
       now_a,
       SetA(),
       {kLast, kLast, kLast, "-", "-", "-", "-", "-", "-", "-"}},
      {"KeepLastMoreThanThereAre",
       {.last = 20},
       now_a,
       SetA(),
       {kLast, kLast, kLast, kLast, kLast, kLast, kLast, kLast, kLast, kLast}},
      {"KeepLastUnlimited",
       {.last = kUnlimited},
       now_a,
       SetA(),
       {kLast, kLast, kLast, kLast, kLast, kLast, kLast, kLast, kLast, kLast}},
      {"KeepHourly2",
       {.hourly = 2},
       now_a,
       SetA(),
       {kHourly, kHourly, "-", "-", "-", "-", "-", "-", "-", "-"}},
      {"KeepDaily3",
       {.daily = 3},
       now_a,
       SetA(),
       {kDaily, "-", kDaily, kDaily, "-", "-", "-", "-", "-", "-"}},
      {"KeepDailyUnlimited",
       {.daily = kUnlimited},
       now_a,
       SetA(),
       {kDaily, "-", kDaily, kDaily, kDaily, kDaily, kDaily, kDaily, kDaily, kDaily}},
      {"KeepWeekly3",
       {.weekly = 3},
       now_a,
       SetA(),
       {kWeekly, "-", "-", kWeekly, "-", kWeekly, "-", "-", "-", "-"}},
      {"KeepWeeklyUnlimited",
       {.weekly = kUnlimited},
       now_a,
       SetA(),
       {kWeekly, "-", "-", kWeekly, "-", kWeekly, kWeekly, kWeekly, kWeekly, kWeekly}},
      {"KeepMonthly3",
       {.monthly = 3},
       now_a,
       SetA(),
       {kMonthly, "-", "-", "-", "-", kMonthly, "-", kMonthly, "-", "-"}},
      {"KeepYearly2",
       {.yearly = 2},
       now_a,
       SetA(),
       {kYearly, "-", "-", "-", "-", "-", "-", kYearly, "-", "-"}},
      {"KeepYearlyUnlimited",
       {.yearly = kUnlimited},
       now_a,
       SetA(),
       {kYearly, "-", "-", "-", "-", "-", "-", kYearly, "-", kYearly}},
      // latest = 2026-03-10 12:00, so the window starts 2026-03-03 12:00 (exclusive).
      {"KeepWithin7d",
       {.within = {.days = 7}},
       now_a,
       SetA(),
       {"within 7d", "within 7d", "within 7d", "within 7d", "-", "-", "-", "-", "-", "-"}},
      // 2026-03-10 12:00 - 1 day - 2 hours = 2026-03-09 10:00.
      {"KeepWithinDaysAndHours",
       {.within = {.days = 1, .hours = 2}},
       now_a,
       SetA(),
       {"within 1d2h", "within 1d2h", "within 1d2h", "-", "-", "-", "-", "-", "-", "-"}},
      {"KeepWithinHourly1d",
       {.within_hourly = {.days = 1}},
       now_a,
       SetA(),
       {"hourly within 1d", "hourly within 1d", "hourly within 1d", "-", "-", "-", "-", "-", "-",
        "-"}},
      {"KeepWithinDaily3d",
       {.within_daily = {.days = 3}},
       now_a,
       SetA(),
       {"daily within 3d", "-", "daily within 3d", "daily within 3d", "-", "-", "-", "-", "-",
        "-"}},
      // Window from 2026-02-10 12:00: weeks W11, W10, W09, W07.
      {"KeepWithinWeekly1m",
       {.within_weekly = {.months = 1}},
       now_a,
       SetA(),
       {"weekly within 1m", "-", "-", "weekly within 1m", "-", "weekly within 1m",
        "weekly within 1m", "-", "-", "-"}},
      // Window from 2025-03-10 12:00: months 2026-03, 2026-02, 2025-12, 2025-06.
      {"KeepWithinMonthly1y",
       {.within_monthly = {.years = 1}},
       now_a,
       SetA(),
       {"monthly within 1y", "-", "-", "-", "-", "monthly within 1y", "-", "monthly within 1y",
        "monthly within 1y", "-"}},
      {"KeepWithinYearly5y",
       {.within_yearly = {.years = 5}},
       now_a,
       SetA(),
       {"yearly within 5y", "-", "-", "-", "-", "-", "-", "yearly within 5y", "-",
        "yearly within 5y"}},
      // Every rule keeps the newest snapshot; all reasons are listed, in restic's order.
      {"SeveralRulesKeepTheSameSnapshot",
       {.last = 1,
        .daily = 2,
        .weekly = 1,
        .monthly = 1,
        .yearly = 1,
        .within = {.days = 1},
        .keep_tags = {{"a"}}},
       now_a,
       WithTagA(SetA()),
       {"has tags [a] | within 1d | last snapshot | daily snapshot | weekly snapshot | monthly "
        "snapshot | yearly snapshot",
        "within 1d", "within 1d | daily snapshot", "-", "-", "-", "-", "-", "-", "-"}},

      {"OldestKeptWhileCountLeft",
       {.daily = 5},
       now_a,
       SetB(),
       {kDaily, "-", kDaily, "oldest daily snapshot"}},
      {"OldestNotKeptWhenCountUsedUp", {.daily = 2}, now_a, SetB(), {kDaily, "-", kDaily, "-"}},
      {"OldestKeptWithUnlimited",
       {.daily = kUnlimited},
       now_a,
       SetB(),
       {kDaily, "-", kDaily, "oldest daily snapshot"}},
      {"OldestWithinDaily",
       {.within_daily = {.days = 2}},
       now_a,
       SetB(),
       {"daily within 2d", "-", "daily within 2d", "oldest daily within 2d"}},
      {"OldestOfLastIsPlainLast", {.last = 10}, now_a, SetB(), {kLast, kLast, kLast, kLast}},
      {"HourlyUnlimited",
       {.hourly = kUnlimited},
       now_a,
       SetB(),
       {kHourly, kHourly, kHourly, kHourly}},

      {"YearBoundaryWeekly",
       {.weekly = 2},
       "2026-01-02T00:00:00Z",
       SetC(),
       {kWeekly, "-", kWeekly, "-"}},
      {"YearBoundaryYearly",
       {.yearly = 2},
       "2026-01-02T00:00:00Z",
       SetC(),
       {kYearly, kYearly, "-", "-"}},
      {"YearBoundaryMonthly",
       {.monthly = 2},
       "2026-01-02T00:00:00Z",
       SetC(),
       {kMonthly, kMonthly, "-", "-"}},
      {"YearBoundaryDaily",
       {.daily = 2},
       "2026-01-02T00:00:00Z",
       SetC(),
       {kDaily, kDaily, "-", "-"}},

      // Go's AddDate: 2026-03-31 minus one month is "2026-02-31", normalised to 2026-03-03.
      {"WithinMonthNormalisesLikeGo",
       {.within = {.months = 1}},
       "2026-04-01T00:00:00Z",
       {Snap("2026-03-31T10:00:00Z"), Snap("2026-03-03T10:00:01Z"), Snap("2026-03-03T10:00:00Z"),
        Snap("2026-03-01T12:00:00Z"), Snap("2026-02-28T12:00:00Z")},
       {"within 1m", "within 1m", "-", "-", "-"}},
      // 2024-02-29 minus one year is "2023-02-29", normalised to 2023-03-01.
      {"WithinYearFromLeapDay",
       {.within = {.years = 1}},
       "2024-03-01T00:00:00Z",
       {Snap("2024-02-29T12:00:00Z"), Snap("2023-03-01T12:00:01Z"), Snap("2023-03-01T12:00:00Z"),
        Snap("2023-02-28T13:00:00Z")},
       {"within 1y", "within 1y", "-", "-"}},

      // Snapshots after "now" are inside every window; the window counts back from the newest
      // snapshot that is not in the future (2026-03-09 12:00).
      {"FutureSnapshotsWithin",
       {.within = {.days = 2}},
       "2026-03-10T00:00:00Z",
       {Snap("2026-03-20T00:00:00Z"), Snap("2026-03-12T00:00:00Z"), Snap("2026-03-09T12:00:00Z"),
        Snap("2026-03-08T12:00:00Z"), Snap("2026-03-01T00:00:00Z")},
       {"within 2d", "within 2d", "within 2d", "within 2d", "-"}},
      {"FutureSnapshotsCountForLast",
       {.last = 2, .within = {.days = 1}},
       "2026-03-10T00:00:00Z",
       {Snap("2026-03-20T00:00:00Z"), Snap("2026-03-12T00:00:00Z"), Snap("2026-03-09T12:00:00Z"),
        Snap("2026-03-08T12:00:00Z"), Snap("2026-03-01T00:00:00Z")},
       {"within 1d | last snapshot", "within 1d | last snapshot", "within 1d", "-", "-"}},
      {"FutureSnapshotsWithinDaily",
       {.within_daily = {.days = 1}},
       "2026-03-10T00:00:00Z",
       {Snap("2026-03-20T00:00:00Z"), Snap("2026-03-12T00:00:00Z"), Snap("2026-03-09T12:00:00Z"),
        Snap("2026-03-08T12:00:00Z"), Snap("2026-03-01T00:00:00Z")},
       {"daily within 1d", "daily within 1d", "daily within 1d", "-", "-"}},
      {"AllInTheFuture",
       {.within = {.days = 1}},
       "2026-03-10T00:00:00Z",
       {Snap("2026-04-01T00:00:00Z"), Snap("2026-03-20T00:00:00Z")},
       {"within 1d", "within 1d"}},

      {"KeepTagsOrOfAnds",
       {.keep_tags = {{"a", "b"}, {"c"}}},
       now_a,
       {Snap("2026-03-10T05:00:00Z", {"a", "b"}), Snap("2026-03-10T04:00:00Z", {"a"}),
        Snap("2026-03-10T03:00:00Z", {"c", "d"}), Snap("2026-03-10T02:00:00Z", {"a", "b", "c"}),
        Snap("2026-03-10T01:00:00Z")},
       {"has tags [a, b]", "-", "has tags [c]", "has tags [a, b] | has tags [c]", "-"}},
      {"KeepTagEmptyMatchesUntagged",
       {.keep_tags = {{""}}},
       now_a,
       {Snap("2026-03-10T05:00:00Z", {"a", "b"}), Snap("2026-03-10T04:00:00Z", {"a"}),
        Snap("2026-03-10T01:00:00Z")},
       {"-", "-", "has tags []"}},
      {"EmptyPolicyKeepsNothing", {}, now_a, SetB(), {"-", "-", "-", "-"}},

      // Bucket keys use each snapshot's own offset: 2026-03-10T00:30+01:00 is on the 10th
      // although it is 2026-03-09 in UTC.
      {"DailyKeyUsesOwnOffset",
       {.daily = 2},
       now_a,
       {Snap("2026-03-10T00:30:00+01:00"), Snap("2026-03-09T23:00:00Z"),
        Snap("2026-03-08T12:00:00Z")},
       {kDaily, kDaily, "-"}},
      {"HourlyKeyUsesHalfHourOffset",
       {.hourly = 2},
       now_a,
       {Snap("2026-03-10T10:15:00+05:30"), Snap("2026-03-10T09:50:00+05:30"),
        Snap("2026-03-10T08:00:00+05:30")},
       {kHourly, kHourly, "-"}},
      {"WeeklyKeyUsesOwnOffset",
       {.weekly = 2},
       now_a,
       {Snap("2026-03-08T23:30:00-05:00"), Snap("2026-03-08T12:00:00Z"),
        Snap("2026-03-01T12:00:00Z")},
       {kWeekly, "-", kWeekly}},

      // Equal times: the element given first counts as the newer one.
      {"TiesKeepFirstGiven",
       {.last = 1},
       now_a,
       {Snap("2026-03-10T12:00:00Z", {"first"}), Snap("2026-03-10T12:00:00Z", {"second"}),
        Snap("2026-03-09T12:00:00Z")},
       {kLast, "-", "-"}},
      {"TiesDaily",
       {.daily = 1},
       now_a,
       {Snap("2026-03-10T12:00:00Z", {"second"}), Snap("2026-03-10T12:00:00Z", {"first"}),
        Snap("2026-03-09T12:00:00Z")},
       {kDaily, "-", "-"}},
  };
}

class ResticPolicyTest : public testing::TestWithParam<ResticCase> {};

TEST_P(ResticPolicyTest, KeepsWhatTheRulesSay) {
  const ResticCase& c = GetParam();
  // The process zone only matters for offsets it matches; these cases use UTC and offsets no
  // real zone near UTC has at those dates.
  ScopedTz tz("UTC");
  auto got = ApplyResticPolicy(c.snapshots, c.policy, T(c.now));
  ASSERT_TRUE(got.has_value()) << got.error().Message();
  EXPECT_EQ(Render(*got), c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, ResticPolicyTest, testing::ValuesIn(ResticCases()),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(ResticPolicy, ResultsFollowInputOrderWhateverItIs) {
  std::vector<Snapshot> oldest_first = SetA();
  std::reverse(oldest_first.begin(), oldest_first.end());
  auto got = ApplyResticPolicy(oldest_first, {.daily = 3}, T("2026-03-11T00:00:00Z"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(Render(*got),
            (std::vector<std::string>{"-", "-", "-", "-", "-", "-", kDaily, kDaily, "-", kDaily}));
}

TEST(ResticPolicy, EmptyGroup) {
  auto got = ApplyResticPolicy({}, {.last = 1}, T("2026-03-11T00:00:00Z"));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->empty());
}

// restic parses a snapshot time into the process's Local zone when the offset matches it, and
// then does AddDate there: in Berlin, 7 days before 2026-03-30 12:00 CEST is 2026-03-23 12:00
// CET (11:00Z), not 10:00Z. Checked against restic 0.14 with TZ=Europe/Berlin and TZ=UTC.
TEST(ResticPolicy, WithinFollowsGoLocalZoneAcrossDst) {
  const std::vector<Snapshot> list = {Snap("2026-03-30T12:00:00+02:00"),
                                      Snap("2026-03-23T10:30:00Z")};
  const ResticPolicy p{.within = {.days = 7}};
  const Time now = T("2026-04-01T00:00:00Z");
  {
    ScopedTz tz("Europe/Berlin");
    auto got = ApplyResticPolicy(list, p, now);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(Render(*got), (std::vector<std::string>{"within 7d", "-"}));
  }
  {
    ScopedTz tz("America/New_York");
    auto got = ApplyResticPolicy(list, p, now);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(Render(*got), (std::vector<std::string>{"within 7d", "within 7d"}));
  }
  auto fixed = ApplyResticPolicy(list, p, now, TimeZone::Fixed(7200));
  ASSERT_TRUE(fixed.has_value());
  EXPECT_EQ(Render(*fixed), (std::vector<std::string>{"within 7d", "within 7d"}));
}

// One day before 2026-03-30 02:30 CEST is 2026-03-29 02:30, which Berlin skips; Go's
// time.Date resolves it with the winter offset, to 01:30Z (03:30 CEST). Checked against
// restic 0.14: the 03:00 CEST snapshot is removed, the 03:45 one kept.
TEST(ResticPolicy, WithinCutoffInDstGapResolvedLikeGo) {
  ScopedTz tz("Europe/Berlin");
  const std::vector<Snapshot> list = {Snap("2026-03-30T02:30:00+02:00"),
                                      Snap("2026-03-29T03:45:00+02:00"),
                                      Snap("2026-03-29T03:00:00+02:00")};
  auto got = ApplyResticPolicy(list, {.within = {.days = 1}}, T("2026-04-01T00:00:00Z"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(Render(*got), (std::vector<std::string>{"within 1d", "within 1d", "-"}));
}

TEST(ResticPolicy, RefusesInvalidCountsAndDurations) {
  const std::vector<Snapshot> list = SetB();
  const Time now = T("2026-03-11T00:00:00Z");
  auto r = ApplyResticPolicy(list, {.weekly = -2}, now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);
  r = ApplyResticPolicy(list, {.within_monthly = {.days = -1}}, now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);
}

TEST(ResticPolicy, Empty) {
  EXPECT_TRUE(ResticPolicy{}.Empty());
  EXPECT_FALSE(ResticPolicy{.last = kUnlimited}.Empty());
  EXPECT_FALSE(ResticPolicy{.within_daily = {.hours = 1}}.Empty());
  EXPECT_FALSE(ResticPolicy{.keep_tags = {{""}}}.Empty());
}

TEST(ResticPolicy, StringMatchesRestic) {
  EXPECT_EQ(ResticPolicy{}.String(), "remove");
  EXPECT_EQ((ResticPolicy{.daily = 2, .keep_tags = {{"foo"}}}.String()),
            "keep 2 daily snapshots and all snapshots with tags [[foo]]");
  EXPECT_EQ((ResticPolicy{.last = 1, .within = {.days = 30}, .keep_tags = {{"foo", "bar"}, {"foo"}}}
                 .String()),
            "keep 1 latest snapshots and all snapshots with tags [[foo, bar] [foo]] and all "
            "snapshots within 30d of the newest");
  EXPECT_EQ(
      (ResticPolicy{.hourly = kUnlimited, .monthly = 6, .within_weekly = {.months = 2}}.String()),
      "keep all hourly, 6 monthly snapshots, weekly snapshots within 2m");
}

TEST(Duration, Parse) {
  EXPECT_EQ(*ParseDuration("1y2m3d4h"), (Duration{1, 2, 3, 4}));
  EXPECT_EQ(*ParseDuration(" 4h3d "), (Duration{0, 0, 3, 4}));
  EXPECT_EQ(*ParseDuration(""), Duration{});
  EXPECT_EQ(*ParseDuration("1d2d"), (Duration{0, 0, 2, 0}));
  for (const char* bad : {"5", "d", "1w", "-1d", "1d-", "99999999999d", "1 d"}) {
    auto r = ParseDuration(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ((Duration{1, 0, 14, 0}).String(), "1y14d");
  EXPECT_EQ(Duration{}.String(), "");
}

TEST(ResticPolicy, ParseCountAndTags) {
  EXPECT_EQ(*ParsePolicyCount("unlimited"), kUnlimited);
  EXPECT_EQ(*ParsePolicyCount("0"), 0);
  EXPECT_EQ(*ParsePolicyCount("12"), 12);
  for (const char* bad : {"-1", "x", "", "1.5", "99999999999"}) {
    auto r = ParsePolicyCount(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(SplitTagList("a, b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(SplitTagList(""), (std::vector<std::string>{""}));
  EXPECT_EQ(SplitTagList("a,,b"), (std::vector<std::string>{"a", "", "b"}));
}

TEST(Grouping, ParseAndKeys) {
  auto g = ParseGroupBy("host,paths");
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->host && g->paths && !g->tags);
  EXPECT_EQ(g->String(), "host,paths");
  g = ParseGroupBy("");
  ASSERT_TRUE(g.has_value());
  EXPECT_FALSE(g->host || g->paths || g->tags);
  g = ParseGroupBy("tags");
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->tags);
  EXPECT_FALSE(ParseGroupBy("host,user").has_value());

  Snapshot s = Snap("2026-03-10T12:00:00Z", {"z", "a"});
  s.paths = {"/b", "/a"};
  GroupKey k = GroupKeyOf(s, {.host = true, .paths = true, .tags = true});
  EXPECT_EQ(k.hostname, "host");
  EXPECT_EQ(k.paths, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(k.tags, (std::vector<std::string>{"a", "z"}));
  EXPECT_EQ(k.String(), "host host, path [/a /b], tags [a z]");
  EXPECT_EQ(GroupKeyOf(s, {}), GroupKey{});
}

// ---------------------------------------------------------------------------------------------
// The product's RetentionPolicy.

RetentionPolicy Ranges(std::vector<RetentionRange> ranges) {
  return {kRetentionModeDeleteExcept, std::move(ranges)};
}

int64_t Unix(std::string_view rfc3339) { return T(rfc3339).seconds; }

// Newest first, UTC; "now" is 2026-11-20 15:00 UTC, a Friday.
std::vector<Snapshot> SetP() {
  return {Snap("2026-11-21T09:00:00Z"),   // 0: in the future
          Snap("2026-11-20T14:00:00Z"),   // 1
          Snap("2026-11-20T08:00:00Z"),   // 2
          Snap("2026-11-19T23:00:00Z"),   // 3
          Snap("2026-11-19T01:00:00Z"),   // 4
          Snap("2026-11-15T10:00:00Z"),   // 5: Sunday
          Snap("2026-11-14T10:00:00Z"),   // 6: Saturday
          Snap("2026-11-01T00:00:00Z"),   // 7: Sunday
          Snap("2026-10-31T12:00:00Z"),   // 8
          Snap("2026-10-15T12:00:00Z"),   // 9
          Snap("2026-09-30T12:00:00Z"),   // 10
          Snap("2025-12-31T12:00:00Z"),   // 11
          Snap("2025-01-01T00:00:00Z")};  // 12
}

struct ProductCase {
  const char* name;
  const char* tz;  // nullptr: UTC as a fixed zone
  const char* now;
  RetentionPolicy policy;
  std::vector<Snapshot> snapshots;  // newest first
  std::vector<std::string> want;
};

const std::string kFuture = "dated in the future";

std::vector<std::string> WithP(std::initializer_list<std::pair<size_t, std::string>> kept) {
  std::vector<std::string> v(13, "-");
  v[0] = kFuture;
  for (const auto& [i, reason] : kept) v[i] = reason;
  return v;
}

std::vector<ProductCase> ProductCases() {
  const char* now_p = "2026-11-20T15:00:00Z";
  const std::string k801 = "mode 801: keep everything";
  return {
      {"Mode801KeepsEverything",
       nullptr,
       now_p,
       {kRetentionModeKeepEverything, {{.type = 900, .jobs = 1}}},
       SetP(),
       std::vector<std::string>(13, k801)},
      {"Mode802WithoutRangesKeepsOnlyTheFuture", nullptr, now_p, Ranges({}), SetP(), WithP({})},
      {"MostRecent3", nullptr, now_p, Ranges({{.type = 900, .jobs = 3}}), SetP(),
       WithP({{1, "range 900: most recent 3 backups"},
              {2, "range 900: most recent 3 backups"},
              {3, "range 900: most recent 3 backups"}})},
      {"MostRecent0", nullptr, now_p, Ranges({{.type = 900, .jobs = 0}}), SetP(), WithP({})},
      {"NewerThanIsStrict", nullptr, now_p,
       Ranges({{.type = 901, .timestamp = Unix("2026-11-19T23:00:00Z")}}), SetP(),
       WithP({{1, "range 901: newer than 2026-11-19 23:00:00"},
              {2, "range 901: newer than 2026-11-19 23:00:00"}})},
      {"SinceOneDay", nullptr, now_p, Ranges({{.type = 902, .days = 1}}), SetP(),
       WithP({{1, "range 902: since 2026-11-19 15:00:00"},
              {2, "range 902: since 2026-11-19 15:00:00"},
              {3, "range 902: since 2026-11-19 15:00:00"}})},
      {"SinceWeeksAndDaysAddUp", nullptr, now_p, Ranges({{.type = 902, .days = 1, .weeks = 1}}),
       SetP(),
       WithP({{1, "range 902: since 2026-11-12 15:00:00"},
              {2, "range 902: since 2026-11-12 15:00:00"},
              {3, "range 902: since 2026-11-12 15:00:00"},
              {4, "range 902: since 2026-11-12 15:00:00"},
              {5, "range 902: since 2026-11-12 15:00:00"},
              {6, "range 902: since 2026-11-12 15:00:00"}})},
      {"SinceOneMonth", nullptr, now_p, Ranges({{.type = 902, .months = 1}}), SetP(),
       WithP({{1, "range 902: since 2026-10-20 15:00:00"},
              {2, "range 902: since 2026-10-20 15:00:00"},
              {3, "range 902: since 2026-10-20 15:00:00"},
              {4, "range 902: since 2026-10-20 15:00:00"},
              {5, "range 902: since 2026-10-20 15:00:00"},
              {6, "range 902: since 2026-10-20 15:00:00"},
              {7, "range 902: since 2026-10-20 15:00:00"},
              {8, "range 902: since 2026-10-20 15:00:00"}})},
      {"SinceOneYear", nullptr, now_p, Ranges({{.type = 902, .years = 1}}), SetP(),
       WithP({{1, "range 902: since 2025-11-20 15:00:00"},
              {2, "range 902: since 2025-11-20 15:00:00"},
              {3, "range 902: since 2025-11-20 15:00:00"},
              {4, "range 902: since 2025-11-20 15:00:00"},
              {5, "range 902: since 2025-11-20 15:00:00"},
              {6, "range 902: since 2025-11-20 15:00:00"},
              {7, "range 902: since 2025-11-20 15:00:00"},
              {8, "range 902: since 2025-11-20 15:00:00"},
              {9, "range 902: since 2025-11-20 15:00:00"},
              {10, "range 902: since 2025-11-20 15:00:00"},
              {11, "range 902: since 2025-11-20 15:00:00"}})},
      {"SinceMaxIntYearsKeepsAll", nullptr, now_p,
       Ranges({{.type = 902, .years = kRetentionRangeMaxInt}}), SetP(),
       WithP({{1, "range 902: since the beginning of time"},
              {2, "range 902: since the beginning of time"},
              {3, "range 902: since the beginning of time"},
              {4, "range 902: since the beginning of time"},
              {5, "range 902: since the beginning of time"},
              {6, "range 902: since the beginning of time"},
              {7, "range 902: since the beginning of time"},
              {8, "range 902: since the beginning of time"},
              {9, "range 902: since the beginning of time"},
              {10, "range 902: since the beginning of time"},
              {11, "range 902: since the beginning of time"},
              {12, "range 902: since the beginning of time"}})},
      // 2026-03-31 minus one month clamps to 2026-02-28 (not Go's 2026-03-03).
      {"SinceMonthClampsToMonthEnd",
       nullptr,
       "2026-03-31T12:00:00Z",
       Ranges({{.type = 902, .months = 1}}),
       {Snap("2026-03-01T00:00:00Z"), Snap("2026-02-28T12:00:00Z"), Snap("2026-02-28T11:59:59Z")},
       {"range 902: since 2026-02-28 12:00:00", "range 902: since 2026-02-28 12:00:00", "-"}},
      {"FirstOfEachOfLast3Days", nullptr, now_p, Ranges({{.type = 903, .days = 3}}), SetP(),
       WithP({{2, "range 903: first backup of 2026-11-20"},
              {4, "range 903: first backup of 2026-11-19"}})},
      {"FirstOfToday", nullptr, now_p, Ranges({{.type = 903, .days = 1}}), SetP(),
       WithP({{2, "range 903: first backup of 2026-11-20"}})},
      {"FirstOfLast2MonthsFromThe1st", nullptr, now_p,
       Ranges({{.type = 905, .months = 2, .month_offset = 1}}), SetP(),
       WithP({{7, "range 905: first backup of month starting 2026-11-01"},
              {9, "range 905: first backup of month starting 2026-10-01"}})},
      {"FirstOfLast3MonthsFromThe15th", nullptr, now_p,
       Ranges({{.type = 905, .months = 3, .month_offset = 15}}), SetP(),
       WithP({{5, "range 905: first backup of month starting 2026-11-15"},
              {9, "range 905: first backup of month starting 2026-10-15"},
              {10, "range 905: first backup of month starting 2026-09-15"}})},
      // Day 31: November and September have none and keep nothing; October's month runs from
      // Oct 31 to Dec 31, August's from Aug 31 to Oct 31.
      {"FirstOfLast3MonthsFromThe31st", nullptr, now_p,
       Ranges({{.type = 905, .months = 3, .month_offset = 31}}), SetP(),
       WithP({{8, "range 905: first backup of month starting 2026-10-31"},
              {10, "range 905: first backup of month starting 2026-08-31"}})},
      // Day 29 in 2026: February has none. Current month: January (Jan 29 - Mar 29).
      {"MonthOffset29NonLeapFebruary",
       nullptr,
       "2026-03-10T12:00:00Z",
       Ranges({{.type = 905, .months = 2, .month_offset = 29}}),
       {Snap("2026-03-05T12:00:00Z"), Snap("2026-02-28T12:00:00Z"), Snap("2026-01-29T00:00:00Z"),
        Snap("2026-01-28T23:59:59Z"), Snap("2025-12-29T10:00:00Z"), Snap("2025-12-28T10:00:00Z")},
       {"-", "-", "range 905: first backup of month starting 2026-01-29", "-",
        "range 905: first backup of month starting 2025-12-29", "-"}},
      // On Mar 30 the last 3 months are March (no backup yet), February (no day 29: nothing)
      // and January.
      {"MonthWithoutTheDayCountsButKeepsNothing",
       nullptr,
       "2026-03-30T12:00:00Z",
       Ranges({{.type = 905, .months = 3, .month_offset = 29}}),
       {Snap("2026-03-05T12:00:00Z"), Snap("2026-02-28T12:00:00Z"), Snap("2026-01-29T00:00:00Z"),
        Snap("2026-01-28T23:59:59Z"), Snap("2025-12-29T10:00:00Z"), Snap("2025-12-28T10:00:00Z")},
       {"-", "-", "range 905: first backup of month starting 2026-01-29", "-", "-", "-"}},
      {"MonthOffset29LeapFebruary",
       nullptr,
       "2024-03-10T12:00:00Z",
       Ranges({{.type = 905, .months = 1, .month_offset = 29}}),
       {Snap("2024-03-01T00:00:00Z"), Snap("2024-02-29T06:00:00Z"), Snap("2024-02-28T12:00:00Z")},
       {"-", "range 905: first backup of month starting 2024-02-29", "-"}},
      {"MonthOffset30SkipsFebruary",
       nullptr,
       "2026-04-05T12:00:00Z",
       Ranges({{.type = 905, .months = 3, .month_offset = 30}}),
       {Snap("2026-04-01T12:00:00Z"), Snap("2026-03-30T08:00:00Z"), Snap("2026-03-29T12:00:00Z"),
        Snap("2026-02-15T12:00:00Z"), Snap("2026-01-30T00:00:00Z"), Snap("2026-01-29T12:00:00Z")},
       {"-", "range 905: first backup of month starting 2026-03-30", "-", "-",
        "range 905: first backup of month starting 2026-01-30", "-"}},
      {"FirstOfLast2WeeksFromSunday", nullptr, now_p,
       Ranges({{.type = 906, .weeks = 2, .week_offset = 0}}), SetP(),
       WithP({{5, "range 906: first backup of week starting 2026-11-15"},
              {6, "range 906: first backup of week starting 2026-11-08"}})},
      {"FirstOfLast2WeeksFromSaturday", nullptr, now_p,
       Ranges({{.type = 906, .weeks = 2, .week_offset = 6}}), SetP(),
       WithP({{6, "range 906: first backup of week starting 2026-11-14"}})},
      {"FirstOfLast3WeeksFromMonday", nullptr, now_p,
       Ranges({{.type = 906, .weeks = 3, .week_offset = 1}}), SetP(),
       WithP({{4, "range 906: first backup of week starting 2026-11-16"},
              {6, "range 906: first backup of week starting 2026-11-09"}})},
      {"FirstOfLast2Years", nullptr, now_p, Ranges({{.type = 911, .years = 2}}), SetP(),
       WithP({{10, "range 911: first backup of year starting 2026-01-01"},
              {12, "range 911: first backup of year starting 2025-01-01"}})},
      {"FirstOfLast2YearsFromNovember", nullptr, now_p,
       Ranges({{.type = 911, .years = 2, .year_offset = 10}}), SetP(),
       WithP({{7, "range 911: first backup of year starting 2026-11-01"},
              {11, "range 911: first backup of year starting 2025-11-01"}})},
      {"Last3OnePerDay", nullptr, now_p, Ranges({{.type = 907, .jobs = 3}}), SetP(),
       WithP({{1, "range 907: last backup of 2026-11-20"},
              {3, "range 907: last backup of 2026-11-19"},
              {5, "range 907: last backup of 2026-11-15"}})},
      {"Last2OnePerIsoWeek", nullptr, now_p, Ranges({{.type = 908, .jobs = 2}}), SetP(),
       WithP({{1, "range 908: last backup of week 2026-W47"},
              {5, "range 908: last backup of week 2026-W46"}})},
      {"Last3OnePerMonth", nullptr, now_p, Ranges({{.type = 909, .jobs = 3}}), SetP(),
       WithP({{1, "range 909: last backup of 2026-11"},
              {8, "range 909: last backup of 2026-10"},
              {10, "range 909: last backup of 2026-09"}})},
      {"Last2OnePerYear", nullptr, now_p, Ranges({{.type = 910, .jobs = 2}}), SetP(),
       WithP({{1, "range 910: last backup of 2026"}, {11, "range 910: last backup of 2025"}})},
      {"MaxIntOnePerDay", nullptr, now_p, Ranges({{.type = 907, .jobs = kRetentionRangeMaxInt}}),
       SetP(),
       WithP({{1, "range 907: last backup of 2026-11-20"},
              {3, "range 907: last backup of 2026-11-19"},
              {5, "range 907: last backup of 2026-11-15"},
              {6, "range 907: last backup of 2026-11-14"},
              {7, "range 907: last backup of 2026-11-01"},
              {8, "range 907: last backup of 2026-10-31"},
              {9, "range 907: last backup of 2026-10-15"},
              {10, "range 907: last backup of 2026-09-30"},
              {11, "range 907: last backup of 2025-12-31"},
              {12, "range 907: last backup of 2025-01-01"}})},
      {"SeveralRangesKeepTheSameSnapshot", nullptr, now_p,
       Ranges({{.type = 900, .jobs = 1},
               {.type = 907, .jobs = 1},
               {.type = 903, .days = 1},
               {.type = 909, .jobs = 1},
               {.type = 910, .jobs = 1}}),
       SetP(),
       WithP({{1,
               "range 900: most recent 1 backups | range 907: last backup of 2026-11-20 | "
               "range 909: last backup of 2026-11 | range 910: last backup of 2026"},
              {2, "range 903: first backup of 2026-11-20"}})},
      // The device zone decides the day, not the offset a snapshot was written with.
      {"DayOfSnapshotWithOtherOffset",
       nullptr,
       now_p,
       Ranges({{.type = 903, .days = 1}}),
       {Snap("2026-11-20T10:00:00Z"), Snap("2026-11-20T01:00:00+05:00")},
       {"range 903: first backup of 2026-11-20", "-"}},
      // Equal times: the element given first counts as the newer one.
      {"Ties",
       nullptr,
       now_p,
       Ranges({{.type = 900, .jobs = 1}, {.type = 903, .days = 1}}),
       {Snap("2026-11-20T10:00:00Z", {"first"}), Snap("2026-11-20T10:00:00Z", {"second"})},
       {"range 900: most recent 1 backups", "range 903: first backup of 2026-11-20"}},

      // New York: 2026-11-01 has 25 hours (01:00-02:00 twice), 2026-03-08 has 23.
      {"NewYorkDaysAcrossFallBack",
       "America/New_York",
       "2026-11-02T12:00:00-05:00",
       Ranges({{.type = 903, .days = 2}}),
       {Snap("2026-11-02T00:30:00-05:00"), Snap("2026-11-01T23:30:00-05:00"),
        Snap("2026-11-01T01:10:00-05:00"), Snap("2026-11-01T01:30:00-04:00"),
        Snap("2026-11-01T00:30:00-04:00"), Snap("2026-10-31T23:30:00-04:00")},
       {"range 903: first backup of 2026-11-02", "-", "-", "-",
        "range 903: first backup of 2026-11-01", "-"}},
      {"NewYorkSinceIsCalendarDaysNot48Hours",
       "America/New_York",
       "2026-11-02T12:00:00-05:00",
       Ranges({{.type = 902, .days = 2}}),
       {Snap("2026-11-01T12:00:00-05:00"), Snap("2026-10-31T12:30:00-04:00"),
        Snap("2026-10-31T11:59:59-04:00")},
       {"range 902: since 2026-10-31 12:00:00", "range 902: since 2026-10-31 12:00:00", "-"}},
      // 02:30 on 2026-03-08 does not exist: the window starts at the jump (03:00 EDT).
      {"NewYorkSinceIntoTheGap",
       "America/New_York",
       "2026-03-09T02:30:00-04:00",
       Ranges({{.type = 902, .days = 1}}),
       {Snap("2026-03-08T03:00:00-04:00"), Snap("2026-03-08T01:59:59-05:00")},
       {"range 902: since 2026-03-08 03:00:00", "-"}},
      // 01:30 on 2026-11-01 happens twice: the window starts at the first (EDT).
      {"NewYorkSinceAmbiguousTime",
       "America/New_York",
       "2026-11-02T01:30:00-05:00",
       Ranges({{.type = 902, .days = 1}}),
       {Snap("2026-11-01T01:10:00-05:00"), Snap("2026-11-01T01:40:00-04:00"),
        Snap("2026-11-01T01:30:00-04:00"), Snap("2026-11-01T01:20:00-04:00")},
       {"range 902: since 2026-11-01 01:30:00", "range 902: since 2026-11-01 01:30:00",
        "range 902: since 2026-11-01 01:30:00", "-"}},
      {"NewYorkOnePerDayAcrossSpringForward",
       "America/New_York",
       "2026-03-09T12:00:00-04:00",
       Ranges({{.type = 907, .jobs = 2}}),
       {Snap("2026-03-09T00:30:00-04:00"), Snap("2026-03-08T23:30:00-04:00"),
        Snap("2026-03-08T00:30:00-05:00")},
       {"range 907: last backup of 2026-03-09", "range 907: last backup of 2026-03-08", "-"}},
      // Berlin: 2026-03-29 has 23 hours.
      {"BerlinWeeksAcrossSpringForward",
       "Europe/Berlin",
       "2026-03-30T10:00:00+02:00",
       Ranges({{.type = 906, .weeks = 2, .week_offset = 1}}),
       {Snap("2026-03-30T00:10:00+02:00"), Snap("2026-03-29T23:50:00+02:00"),
        Snap("2026-03-23T00:05:00+01:00"), Snap("2026-03-22T23:55:00+01:00")},
       {"range 906: first backup of week starting 2026-03-30", "-",
        "range 906: first backup of week starting 2026-03-23", "-"}},
      {"BerlinFirstOfShortDay",
       "Europe/Berlin",
       "2026-03-29T23:30:00+02:00",
       Ranges({{.type = 903, .days = 1}}),
       {Snap("2026-03-29T12:00:00+02:00"), Snap("2026-03-29T00:30:00+01:00"),
        Snap("2026-03-28T23:30:00+01:00")},
       {"-", "range 903: first backup of 2026-03-29", "-"}},
      // Lord Howe: +11:00 in summer, +10:30 in winter; 2026-04-05 has 24.5 hours, 2026-10-04
      // has 23.5 (02:00-02:30 is skipped).
      {"LordHoweFirstOfLongDay",
       "Australia/Lord_Howe",
       "2026-04-05T23:00:00+10:30",
       Ranges({{.type = 903, .days = 1}}),
       {Snap("2026-04-05T12:00:00+10:30"), Snap("2026-04-05T00:15:00+11:00"),
        Snap("2026-04-04T23:50:00+11:00")},
       {"-", "range 903: first backup of 2026-04-05", "-"}},
      {"LordHoweSinceAcrossHalfHourFallBack",
       "Australia/Lord_Howe",
       "2026-04-05T12:00:00+10:30",
       Ranges({{.type = 902, .days = 1}}),
       {Snap("2026-04-04T12:10:00+11:00"), Snap("2026-04-04T11:50:00+11:00")},
       {"range 902: since 2026-04-04 12:00:00", "-"}},
      {"LordHoweSinceIntoHalfHourGap",
       "Australia/Lord_Howe",
       "2026-10-05T02:15:00+11:00",
       Ranges({{.type = 902, .days = 1}}),
       {Snap("2026-10-04T02:30:00+11:00"), Snap("2026-10-04T01:59:00+10:30")},
       {"range 902: since 2026-10-04 02:30:00", "-"}},
  };
}

class RetentionPolicyTest : public testing::TestWithParam<ProductCase> {};

TEST_P(RetentionPolicyTest, KeepsWhatTheRangesSay) {
  const ProductCase& c = GetParam();
  std::optional<ScopedTz> scoped;
  if (c.tz != nullptr) scoped.emplace(c.tz);
  const TimeZone tz = c.tz != nullptr ? TimeZone::Local() : TimeZone::Fixed(0);
  auto got = ApplyRetentionPolicy(c.snapshots, c.policy, T(c.now), tz);
  ASSERT_TRUE(got.has_value()) << got.error().Message();
  EXPECT_EQ(Render(*got), c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, RetentionPolicyTest, testing::ValuesIn(ProductCases()),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(RetentionPolicy, ZoneChangesTheAnswer) {
  // The same instants under a fixed UTC zone: 2026-11-02T04:30Z is already Nov 2.
  const std::vector<Snapshot> list = {
      Snap("2026-11-02T00:30:00-05:00"), Snap("2026-11-01T23:30:00-05:00"),
      Snap("2026-11-01T01:10:00-05:00"), Snap("2026-11-01T01:30:00-04:00"),
      Snap("2026-11-01T00:30:00-04:00"), Snap("2026-10-31T23:30:00-04:00")};
  auto got = ApplyRetentionPolicy(list, Ranges({{.type = 903, .days = 2}}),
                                  T("2026-11-02T12:00:00-05:00"), TimeZone::Fixed(0));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(Render(*got),
            (std::vector<std::string>{"-", "range 903: first backup of 2026-11-02", "-", "-", "-",
                                      "range 903: first backup of 2026-11-01"}));
}

TEST(RetentionPolicy, ScopedTzRestoresTheZone) {
  const char* before = getenv("TZ");
  std::optional<std::string> saved = before ? std::optional<std::string>(before) : std::nullopt;
  {
    ScopedTz tz("Australia/Lord_Howe");
    EXPECT_EQ(TimeZone::Local().OffsetAt(Unix("2026-01-01T00:00:00Z")), 11 * 3600);
    EXPECT_EQ(TimeZone::Local().OffsetAt(Unix("2026-07-01T00:00:00Z")), 10 * 3600 + 1800);
  }
  const char* after = getenv("TZ");
  EXPECT_EQ(saved.has_value(), after != nullptr);
  if (saved && after) {
    EXPECT_EQ(*saved, after);
  }
}

TEST(RetentionPolicy, RefusesInvalidPolicies) {
  const std::vector<Snapshot> list = SetP();
  auto r = ApplyRetentionPolicy(list, Ranges({{.type = 904, .days = 1}}), T("2026-11-20T15:00:00Z"),
                                TimeZone::Fixed(0));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().Code(), ErrorCode::kInvalidArgument);
}

TEST(RetentionPolicyJson, DecodesTheProductShape) {
  auto p = DecodeRetentionPolicy(
      R"({"Mode":802,"Ranges":[{"Type":900,"Timestamp":0,"Jobs":5,"Days":0,"Weeks":0,)"
      R"("Months":0,"Years":0,"WeekOffset":0,"MonthOffset":0,"YearOffset":0},)"
      R"({"Type":905,"Months":12,"MonthOffset":31},{"Type":906,"Weeks":4,"WeekOffset":6},)"
      R"({"Type":911,"Years":3,"YearOffset":3},{"Type":901,"Timestamp":1767225600}]})");
  ASSERT_TRUE(p.has_value()) << p.error().Message();
  EXPECT_EQ(p->mode, 802);
  ASSERT_EQ(p->ranges.size(), 5u);
  EXPECT_EQ(p->ranges[0], (RetentionRange{.type = 900, .jobs = 5}));
  EXPECT_EQ(p->ranges[1], (RetentionRange{.type = 905, .months = 12, .month_offset = 31}));
  EXPECT_EQ(p->ranges[2], (RetentionRange{.type = 906, .weeks = 4, .week_offset = 6}));
  EXPECT_EQ(p->ranges[3], (RetentionRange{.type = 911, .years = 3, .year_offset = 3}));
  EXPECT_EQ(p->ranges[4], (RetentionRange{.type = 901, .timestamp = 1767225600}));
}

TEST(RetentionPolicyJson, EncodesEveryFieldInOrderAndRoundTrips) {
  RetentionPolicy p =
      Ranges({{.type = 903, .days = 7}, {.type = 905, .months = 2, .month_offset = 1}});
  const std::string want =
      R"({"Mode":802,"Ranges":[{"Type":903,"Timestamp":0,"Jobs":0,"Days":7,"Weeks":0,)"
      R"("Months":0,"Years":0,"WeekOffset":0,"MonthOffset":0,"YearOffset":0},)"
      R"({"Type":905,"Timestamp":0,"Jobs":0,"Days":0,"Weeks":0,"Months":2,"Years":0,)"
      R"("WeekOffset":0,"MonthOffset":1,"YearOffset":0}]})";
  EXPECT_EQ(EncodeRetentionPolicy(p), want);
  auto back = DecodeRetentionPolicy(want);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, p);
  EXPECT_EQ(EncodeRetentionPolicy(RetentionPolicy{}), R"({"Mode":801,"Ranges":[]})");
}

TEST(RetentionPolicyJson, NullOrMissingRangesAreEmpty) {
  auto p = DecodeRetentionPolicy(R"({"Mode":801,"Ranges":null})");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->ranges.empty());
  p = DecodeRetentionPolicy(R"({"Mode":802})");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->mode, 802);
}

TEST(RetentionPolicyJson, Mode801IgnoresItsRanges) {
  // Keep-everything must never fail because of leftovers, even a deprecated 904.
  auto p = DecodeRetentionPolicy(R"({"Mode":801,"Ranges":[{"Type":904,"Days":3}]})");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->ranges.size(), 1u);
}

TEST(RetentionPolicyJson, IsStrict) {
  for (const char* bad : {
           R"(not json)",
           R"([])",
           R"({"Ranges":[]})",
           R"({"Mode":803,"Ranges":[]})",
           R"({"Mode":"802"})",
           R"({"Mode":802,"Extra":1})",
           R"({"Mode":802,"Ranges":{}})",
           R"({"Mode":802,"Ranges":[5]})",
           R"({"Mode":802,"Ranges":[{"Type":904,"Days":3}]})",
           R"({"Mode":802,"Ranges":[{"Type":899}]})",
           R"({"Mode":802,"Ranges":[{"Type":912}]})",
           R"({"Mode":802,"Ranges":[{"Jobs":3}]})",
           R"({"Mode":802,"Ranges":[{"Type":900,"Jobs":-1}]})",
           R"({"Mode":802,"Ranges":[{"Type":902,"Days":-1}]})",
           R"({"Mode":802,"Ranges":[{"Type":900,"Jobs":1125899906842625}]})",
           R"({"Mode":802,"Ranges":[{"Type":900,"Jobs":18446744073709551615}]})",
           R"({"Mode":802,"Ranges":[{"Type":900,"Jobs":"5"}]})",
           R"({"Mode":802,"Ranges":[{"Type":900,"Jobs":5.5}]})",
           R"({"Mode":802,"Ranges":[{"Type":900,"Job":5}]})",
           R"({"Mode":802,"Ranges":[{"Type":906,"Weeks":1,"WeekOffset":7}]})",
           R"({"Mode":802,"Ranges":[{"Type":906,"Weeks":1,"WeekOffset":-1}]})",
           R"({"Mode":802,"Ranges":[{"Type":905,"Months":1}]})",
           R"({"Mode":802,"Ranges":[{"Type":905,"Months":1,"MonthOffset":32}]})",
           R"({"Mode":802,"Ranges":[{"Type":911,"Years":1,"YearOffset":12}]})",
       }) {
    auto p = DecodeRetentionPolicy(bad);
    ASSERT_FALSE(p.has_value()) << bad;
    EXPECT_EQ(p.error().Code(), ErrorCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace halley::snapshot
