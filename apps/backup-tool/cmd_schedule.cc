// SPDX-License-Identifier: Apache-2.0
//
// `schedule add|list|remove`: the logged-in account's Schedules (BackupRules: a Protected Item
// backed up to a Storage Vault at the times of its ScheduleConfigs). `backup-tool daemon` runs
// them.
#include <time.h>

#include <charconv>
#include <cstdio>

#include "client/account.h"
#include "client/schedule.h"
#include "commands.h"
#include "crypto/random.h"
#include "managed_job.h"

namespace halley::cli {
namespace {

struct ScheduleFlags {
  std::string name, item, vault;
  std::string daily, weekly_time, monthly_time, once, window;
  int hourly = -1;
  std::string weekly_day;
  int monthly_day = 0;
  int64_t periodic = 0;
  std::vector<std::string> days;
  int64_t random_delay = 0;
  bool skip_already_running = false;
  int64_t stop_after = 0;
  int64_t limit_kib = 0;
  bool one_disk_thread = false;
  int retention = 0;  // AutoRetentionLevel
  bool on_boot = false, on_boot_if_missed = false;
  int retry_count = 0;
  int retry_minutes = 30;  // the product's DEFAULT_RETRY_TIME
  CommandFlags commands;
};

constexpr const char* kDays[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

Result<int> Number(std::string_view s, int lo, int hi, std::string_view what) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) {
    return Fail(ErrorCode::kInvalidArgument,
                "bad " + std::string(what) + " \"" + std::string(s) + "\"");
  }
  return v;
}

// "HH:MM" as seconds past midnight.
Result<int64_t> ClockTime(std::string_view s, int max_hour = 23) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, "bad time \"" + std::string(s) + "\" (HH:MM)");
  }
  HALLEY_ASSIGN_OR_RETURN(int h, Number(s.substr(0, colon), 0, max_hour, "hour"));
  HALLEY_ASSIGN_OR_RETURN(int m, Number(s.substr(colon + 1), 0, 59, "minute"));
  return int64_t{h} * 3600 + m * 60;
}

Result<int> DayIndex(std::string day) {
  for (char& c : day) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int d = 0; d < 7; ++d) {
    if (day.substr(0, 3) == kDays[d]) return d;
  }
  return Fail(ErrorCode::kInvalidArgument, "bad day \"" + day + "\" (sun, mon, ... sat)");
}

// "YYYY-MM-DD HH:MM" local, or Unix seconds.
Result<int64_t> OnceTime(const std::string& s) {
  int64_t unix = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), unix);
  if (ec == std::errc() && end == s.data() + s.size()) return unix;
  tm t{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d%c", &y, &mo, &d, &h, &mi, &tail) != 5) {
    return Fail(ErrorCode::kInvalidArgument,
                "bad time \"" + s + "\" (\"YYYY-MM-DD HH:MM\" local, or Unix seconds)");
  }
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_isdst = -1;
  return static_cast<int64_t>(mktime(&t));
}

Result<client::Schedule> ScheduleFromFlags(const ScheduleFlags& f) {
  client::Schedule s;
  int given = 0;
  if (!f.daily.empty()) {
    ++given;
    s.frequency = client::kFrequencyDaily;
    HALLEY_ASSIGN_OR_RETURN(s.seconds_past, ClockTime(f.daily));
  }
  if (f.hourly >= 0) {
    ++given;
    s.frequency = client::kFrequencyHourly;
    s.seconds_past = int64_t{f.hourly} * 60;
  }
  if (!f.weekly_day.empty()) {
    ++given;
    s.frequency = client::kFrequencyWeekly;
    HALLEY_ASSIGN_OR_RETURN(int day, DayIndex(f.weekly_day));
    HALLEY_ASSIGN_OR_RETURN(int64_t at, ClockTime(f.weekly_time));
    s.seconds_past = int64_t{day} * 86400 + at;
  }
  if (f.monthly_day > 0) {
    ++given;
    s.frequency = client::kFrequencyMonthly;
    HALLEY_ASSIGN_OR_RETURN(int64_t at, ClockTime(f.monthly_time));
    s.seconds_past = int64_t{f.monthly_day - 1} * 86400 + at;
  }
  if (f.periodic > 0) {
    ++given;
    s.frequency = client::kFrequencyPeriodic;
    s.seconds_past = f.periodic;
    s.offset = client::UnixNow();  // the first run one period from now
  }
  if (!f.once.empty()) {
    ++given;
    s.frequency = client::kFrequencyOnceOnly;
    HALLEY_ASSIGN_OR_RETURN(s.seconds_past, OnceTime(f.once));
  }
  if (given != 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "give exactly one of --daily, --hourly, --weekly, --monthly, --periodic, --once");
  }
  if (!f.days.empty()) {
    s.restrict_days = true;
    for (bool& d : s.days) d = false;
    for (const std::string& day : f.days) {
      HALLEY_ASSIGN_OR_RETURN(int d, DayIndex(day));
      s.days[d] = true;
    }
  }
  if (!f.window.empty()) {
    const size_t dash = f.window.find('-');
    if (dash == std::string::npos) {
      return Fail(ErrorCode::kInvalidArgument, "bad --window \"" + f.window + "\" (HH:MM-HH:MM)");
    }
    HALLEY_ASSIGN_OR_RETURN(int64_t from, ClockTime(f.window.substr(0, dash)));
    HALLEY_ASSIGN_OR_RETURN(int64_t to, ClockTime(f.window.substr(dash + 1), 24));
    s.restrict_runtime = true;
    s.from_minute = static_cast<int>(from / 60);
    s.to_minute = static_cast<int>(to / 60);
  }
  s.random_delay_secs = f.random_delay;
  // The profile's own checks (ranges of every field), as the daemon will read it.
  return client::Schedule::FromJson(s.ToJson());
}

std::string LocalTimeText(std::optional<client::TimePoint> t) {
  if (!t) return "never";
  const time_t tt = std::chrono::system_clock::to_time_t(*t);
  tm l{};
  localtime_r(&tt, &l);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M %Z", &l);
  return buf;
}

int RunAdd(Cli& cli, const ScheduleFlags& f) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  auto schedule = ScheduleFromFlags(f);
  if (!schedule) return cli.Fatal(schedule.error());
  const std::string id = crypto::NewUuid();
  auto saved = (*account)->UpdateProfile([&](Json& profile) -> Result<void> {
    HALLEY_ASSIGN_OR_RETURN(std::string item, client::FindEntry(profile, "Sources", f.item));
    HALLEY_ASSIGN_OR_RETURN(std::string vault, client::FindEntry(profile, "Destinations", f.vault));
    const int64_t now = client::UnixNow();
    Json& rule = profile["BackupRules"][id];
    rule = {{"Description", f.name},
            {"CreateTime", now},
            {"ModifyTime", now},
            {"PreExec", Json::array()},
            {"ThawExec", Json::array()},
            {"PostExec", Json::array()},
            {"Source", item},
            {"Destination", vault},
            {"SkipAlreadyRunning", f.skip_already_running},
            {"StopAfter", f.stop_after},
            {"LimitVaultSpeedBps", f.limit_kib * 1024},
            {"ReduceDiskConcurrency", f.one_disk_thread},
            {"UseOnDiskIndexes", false},
            {"AllowZeroFilesSuccess", false},
            {"AutoRetentionLevel", f.retention},
            {"Schedules", Json::array({schedule->ToJson()})},
            {"EventTriggers",
             {{"OnPCBoot", f.on_boot},
              {"OnPCBootIfLastJobMissed", f.on_boot_if_missed},
              {"OnLastJobFailDoRetry", f.retry_count > 0},
              {"LastJobFailDoRetryCount", std::max(1, f.retry_count)},
              {"LastJobFailDoRetryTime", f.retry_minutes}}}};
    f.commands.Store(rule);
    return {};
  });
  if (!saved) return cli.AccountFatal(saved.error());
  const auto next = client::NextRun(*schedule, std::chrono::system_clock::now());
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "schedule_added";
    j["id"] = id;
    j["name"] = f.name;
    j["next_run"] = next ? client::UnixNow() + std::chrono::duration_cast<std::chrono::seconds>(
                                                   *next - std::chrono::system_clock::now())
                                                   .count()
                         : 0;
    cli.PrintJson(j);
  } else {
    cli.Print("Schedule \"" + f.name + "\" (" + id + ") added; next run " + LocalTimeText(next) +
              ".\n");
  }
  return kExitOk;
}

int RunList(Cli& cli) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  auto p = (*account)->GetProfile();
  if (!p) return cli.AccountFatal(p.error());
  OrderedJson out = OrderedJson::array();
  std::string text;
  const Json rules = p->profile.value("BackupRules", Json::object());
  const auto now = std::chrono::system_clock::now();
  for (const auto& [id, rule] : rules.items()) {
    if (!rule.is_object()) continue;
    std::optional<client::TimePoint> next;
    std::string problem;
    for (const Json& c : rule.value("Schedules", Json::array())) {
      auto s = client::Schedule::FromJson(c);
      if (!s) {
        problem = s.error().Message();
        continue;
      }
      auto t = client::NextRun(*s, now);
      if (t && (!next || *t < *next)) next = t;
    }
    OrderedJson j;
    j["id"] = id;
    j["name"] = client::StringField(rule, "Description");
    j["item"] = client::StringField(rule, "Source");
    j["vault"] = client::StringField(rule, "Destination");
    j["next_run"] = next ? std::chrono::system_clock::to_time_t(*next) : 0;
    if (!problem.empty()) j["problem"] = problem;
    text += id + "  " + client::StringField(rule, "Description") +
            "  next: " + LocalTimeText(next) + (problem.empty() ? "" : "  (" + problem + ")") +
            "\n";
    text += ListCommands(rule, j);
    out.push_back(j);
  }
  if (cli.global.json) {
    cli.PrintJson(out);
  } else {
    cli.Print(text.empty() ? "This account has no Schedules.\n" : text);
  }
  return kExitOk;
}

}  // namespace

void AddSchedule(CLI::App& app, Cli& cli) {
  auto* schedule = app.add_subcommand("schedule", "manage the Schedules of the logged-in account");
  schedule->require_subcommand(1);
  auto f = std::make_shared<ScheduleFlags>();
  auto* add = schedule->add_subcommand("add", "back up a Protected Item to a vault on a schedule");
  add->add_option("--name", f->name, "the schedule's name")->required();
  add->add_option("--item", f->item, "the Protected Item (name or ID)")->required();
  add->add_option("--vault", f->vault, "the Storage Vault (name or ID)")->required();
  add->add_option("--daily", f->daily, "every day at HH:MM (local time)");
  add->add_option("--hourly", f->hourly, "every hour at minute MM")->check(CLI::Range(0, 59));
  add->add_option("--weekly", f->weekly_day, "every week on DAY (sun..sat) at --at HH:MM");
  add->add_option("--monthly", f->monthly_day, "every month on day D (1-31) at --at HH:MM")
      ->check(CLI::Range(1, 31));
  add->add_option("--at", f->weekly_time, "the time of day for --weekly and --monthly");
  add->add_option("--periodic", f->periodic, "every SECONDS, the first one period from now")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  add->add_option("--once", f->once, "once, at \"YYYY-MM-DD HH:MM\" (local) or Unix seconds");
  add->add_option("--days", f->days, "run only on these days (sun..sat; repeatable)");
  add->add_option("--window", f->window, "run only between HH:MM-HH:MM (local)");
  add->add_option("--random-delay", f->random_delay, "start up to SECONDS late (at most 18000)")
      ->check(CLI::Range(int64_t{0}, client::kMaxRandomDelaySecs));
  add->add_flag("--skip-already-running", f->skip_already_running,
                "skip a run (job 7006) while the previous one still runs");
  add->add_option("--stop-after", f->stop_after, "stop a run after SECONDS (job 7005)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  add->add_option("--limit-upload", f->limit_kib, "limit the run's uploads to KiB/s")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  add->add_flag("--one-disk-thread", f->one_disk_thread,
                "limit the backup to one disk thread (ReduceDiskConcurrency)");
  add->add_option("--retention-after", f->retention,
                  "when to apply the vault's retention policy after a backup: 0 at most daily "
                  "(default), 1 after every run, 2 at most hourly, 3 at most weekly "
                  "(AutoRetentionLevel)")
      ->check(CLI::Range(0, 3));
  add->add_flag("--on-boot", f->on_boot, "also run when the daemon starts (the device boots)");
  add->add_flag("--on-boot-if-missed", f->on_boot_if_missed,
                "run when the daemon starts if a due run was missed while it was off");
  add->add_option("--retry", f->retry_count, "retry a failed run up to N times")
      ->check(CLI::Range(0, 100));
  add->add_option("--retry-minutes", f->retry_minutes,
                  "wait this long before each retry (default 30)")
      ->check(CLI::Range(1, 10080));
  f->commands.Add(add);
  add->callback([&cli, f] {
    f->monthly_time = f->weekly_time;
    cli.exit_code = RunAdd(cli, *f);
  });
  schedule->add_subcommand("list", "list the account's Schedules with their next runs")
      ->callback([&cli] { cli.exit_code = RunList(cli); });
  auto* remove = schedule->add_subcommand("remove", "remove a Schedule from the account");
  remove->add_option("name", f->name, "the schedule's name or ID")->required();
  remove->callback([&cli, f] {
    cli.exit_code = RemoveProfileEntry(cli, "BackupRules", f->name, "Schedule", "removed.");
  });
}

}  // namespace halley::cli
