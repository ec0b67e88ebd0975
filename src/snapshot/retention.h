// SPDX-License-Identifier: Apache-2.0
//
// Retention: which snapshots a retention pass keeps. Two rule sets share one result type:
//
//  * restic's forget policy (ResticPolicy: --keep-last, --keep-daily, --keep-within, --keep-tag,
//    ...), with the exact semantics of restic's internal/data/snapshot_policy.go (0.16+:
//    "unlimited" counts and keeping the oldest snapshot while a rule has count left);
//  * the product's RetentionPolicy (modes 801/802, range types 900-911), whose calendar ranges
//    are evaluated in the device's time zone.
//
// docs/retention.md defines every rule precisely. Everything here is a pure function of the
// snapshots, the policy, "now" and a time zone: no I/O, no clock. Grouping snapshots (by host,
// paths, tags) is the caller's; each Apply* call sees one group. Thread-safe, except that
// TimeZone::Local() reads the process time zone (TZ, tzset()), which the caller must not change
// concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "base/time.h"
#include "snapshot/snapshot.h"

namespace halley::snapshot {

// A time zone as a function from an instant to its UTC offset.
class TimeZone {
 public:
  // The process's local zone (TZ honoured through localtime_r; call tzset() after changing TZ).
  static TimeZone Local();
  // A zone without daylight saving time, `utc_offset` seconds east of UTC.
  static TimeZone Fixed(int32_t utc_offset);

  // Seconds east of UTC in force at `unix_seconds`.
  int32_t OffsetAt(int64_t unix_seconds) const;
  // `t` with the offset of this zone at that instant (for display).
  Time In(const Time& t) const { return {t.seconds, t.nanos, OffsetAt(t.seconds)}; }

 private:
  TimeZone(bool local, int32_t offset) : local_(local), offset_(offset) {}
  bool local_;
  int32_t offset_;
};

// The verdict for one snapshot: kept or removed, and every rule that keeps it (in rule order;
// empty when removed).
struct RetentionDecision {
  bool keep = false;
  std::vector<std::string> reasons;

  bool operator==(const RetentionDecision&) const = default;
};

// ---------------------------------------------------------------------------------------------
// restic's forget policy.

// restic's calendar duration "1y2m3d4h" (no weeks, no minutes).
struct Duration {
  int years = 0, months = 0, days = 0, hours = 0;

  bool Zero() const { return years == 0 && months == 0 && days == 0 && hours == 0; }
  // restic's form: "1y2m3d4h" with zero parts left out; "" for the zero duration.
  std::string String() const;
  bool operator==(const Duration&) const = default;
};

// Parses restic's syntax: numbers each followed by a unit y, m, d or h, in any order (a unit
// given twice keeps the last value), surrounding whitespace ignored, "" = zero. kInvalidArgument
// for a missing number or unit, an unknown unit, a negative value (restic refuses those for
// --keep-within*) or a number over 2^31-1.
Result<Duration> ParseDuration(std::string_view text);

inline constexpr int kUnlimited = -1;

struct ResticPolicy {
  // 0 = rule off, n > 0 = keep n, kUnlimited (-1) = no limit.
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  Duration within, within_hourly, within_daily, within_weekly, within_monthly, within_yearly;
  // Keep snapshots having all tags of any one list (OR of AND groups). A list {""} matches
  // snapshots without tags.
  std::vector<std::vector<std::string>> keep_tags;

  // True if no rule is set (restic refuses to forget by such a policy). A keep_tags list counts
  // as a rule even if it is {""}.
  bool Empty() const;
  // restic's "Applying Policy" text: "keep 2 daily snapshots and all snapshots with tags
  // [[foo]]", or "remove" for an empty policy.
  std::string String() const;
  bool operator==(const ResticPolicy&) const = default;
};

// A --keep-* count: a non-negative decimal integer (at most 2^31-1) or "unlimited" (-1).
// kInvalidArgument otherwise ("negative values not allowed, use 'unlimited' instead").
Result<int> ParsePolicyCount(std::string_view text);
// A --keep-tag value: split at commas, whitespace around each tag trimmed ("" stays "").
std::vector<std::string> SplitTagList(std::string_view text);

// Applies `policy` to one group. Returns one decision per element of `group`, in the same
// order. The snapshots are evaluated newest first (a stable sort by time, so for equal times
// the element that comes first in `group` counts as the newer one: pass the group newest
// first). `now` decides which snapshots are "in the future" for the --keep-within* rules, which
// count back from the newest snapshot that is not; `local` is the process zone Go would attach
// to a snapshot time whose offset it matches, which changes where calendar arithmetic crosses
// a DST change (docs/retention.md §1.2, "Durations"). kInvalidArgument for a count below -1 or a
// negative duration.
Result<std::vector<RetentionDecision>> ApplyResticPolicy(std::span<const Snapshot> group,
                                                         const ResticPolicy& policy, Time now,
                                                         const TimeZone& local = TimeZone::Local());

// ---------------------------------------------------------------------------------------------
// The product's RetentionPolicy (comet.md §2.4, §3.4). JSON field names and constants are the
// product's.

inline constexpr int kRetentionModeKeepEverything = 801;
inline constexpr int kRetentionModeDeleteExcept = 802;

inline constexpr int kRangeMostRecentXJobs = 900;
inline constexpr int kRangeNewerThanX = 901;
inline constexpr int kRangeJobsSince = 902;
inline constexpr int kRangeFirstJobForEachLastXDays = 903;
inline constexpr int kRangeDeprecated904 = 904;  // deprecated in the product; refused
inline constexpr int kRangeFirstJobForLastXMonths = 905;
inline constexpr int kRangeFirstJobForLastXWeeks = 906;
inline constexpr int kRangeLastXBackupsOneForEachDay = 907;
inline constexpr int kRangeLastXBackupsOneForEachWeek = 908;
inline constexpr int kRangeLastXBackupsOneForEachMonth = 909;
inline constexpr int kRangeLastXBackupsOneForEachYear = 910;
inline constexpr int kRangeFirstJobForLastXYears = 911;

// RETENTIONRANGE_MAXINT: the largest count the product accepts (2^50), "forever" in its UI.
inline constexpr int64_t kRetentionRangeMaxInt = 1125899906842624;

struct RetentionRange {
  int type = 0;
  int64_t timestamp = 0;  // unix seconds (901)
  int64_t jobs = 0, days = 0, weeks = 0, months = 0, years = 0;
  int week_offset = 0;   // 906: first day of a week, 0 = Sunday .. 6 = Saturday
  int month_offset = 0;  // 905: first day of a month, 1..31 (0 only where unused)
  int year_offset = 0;   // 911: first month of a year after January, 0..11 (3 = April 1)

  bool operator==(const RetentionRange&) const = default;
};

struct RetentionPolicy {
  int mode = kRetentionModeKeepEverything;
  std::vector<RetentionRange> ranges;

  bool operator==(const RetentionPolicy&) const = default;
};

// kInvalidArgument naming the problem: an unknown mode or range type, type 904, a negative
// count, a count over kRetentionRangeMaxInt, an offset out of range (WeekOffset 0..6,
// MonthOffset 0..31 and 1..31 for type 905, YearOffset 0..11).
Result<void> ValidateRetentionPolicy(const RetentionPolicy& policy);

// Decodes {"Mode":802,"Ranges":[{"Type":900,"Jobs":5,...}]}. Missing members are zero and
// "Ranges": null is empty, as in Go. Strict: kInvalidArgument for malformed JSON, unknown
// members (a misspelt field must not silently widen a deletion), members of the wrong type or
// not integers, and everything ValidateRetentionPolicy refuses.
Result<RetentionPolicy> DecodeRetentionPolicy(std::string_view json);
Result<RetentionPolicy> RetentionPolicyFromJson(const Json& j);
// Compact JSON with every member, in the product's field order.
std::string EncodeRetentionPolicy(const RetentionPolicy& policy);
OrderedJson RetentionPolicyToJson(const RetentionPolicy& policy);

// Applies `policy` at instant `now`, with calendar days, weeks, months and years taken in `tz`
// (the device's zone). One decision per element of `snapshots`, same order; equal times are
// ordered as in ApplyResticPolicy. Mode 801 keeps everything; mode 802 keeps a snapshot if any
// range keeps it, and always keeps snapshots dated after `now`. kInvalidArgument for a policy
// that ValidateRetentionPolicy refuses.
Result<std::vector<RetentionDecision>> ApplyRetentionPolicy(std::span<const Snapshot> snapshots,
                                                            const RetentionPolicy& policy, Time now,
                                                            const TimeZone& tz);

// ---------------------------------------------------------------------------------------------
// Grouping, as restic's --group-by.

struct GroupBy {
  bool host = false, paths = false, tags = false;
  std::string String() const;  // "host,paths"
};
// "host,paths" (default), "host", "paths", "tags", any comma list of host(s), path(s),
// tag(s), or "" for one group. kInvalidArgument for anything else.
Result<GroupBy> ParseGroupBy(std::string_view text);

// The key of a snapshot's group: the fields grouped by, paths and tags sorted; the others
// empty.
struct GroupKey {
  std::string hostname;
  std::vector<std::string> paths, tags;

  // restic's description: "host vm, path [/a /b], tags [x]".
  std::string String() const;
  auto operator<=>(const GroupKey&) const = default;
  bool operator==(const GroupKey&) const = default;
};
GroupKey GroupKeyOf(const Snapshot& s, const GroupBy& by);

}  // namespace halley::snapshot
