// SPDX-License-Identifier: Apache-2.0
#include "snapshot/retention.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <numeric>
#include <optional>
#include <set>

namespace halley::snapshot {
namespace {

// Go's zero time.Time (0001-01-01 00:00:00 UTC): restic's "latest" before any snapshot counts.
constexpr int64_t kGoZeroTimeSeconds = -62135596800;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of year y, month m (any integer, normalised into the year as Go's
// time.Date does), day 1.
int64_t DayOfMonthStart(int64_t y, int64_t m) {
  int64_t m0 = m - 1;
  y += FloorDiv(m0, 12);
  m0 = FloorMod(m0, 12);
  return DaysFromCivil(y, static_cast<unsigned>(m0 + 1), 1);
}

struct Date {
  int64_t year;
  int month, day;
};

Date DateOfDay(int64_t day) {
  CivilTime c = ToCivil(Time{day * 86400, 0, 0});
  return {c.year, c.month, c.day};
}

std::string FormatDate(const Date& d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d", static_cast<long long>(d.year), d.month,
                d.day);
  return buf;
}

// The civil day number of instant `seconds` at UTC offset `offset`.
int64_t DayAt(int64_t seconds, int32_t offset) { return FloorDiv(seconds + offset, 86400); }

// ISO 8601 week (Monday first; week 1 holds the year's first Thursday) of a civil day, as
// year*100 + week, which is restic's weekly bucket key.
int64_t IsoWeekKey(int64_t day) {
  int64_t monday_based = FloorMod(day + 3, 7);  // 1970-01-01 was a Thursday
  int64_t thursday = day - monday_based + 3;
  int64_t year = DateOfDay(thursday).year;
  int64_t week = (thursday - DaysFromCivil(year, 1, 1)) / 7 + 1;
  return year * 100 + week;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// Stable order of indexes, newest first.
std::vector<size_t> NewestFirst(std::span<const Snapshot> list) {
  std::vector<size_t> order(list.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return list[a].time > list[b].time; });
  return order;
}

// ---- restic ----

std::string TagListString(const std::vector<std::string>& l) { return "[" + Join(l, ", ") + "]"; }

bool HasTags(const Snapshot& s, const std::vector<std::string>& l) {
  for (const auto& tag : l) {
    if (tag.empty() && s.tags.empty()) return true;
    if (std::find(s.tags.begin(), s.tags.end(), tag) == s.tags.end()) return false;
  }
  return true;
}

// The instant of local civil time `local` (seconds since 1970-01-01 00:00 as if UTC) in zone
// `tz` exactly as Go's time.Date resolves it: one lookup at `local`, a second one at the guess.
int64_t GoLocalToUnix(int64_t local, const TimeZone& tz) {
  return local - tz.OffsetAt(local - tz.OffsetAt(local));
}

// Go's t.AddDate(-years, -months, -days).Add(-hours h) for a snapshot time `t` that Go parsed
// from RFC 3339: Go gives such a time the process's Local zone when its offset is the local
// offset at that instant ("Z" always means UTC), else a fixed zone. The calendar arithmetic
// then happens in that zone.
Time GoSubtract(const Time& t, const Duration& d, const TimeZone& local) {
  CivilTime c = ToCivil(t);
  int64_t day = DayOfMonthStart(static_cast<int64_t>(c.year) - d.years,
                                static_cast<int64_t>(c.month) - d.months) +
                (c.day - 1) - d.days;
  int64_t wall = day * 86400 + c.hour * 3600 + c.minute * 60 + c.second;
  bool in_local = t.utc_offset != 0 && local.OffsetAt(t.seconds) == t.utc_offset;
  int64_t unix = in_local ? GoLocalToUnix(wall, local) : wall - t.utc_offset;
  unix -= static_cast<int64_t>(d.hours) * 3600;
  return Time{unix, t.nanos, t.utc_offset};
}

enum class Period { kAlways, kHour, kDay, kWeek, kMonth, kYear };

// restic's bucket keys, in the snapshot's own UTC offset.
int64_t ResticKey(Period p, const Time& t, size_t nr) {
  CivilTime c = ToCivil(t);
  switch (p) {
    case Period::kAlways:
      return static_cast<int64_t>(nr);
    case Period::kHour:
      return static_cast<int64_t>(c.year) * 1000000 + c.month * 10000 + c.day * 100 + c.hour;
    case Period::kDay:
      return static_cast<int64_t>(c.year) * 10000 + c.month * 100 + c.day;
    case Period::kWeek:
      return IsoWeekKey(DayAt(t.seconds, t.utc_offset));
    case Period::kMonth:
      return static_cast<int64_t>(c.year) * 100 + c.month;
    case Period::kYear:
      return c.year;
  }
  return 0;
}

// ---- the product's policy ----

// The earliest instant whose civil time in `tz` is at or after `local` (seconds since
// 1970-01-01 00:00 as if UTC). For an ambiguous time (a DST fall-back repeats it) that is the
// first occurrence; for a time that does not exist (spring forward skips it) it is the instant
// of the transition.
int64_t FirstInstantAtOrAfter(int64_t local, const TimeZone& tz) {
  // The instant sought lies within [local - 26 h, local + 26 h]; collect the offsets in force
  // there (zones change offset at most a few times a year).
  std::set<int32_t> offsets;
  for (int64_t h = -27; h <= 27; ++h) offsets.insert(tz.OffsetAt(local + h * 3600));
  std::optional<int64_t> best;
  for (int32_t o : offsets) {
    int64_t u = local - o;
    if (tz.OffsetAt(u) == o && (!best || u < *best)) best = u;
  }
  if (best) return *best;
  // A gap: find the transition, the first u with civil time u + offset(u) >= local.
  int64_t lo = local - *offsets.rbegin();  // civil time before `local`
  int64_t hi = local - *offsets.begin();   // civil time after it
  while (lo + 1 < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (mid + tz.OffsetAt(mid) >= local) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

int64_t LocalDay(const Time& t, const TimeZone& tz) {
  return DayAt(t.seconds, tz.OffsetAt(t.seconds));
}

// 905: the calendar month (year*12 + month-1) whose retention month contains `day`: the latest
// month with a day `month_offset` that begins on or before `day`.
int64_t RetentionMonthOf(int64_t day, int month_offset) {
  Date d = DateOfDay(day);
  int64_t index = d.year * 12 + (d.month - 1);
  if (d.day >= month_offset) return index;
  for (;;) {
    --index;
    if (DaysInMonth(FloorDiv(index, 12), static_cast<int>(FloorMod(index, 12)) + 1) >=
        month_offset) {
      return index;
    }
  }
}

// 906: the first day (a `week_offset` weekday; 0 = Sunday) of the week holding `day`.
int64_t WeekStartOf(int64_t day, int week_offset) {
  int64_t weekday = FloorMod(day + 4, 7);  // 1970-01-01 was a Thursday (4)
  return day - FloorMod(weekday - week_offset, 7);
}

// 911: the year whose retention year (starting on the first of month year_offset+1) holds
// `day`.
int64_t RetentionYearOf(int64_t day, int year_offset) {
  Date d = DateOfDay(day);
  return d.month >= year_offset + 1 ? d.year : d.year - 1;
}

std::string RangeReason(int type, const std::string& text) {
  return "range " + std::to_string(type) + ": " + text;
}

// 902: the start of the window, or nullopt when it reaches back further than the calendar
// handles (which keeps everything).
std::optional<int64_t> SinceCutoff(const RetentionRange& r, const Time& now, const TimeZone& tz) {
  constexpr int64_t kMaxYears = 100000;
  if (r.years > kMaxYears || r.months > kMaxYears * 12 || r.weeks > kMaxYears * 53 ||
      r.days > kMaxYears * 366) {
    return std::nullopt;
  }
  Time local_now = tz.In(now);
  CivilTime c = ToCivil(local_now);
  int64_t y = static_cast<int64_t>(c.year) - r.years;
  int64_t month_index = y * 12 + (c.month - 1) - r.months;
  y = FloorDiv(month_index, 12);
  int m = static_cast<int>(FloorMod(month_index, 12)) + 1;
  // A month without the day clamps to its last day (Mar 31 - 1 month = Feb 28 or 29).
  int dd = std::min(c.day, DaysInMonth(y, m));
  int64_t day =
      DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(dd)) - r.days - 7 * r.weeks;
  int64_t wall = day * 86400 + c.hour * 3600 + c.minute * 60 + c.second;
  return FirstInstantAtOrAfter(wall, tz);
}

void AddReason(std::vector<RetentionDecision>& out, size_t i, std::string reason) {
  out[i].keep = true;
  out[i].reasons.push_back(std::move(reason));
}

// Keeps the first (oldest) snapshot of each period whose label lies in the window.
// `past` is newest first; `label` returns nullopt outside the window.
template <class LabelFn, class ReasonFn>
void KeepFirstPerPeriod(const std::vector<size_t>& past, std::span<const Snapshot> list,
                        std::vector<RetentionDecision>& out, LabelFn label, ReasonFn reason) {
  std::set<int64_t> seen;
  for (auto it = past.rbegin(); it != past.rend(); ++it) {
    std::optional<int64_t> l = label(list[*it].time);
    if (!l || !seen.insert(*l).second) continue;
    AddReason(out, *it, reason(*l));
  }
}

// Keeps the newest snapshot of each of the newest `jobs` periods that have snapshots.
template <class KeyFn, class ReasonFn>
void KeepLastPerPeriod(const std::vector<size_t>& past, std::span<const Snapshot> list,
                       int64_t jobs, std::vector<RetentionDecision>& out, KeyFn key,
                       ReasonFn reason) {
  std::optional<int64_t> last;
  int64_t kept = 0;
  for (size_t i : past) {
    if (kept >= jobs) break;
    int64_t k = key(list[i].time);
    if (last && *last == k) continue;
    last = k;
    ++kept;
    AddReason(out, i, reason(k));
  }
}

Result<int64_t> MemberInt(const Json& obj, const std::string& name, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return int64_t{0};
  if (it->is_number_unsigned()) {
    if (it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return Fail(ErrorCode::kInvalidArgument, where + name + ": number out of range");
    }
    return static_cast<int64_t>(it->get<uint64_t>());
  }
  if (!it->is_number_integer()) {
    return Fail(ErrorCode::kInvalidArgument, where + name + ": not an integer");
  }
  return it->get<int64_t>();
}

Result<int> MemberSmallInt(const Json& obj, const std::string& name, const std::string& where) {
  HALLEY_ASSIGN_OR_RETURN(int64_t v, MemberInt(obj, name, where));
  if (v < INT_MIN || v > INT_MAX) {
    return Fail(ErrorCode::kInvalidArgument, where + name + ": number out of range");
  }
  return static_cast<int>(v);
}

Result<void> OnlyMembers(const Json& obj, std::initializer_list<std::string_view> names,
                         const std::string& where) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(names.begin(), names.end(), it.key()) == names.end()) {
      return Fail(ErrorCode::kInvalidArgument, where + "unknown member \"" + it.key() + "\"");
    }
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TimeZone TimeZone::Local() { return TimeZone(true, 0); }
TimeZone TimeZone::Fixed(int32_t utc_offset) { return TimeZone(false, utc_offset); }

int32_t TimeZone::OffsetAt(int64_t unix_seconds) const {
  if (!local_) return offset_;
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  if (localtime_r(&t, &tm) == nullptr) return 0;
  return static_cast<int32_t>(tm.tm_gmtoff);
}

// ---- restic ----

std::string Duration::String() const {
  std::string s;
  if (years != 0) s += std::to_string(years) + "y";
  if (months != 0) s += std::to_string(months) + "m";
  if (days != 0) s += std::to_string(days) + "d";
  if (hours != 0) s += std::to_string(hours) + "h";
  return s;
}

Result<Duration> ParseDuration(std::string_view text) {
  const std::string quoted = "invalid duration \"" + std::string(text) + "\": ";
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  Duration d;
  size_t i = 0;
  while (i < text.size()) {
    bool negative = text[i] == '-';
    if (negative) ++i;
    size_t start = i;
    int64_t num = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      num = num * 10 + (text[i] - '0');
      if (num > INT_MAX) return Fail(ErrorCode::kInvalidArgument, quoted + "number too large");
      ++i;
    }
    if (i == start) return Fail(ErrorCode::kInvalidArgument, quoted + "no number found");
    if (negative) {
      return Fail(ErrorCode::kInvalidArgument,
                  quoted + "durations containing negative values are not allowed");
    }
    if (i == text.size()) {
      return Fail(ErrorCode::kInvalidArgument,
                  quoted + "no unit found after number " + std::to_string(num));
    }
    int n = static_cast<int>(num);
    switch (text[i]) {
      case 'y':
        d.years = n;
        break;
      case 'm':
        d.months = n;
        break;
      case 'd':
        d.days = n;
        break;
      case 'h':
        d.hours = n;
        break;
      default:
        return Fail(ErrorCode::kInvalidArgument, quoted + "invalid unit '" +
                                                     std::string(1, text[i]) +
                                                     "' found after number " + std::to_string(n));
    }
    ++i;
  }
  return d;
}

bool ResticPolicy::Empty() const {
  return keep_tags.empty() && last == 0 && hourly == 0 && daily == 0 && weekly == 0 &&
         monthly == 0 && yearly == 0 && within.Zero() && within_hourly.Zero() &&
         within_daily.Zero() && within_weekly.Zero() && within_monthly.Zero() &&
         within_yearly.Zero();
}

std::string ResticPolicy::String() const {
  std::vector<std::string> keeps, keepw;
  const std::pair<int, const char*> counts[] = {{last, "latest"},     {hourly, "hourly"},
                                                {daily, "daily"},     {weekly, "weekly"},
                                                {monthly, "monthly"}, {yearly, "yearly"}};
  for (const auto& [count, name] : counts) {
    if (count > 0) {
      keeps.push_back(std::to_string(count) + " " + name);
    } else if (count == kUnlimited) {
      keeps.push_back(std::string("all ") + name);
    }
  }
  const std::pair<const Duration*, const char*> withins[] = {{&within_hourly, "hourly"},
                                                             {&within_daily, "daily"},
                                                             {&within_weekly, "weekly"},
                                                             {&within_monthly, "monthly"},
                                                             {&within_yearly, "yearly"}};
  for (const auto& [d, name] : withins) {
    if (!d->Zero()) keepw.push_back(std::string(name) + " snapshots within " + d->String());
  }
  std::string s;
  if (!keeps.empty()) s = Join(keeps, ", ") + " snapshots";
  if (!keepw.empty()) {
    if (!s.empty()) s += ", ";
    s += Join(keepw, ", ");
  }
  if (!keep_tags.empty()) {
    if (!s.empty()) s += " and ";
    std::vector<std::string> lists;
    for (const auto& l : keep_tags) lists.push_back(TagListString(l));
    s += "all snapshots with tags [" + Join(lists, " ") + "]";
  }
  if (!within.Zero()) {
    if (!s.empty()) s += " and ";
    s += "all snapshots within " + within.String() + " of the newest";
  }
  return s.empty() ? "remove" : "keep " + s;
}

Result<int> ParsePolicyCount(std::string_view text) {
  if (text == "unlimited") return kUnlimited;
  std::string_view digits = text;
  bool negative = false;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid count \"" + std::string(text) + "\": a number or \"unlimited\"");
  }
  int64_t v = 0;
  for (char c : digits) {
    v = v * 10 + (c - '0');
    if (v > INT_MAX) {
      return Fail(ErrorCode::kInvalidArgument,
                  "invalid count \"" + std::string(text) + "\": too large (use \"unlimited\")");
    }
  }
  if (negative && v != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid count \"" + std::string(text) +
                    "\": negative values not allowed, use 'unlimited' instead");
  }
  return static_cast<int>(v);
}

std::vector<std::string> SplitTagList(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    size_t j = text.find(',', i);
    std::string_view t =
        text.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
    out.emplace_back(t);
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

Result<std::vector<RetentionDecision>> ApplyResticPolicy(std::span<const Snapshot> group,
                                                         const ResticPolicy& p, Time now,
                                                         const TimeZone& local) {
  for (int c : {p.last, p.hourly, p.daily, p.weekly, p.monthly, p.yearly}) {
    if (c < kUnlimited) {
      return Fail(ErrorCode::kInvalidArgument,
                  "negative values other than -1 are not allowed for --keep-*");
    }
  }
  for (const Duration* d : {&p.within, &p.within_hourly, &p.within_daily, &p.within_weekly,
                            &p.within_monthly, &p.within_yearly}) {
    if (d->years < 0 || d->months < 0 || d->days < 0 || d->hours < 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  "durations containing negative values are not allowed for --keep-within*");
    }
  }
  std::vector<RetentionDecision> out(group.size());
  if (group.empty()) return out;
  const std::vector<size_t> order = NewestFirst(group);

  // The newest snapshot that is not in the future anchors the --keep-within* windows.
  Time latest{kGoZeroTimeSeconds, 0, 0};
  for (const auto& s : group) {
    if (s.time > latest && s.time < now) latest = s.time;
  }

  struct CountRule {
    int count;
    Period period;
    const char* reason;
    std::optional<int64_t> last;
  };
  CountRule counted[] = {{p.last, Period::kAlways, "last snapshot", {}},
                         {p.hourly, Period::kHour, "hourly snapshot", {}},
                         {p.daily, Period::kDay, "daily snapshot", {}},
                         {p.weekly, Period::kWeek, "weekly snapshot", {}},
                         {p.monthly, Period::kMonth, "monthly snapshot", {}},
                         {p.yearly, Period::kYear, "yearly snapshot", {}}};
  struct WithinRule {
    Duration within;
    Period period;
    const char* reason;
    Time cutoff;
    std::optional<int64_t> last;
  };
  WithinRule windowed[] = {{p.within_hourly, Period::kHour, "hourly within", {}, {}},
                           {p.within_daily, Period::kDay, "daily within", {}, {}},
                           {p.within_weekly, Period::kWeek, "weekly within", {}, {}},
                           {p.within_monthly, Period::kMonth, "monthly within", {}, {}},
                           {p.within_yearly, Period::kYear, "yearly within", {}, {}}};
  for (auto& w : windowed) w.cutoff = GoSubtract(latest, w.within, local);
  const Time within_cutoff = GoSubtract(latest, p.within, local);

  for (size_t nr = 0; nr < order.size(); ++nr) {
    const Snapshot& cur = group[order[nr]];
    const bool oldest = nr + 1 == order.size();
    std::vector<std::string> reasons;
    // Tags are not counted.
    for (const auto& l : p.keep_tags) {
      if (HasTags(cur, l)) reasons.push_back("has tags " + TagListString(l));
    }
    if (!p.within.Zero() && cur.time > within_cutoff) {
      reasons.push_back("within " + p.within.String());
    }
    for (auto& b : counted) {
      if (b.count == 0) continue;
      int64_t key = ResticKey(b.period, cur.time, nr);
      // While a rule has count left, the oldest snapshot is kept too (restic 0.16+), which
      // keeps the longest history the counts allow.
      if (b.last != key || oldest) {
        std::string reason = b.reason;
        if (b.last == key) reason = "oldest " + reason;
        b.last = key;
        if (b.count > 0) --b.count;
        reasons.push_back(std::move(reason));
      }
    }
    for (auto& b : windowed) {
      if (b.within.Zero() || !(cur.time > b.cutoff)) continue;
      int64_t key = ResticKey(b.period, cur.time, nr);
      if (b.last != key || oldest) {
        std::string reason = b.reason;
        if (b.last == key) reason = "oldest " + reason;
        b.last = key;
        reasons.push_back(reason + " " + b.within.String());
      }
    }
    RetentionDecision& d = out[order[nr]];
    d.keep = !reasons.empty();
    d.reasons = std::move(reasons);
  }
  return out;
}

// ---- the product's policy ----

Result<void> ValidateRetentionPolicy(const RetentionPolicy& policy) {
  if (policy.mode == kRetentionModeKeepEverything) return {};  // ranges are ignored
  if (policy.mode != kRetentionModeDeleteExcept) {
    return Fail(ErrorCode::kInvalidArgument,
                "unknown retention mode " + std::to_string(policy.mode) + " (want 801 or 802)");
  }
  for (size_t i = 0; i < policy.ranges.size(); ++i) {
    const RetentionRange& r = policy.ranges[i];
    const std::string where = "Ranges[" + std::to_string(i) + "]: ";
    if (r.type == kRangeDeprecated904) {
      return Fail(ErrorCode::kInvalidArgument,
                  where + "range type 904 is deprecated and not supported");
    }
    if (r.type < kRangeMostRecentXJobs || r.type > kRangeFirstJobForLastXYears) {
      return Fail(ErrorCode::kInvalidArgument,
                  where + "unknown range type " + std::to_string(r.type));
    }
    const std::pair<int64_t, const char*> counts[] = {{r.jobs, "Jobs"},
                                                      {r.days, "Days"},
                                                      {r.weeks, "Weeks"},
                                                      {r.months, "Months"},
                                                      {r.years, "Years"}};
    for (const auto& [v, name] : counts) {
      if (v < 0) return Fail(ErrorCode::kInvalidArgument, where + name + " is negative");
      if (v > kRetentionRangeMaxInt) {
        return Fail(ErrorCode::kInvalidArgument,
                    where + name + " exceeds " + std::to_string(kRetentionRangeMaxInt));
      }
    }
    if (r.week_offset < 0 || r.week_offset > 6) {
      return Fail(ErrorCode::kInvalidArgument, where + "WeekOffset " +
                                                   std::to_string(r.week_offset) +
                                                   " out of range (0 = Sunday .. 6 = Saturday)");
    }
    if (r.month_offset < 0 || r.month_offset > 31 ||
        (r.type == kRangeFirstJobForLastXMonths && r.month_offset == 0)) {
      return Fail(
          ErrorCode::kInvalidArgument,
          where + "MonthOffset " + std::to_string(r.month_offset) + " out of range (1..31)");
    }
    if (r.year_offset < 0 || r.year_offset > 11) {
      return Fail(ErrorCode::kInvalidArgument, where + "YearOffset " +
                                                   std::to_string(r.year_offset) +
                                                   " out of range (0..11, months after January)");
    }
  }
  return {};
}

Result<RetentionPolicy> RetentionPolicyFromJson(const Json& j) {
  const std::string where = "retention policy: ";
  if (!j.is_object()) return Fail(ErrorCode::kInvalidArgument, where + "not a JSON object");
  HALLEY_RETURN_IF_ERROR(OnlyMembers(j, {"Mode", "Ranges"}, where));
  RetentionPolicy p;
  HALLEY_ASSIGN_OR_RETURN(p.mode, MemberSmallInt(j, "Mode", where));
  auto ranges = j.find("Ranges");
  if (ranges != j.end() && !ranges->is_null()) {
    if (!ranges->is_array()) {
      return Fail(ErrorCode::kInvalidArgument, where + "Ranges: not an array");
    }
    for (size_t i = 0; i < ranges->size(); ++i) {
      const Json& o = (*ranges)[i];
      const std::string at = where + "Ranges[" + std::to_string(i) + "].";
      if (!o.is_object()) {
        return Fail(ErrorCode::kInvalidArgument,
                    where + "Ranges[" + std::to_string(i) + "]: not a JSON object");
      }
      HALLEY_RETURN_IF_ERROR(OnlyMembers(o,
                                         {"Type", "Timestamp", "Jobs", "Days", "Weeks", "Months",
                                          "Years", "WeekOffset", "MonthOffset", "YearOffset"},
                                         at));
      RetentionRange r;
      HALLEY_ASSIGN_OR_RETURN(r.type, MemberSmallInt(o, "Type", at));
      HALLEY_ASSIGN_OR_RETURN(r.timestamp, MemberInt(o, "Timestamp", at));
      HALLEY_ASSIGN_OR_RETURN(r.jobs, MemberInt(o, "Jobs", at));
      HALLEY_ASSIGN_OR_RETURN(r.days, MemberInt(o, "Days", at));
      HALLEY_ASSIGN_OR_RETURN(r.weeks, MemberInt(o, "Weeks", at));
      HALLEY_ASSIGN_OR_RETURN(r.months, MemberInt(o, "Months", at));
      HALLEY_ASSIGN_OR_RETURN(r.years, MemberInt(o, "Years", at));
      HALLEY_ASSIGN_OR_RETURN(r.week_offset, MemberSmallInt(o, "WeekOffset", at));
      HALLEY_ASSIGN_OR_RETURN(r.month_offset, MemberSmallInt(o, "MonthOffset", at));
      HALLEY_ASSIGN_OR_RETURN(r.year_offset, MemberSmallInt(o, "YearOffset", at));
      p.ranges.push_back(r);
    }
  }
  auto valid = ValidateRetentionPolicy(p);
  if (!valid) return Fail(valid.error().WithContext("retention policy"));
  return p;
}

Result<RetentionPolicy> DecodeRetentionPolicy(std::string_view json) {
  auto j = ParseJson(json, JsonLimits{size_t{1} << 20, 16});
  if (!j) {
    return Fail(ErrorCode::kInvalidArgument, "retention policy: " + j.error().Message());
  }
  return RetentionPolicyFromJson(*j);
}

OrderedJson RetentionPolicyToJson(const RetentionPolicy& policy) {
  OrderedJson j;
  j["Mode"] = policy.mode;
  j["Ranges"] = OrderedJson::array();
  for (const auto& r : policy.ranges) {
    OrderedJson o;
    o["Type"] = r.type;
    o["Timestamp"] = r.timestamp;
    o["Jobs"] = r.jobs;
    o["Days"] = r.days;
    o["Weeks"] = r.weeks;
    o["Months"] = r.months;
    o["Years"] = r.years;
    o["WeekOffset"] = r.week_offset;
    o["MonthOffset"] = r.month_offset;
    o["YearOffset"] = r.year_offset;
    j["Ranges"].push_back(std::move(o));
  }
  return j;
}

std::string EncodeRetentionPolicy(const RetentionPolicy& policy) {
  return RetentionPolicyToJson(policy).dump();
}

Result<std::vector<RetentionDecision>> ApplyRetentionPolicy(std::span<const Snapshot> list,
                                                            const RetentionPolicy& policy, Time now,
                                                            const TimeZone& tz) {
  HALLEY_RETURN_IF_ERROR(ValidateRetentionPolicy(policy));
  std::vector<RetentionDecision> out(list.size());
  if (policy.mode == kRetentionModeKeepEverything) {
    for (auto& d : out) d = {true, {"mode 801: keep everything"}};
    return out;
  }
  // Snapshots dated after `now` are kept and take no part in the ranges: no calendar range can
  // place them, and a device whose clock runs ahead must not lose its backups, nor push others
  // out of "most recent N", on a retention pass that another device runs.
  std::vector<size_t> past;  // newest first
  for (size_t i : NewestFirst(list)) {
    if (list[i].time > now) {
      AddReason(out, i, "dated in the future");
    } else {
      past.push_back(i);
    }
  }
  const int64_t today = LocalDay(now, tz);
  auto day_of = [&](const Time& t) { return LocalDay(t, tz); };

  for (const RetentionRange& r : policy.ranges) {
    const int type = r.type;
    auto reason = [type](const std::string& text) { return RangeReason(type, text); };
    switch (type) {
      case kRangeMostRecentXJobs: {
        std::string why = reason("most recent " + std::to_string(r.jobs) + " backups");
        for (size_t k = 0; k < past.size() && static_cast<int64_t>(k) < r.jobs; ++k) {
          AddReason(out, past[k], why);
        }
        break;
      }
      case kRangeNewerThanX: {
        const Time since{r.timestamp, 0, 0};
        std::string why = reason("newer than " + FormatHuman(tz.In(since)));
        for (size_t i : past) {
          if (list[i].time > since) AddReason(out, i, why);
        }
        break;
      }
      case kRangeJobsSince: {
        std::optional<int64_t> cutoff = SinceCutoff(r, now, tz);
        std::string why = reason(cutoff ? "since " + FormatHuman(tz.In(Time{*cutoff, 0, 0}))
                                        : std::string("since the beginning of time"));
        for (size_t i : past) {
          if (!cutoff || list[i].time.seconds >= *cutoff) AddReason(out, i, why);
        }
        break;
      }
      case kRangeFirstJobForEachLastXDays:
        KeepFirstPerPeriod(
            past, list, out,
            [&](const Time& t) -> std::optional<int64_t> {
              int64_t d = day_of(t);
              if (d > today || today - d >= r.days) return std::nullopt;
              return d;
            },
            [&](int64_t d) { return reason("first backup of " + FormatDate(DateOfDay(d))); });
        break;
      case kRangeFirstJobForLastXMonths: {
        const int64_t current = RetentionMonthOf(today, r.month_offset);
        KeepFirstPerPeriod(
            past, list, out,
            [&](const Time& t) -> std::optional<int64_t> {
              int64_t m = RetentionMonthOf(day_of(t), r.month_offset);
              if (m > current || current - m >= r.months) return std::nullopt;
              return m;
            },
            [&](int64_t m) {
              Date start{FloorDiv(m, 12), static_cast<int>(FloorMod(m, 12)) + 1, r.month_offset};
              return reason("first backup of month starting " + FormatDate(start));
            });
        break;
      }
      case kRangeFirstJobForLastXWeeks: {
        const int64_t current = WeekStartOf(today, r.week_offset);
        KeepFirstPerPeriod(
            past, list, out,
            [&](const Time& t) -> std::optional<int64_t> {
              int64_t w = WeekStartOf(day_of(t), r.week_offset);
              if (w > current || (current - w) / 7 >= r.weeks) return std::nullopt;
              return w;
            },
            [&](int64_t w) {
              return reason("first backup of week starting " + FormatDate(DateOfDay(w)));
            });
        break;
      }
      case kRangeFirstJobForLastXYears: {
        const int64_t current = RetentionYearOf(today, r.year_offset);
        KeepFirstPerPeriod(
            past, list, out,
            [&](const Time& t) -> std::optional<int64_t> {
              int64_t y = RetentionYearOf(day_of(t), r.year_offset);
              if (y > current || current - y >= r.years) return std::nullopt;
              return y;
            },
            [&](int64_t y) {
              return reason("first backup of year starting " +
                            FormatDate(Date{y, r.year_offset + 1, 1}));
            });
        break;
      }
      case kRangeLastXBackupsOneForEachDay:
        KeepLastPerPeriod(past, list, r.jobs, out, day_of, [&](int64_t d) {
          return reason("last backup of " + FormatDate(DateOfDay(d)));
        });
        break;
      case kRangeLastXBackupsOneForEachWeek:
        KeepLastPerPeriod(
            past, list, r.jobs, out, [&](const Time& t) { return IsoWeekKey(day_of(t)); },
            [&](int64_t k) {
              char buf[40];
              std::snprintf(buf, sizeof buf, "%04lld-W%02lld", static_cast<long long>(k / 100),
                            static_cast<long long>(k % 100));
              return reason(std::string("last backup of week ") + buf);
            });
        break;
      case kRangeLastXBackupsOneForEachMonth:
        KeepLastPerPeriod(
            past, list, r.jobs, out,
            [&](const Time& t) {
              Date d = DateOfDay(day_of(t));
              return d.year * 12 + (d.month - 1);
            },
            [&](int64_t m) {
              char buf[40];
              std::snprintf(buf, sizeof buf, "%04lld-%02d", static_cast<long long>(FloorDiv(m, 12)),
                            static_cast<int>(FloorMod(m, 12)) + 1);
              return reason(std::string("last backup of ") + buf);
            });
        break;
      case kRangeLastXBackupsOneForEachYear:
        KeepLastPerPeriod(
            past, list, r.jobs, out, [&](const Time& t) { return DateOfDay(day_of(t)).year; },
            [&](int64_t y) { return reason("last backup of " + std::to_string(y)); });
        break;
      default:
        HALLEY_CHECK(false);  // ValidateRetentionPolicy admits no other type
    }
  }
  return out;
}

// ---- grouping ----

std::string GroupBy::String() const {
  std::vector<std::string> parts;
  if (host) parts.emplace_back("host");
  if (paths) parts.emplace_back("paths");
  if (tags) parts.emplace_back("tags");
  return Join(parts, ",");
}

Result<GroupBy> ParseGroupBy(std::string_view text) {
  GroupBy g;
  for (const std::string& option : SplitTagList(text)) {
    if (option == "host" || option == "hosts") {
      g.host = true;
    } else if (option == "path" || option == "paths") {
      g.paths = true;
    } else if (option == "tag" || option == "tags") {
      g.tags = true;
    } else if (!option.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "unknown grouping option: \"" + option + "\"");
    }
  }
  return g;
}

std::string GroupKey::String() const {
  std::vector<std::string> parts;
  if (!hostname.empty()) parts.push_back("host " + hostname);
  if (!paths.empty()) parts.push_back("path [" + Join(paths, " ") + "]");
  if (!tags.empty()) parts.push_back("tags [" + Join(tags, " ") + "]");
  return Join(parts, ", ");
}

GroupKey GroupKeyOf(const Snapshot& s, const GroupBy& by) {
  GroupKey k;
  if (by.host) k.hostname = s.hostname;
  if (by.paths) {
    k.paths = s.paths;
    std::sort(k.paths.begin(), k.paths.end());
  }
  if (by.tags) {
    k.tags = s.tags;
    std::sort(k.tags.begin(), k.tags.end());
  }
  return k;
}

}  // namespace halley::snapshot
