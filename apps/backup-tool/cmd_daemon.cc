// SPDX-License-Identifier: Apache-2.0
//
// `backup-tool daemon`: the device's background process (the product's backup.delegate). It
// holds the login, reads the account's Schedules (BackupRules) from the profile and reads them
// again every --poll-seconds, and runs each when it is due: as a child `backup-tool --vault V
// backup --item I`, which reports itself as a job. Per rule:
//
//   due        the earliest NextRun() of its ScheduleConfigs, plus a random delay; computed
//              from the later of the last due time and now, so a device that slept through
//              several due times runs once, not once per missed time
//   SkipAlreadyRunning  a run due while the previous one still runs is reported as a job
//              with status 7006 and not started; without it, it starts when the previous ends
//   StopAfter  a run still going after that many seconds is interrupted (SIGINT): it ends,
//              unlocks its vault and reports 7005
//   LimitVaultSpeedBps  the child's --limit-upload
//
// A changed rule (any field) gets a new due time; a removed one runs no more (a run in
// progress finishes). SIGTERM or SIGINT interrupts the running children, waits for them to
// report, and exits 0. Runs in the foreground, for systemd (packaging/backup-tool.service).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <random>
#include <thread>

#include "client/account.h"
#include "client/schedule.h"
#include "commands.h"

extern char** environ;

namespace halley::cli {
namespace {

using Clock = std::chrono::system_clock;

struct DaemonFlags {
  int poll_seconds = 60;
};

struct Rule {
  std::string id, name, item, vault;
  std::vector<client::Schedule> schedules;
  bool skip_already_running = false;
  int64_t stop_after = 0;
  int64_t limit_bps = 0;
  std::string json;  // the rule as the profile has it: any change restarts its timing
};

struct RuleState {
  Rule rule;
  std::optional<Clock::time_point> nominal;  // the next due time, before the random delay
  std::optional<Clock::time_point> due;      // nominal + delay
  pid_t pid = 0;                             // the run in progress
  Clock::time_point started;
  bool stop_sent = false;
  bool pending = false;  // due while running, without SkipAlreadyRunning: starts after it
};

std::string Now() {
  const time_t t = Clock::to_time_t(Clock::now());
  tm l{};
  localtime_r(&t, &l);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &l);
  return buf;
}

class Daemon {
 public:
  Daemon(Cli& cli, client::Account& account, const DaemonFlags& flags)
      : cli_(cli), account_(account), flags_(flags), rng_(std::random_device{}()) {}

  int Run() {
    Log("started; schedules are read every " + std::to_string(flags_.poll_seconds) + " s");
    const std::stop_token stop = cli_.StopToken();
    auto next_poll = Clock::now();
    while (!stop.stop_requested()) {
      const auto now = Clock::now();
      if (now >= next_poll) {
        Refresh(now);
        next_poll = now + std::chrono::seconds(flags_.poll_seconds);
      }
      Reap();
      for (auto& [id, r] : rules_) Tend(r, now);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    Log("stopping: interrupting " + std::to_string(Running()) + " running job(s)");
    for (auto& [id, r] : rules_) {
      if (r.pid > 0) ::kill(r.pid, SIGINT);
    }
    for (pid_t pid : orphans_) ::kill(pid, SIGINT);
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Running() > 0 && Clock::now() < deadline) {
      Reap();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Log("stopped");
    return kExitOk;
  }

 private:
  void Log(const std::string& text) const { cli_.Warn("daemon " + Now() + ": " + text + "\n"); }

  size_t Running() const {
    size_t n = orphans_.size();
    for (const auto& [id, r] : rules_) n += r.pid > 0;
    return n;
  }

  // Reads the rules from the profile; new and changed ones get their next due time.
  void Refresh(Clock::time_point now) {
    auto p = account_.GetProfile();
    if (!p) {
      Log("cannot read the profile (schedules unchanged): " + p.error().Message());
      return;
    }
    const Json rules = p->profile.value("BackupRules", Json::object());
    std::map<std::string, RuleState> next;
    for (const auto& [id, j] : rules.items()) {
      if (!j.is_object()) continue;
      Rule rule;
      rule.id = id;
      rule.name = client::StringField(j, "Description");
      rule.item = client::StringField(j, "Source");
      rule.vault = client::StringField(j, "Destination");
      rule.skip_already_running = j.value("SkipAlreadyRunning", false);
      rule.stop_after = client::IntField(j, "StopAfter");
      rule.limit_bps = client::IntField(j, "LimitVaultSpeedBps");
      rule.json = j.dump();
      bool valid = !rule.item.empty() && !rule.vault.empty();
      for (const Json& c : j.value("Schedules", Json::array())) {
        auto s = client::Schedule::FromJson(c);
        if (!s) {
          valid = false;
          Log("schedule \"" + rule.name + "\" is ignored: " + s.error().Message());
          break;
        }
        rule.schedules.push_back(*s);
      }
      if (!valid) continue;
      RuleState state;
      if (auto old = rules_.find(id); old != rules_.end()) {
        state = std::move(old->second);
        rules_.erase(old);
      }
      const bool changed = state.rule.json != rule.json;
      state.rule = std::move(rule);
      if (changed) Plan(state, now);
      next.emplace(id, std::move(state));
    }
    // Rules gone from the profile: their runs in progress finish on their own.
    for (auto& [id, r] : rules_) {
      if (r.pid > 0) orphans_.push_back(r.pid);
    }
    rules_ = std::move(next);
  }

  // The next due time of `r` after `after`.
  void Plan(RuleState& r, Clock::time_point after) {
    r.nominal.reset();
    for (const client::Schedule& s : r.rule.schedules) {
      auto t = client::NextRun(s, after);
      if (t && (!r.nominal || *t < *r.nominal)) {
        r.nominal = t;
        r.due = client::Delay(s, *t, rng_);
      }
    }
    if (!r.nominal) r.due.reset();
  }

  void Tend(RuleState& r, Clock::time_point now) {
    if (r.pid > 0 && r.rule.stop_after > 0 && !r.stop_sent &&
        now - r.started >= std::chrono::seconds(r.rule.stop_after)) {
      Log("schedule \"" + r.rule.name + "\" reached its time limit of " +
          std::to_string(r.rule.stop_after) + " s: stopping the run");
      ::kill(r.pid, SIGINT);
      r.stop_sent = true;
    }
    if (r.pid == 0 && r.pending) {
      r.pending = false;
      Start(r);
    }
    if (!r.due || *r.due > now) return;
    if (r.pid == 0) {
      Start(r);
    } else if (r.rule.skip_already_running) {
      Skipped(r);
    } else {
      r.pending = true;
    }
    Plan(r, std::max(*r.nominal, now));
  }

  void Start(RuleState& r) {
    std::vector<std::string> args = {SelfPath(), "--quiet"};
    const GlobalOptions& g = cli_.global;
    if (g.retry_seconds != 300)
      args.insert(args.end(), {"--retry-seconds", std::to_string(g.retry_seconds)});
    if (g.connections > 0)
      args.insert(args.end(), {"--connections", std::to_string(g.connections)});
    int64_t limit_kib = g.limit_upload_kib;
    if (r.rule.limit_bps > 0) limit_kib = std::max<int64_t>(1, r.rule.limit_bps / 1024);
    if (limit_kib > 0) args.insert(args.end(), {"--limit-upload", std::to_string(limit_kib)});
    if (g.limit_download_kib > 0) {
      args.insert(args.end(), {"--limit-download", std::to_string(g.limit_download_kib)});
    }
    for (const std::string& o : g.options) args.insert(args.end(), {"-o", o});
    args.insert(args.end(), {"--vault", r.rule.vault, "backup", "--item", r.rule.item});

    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The child starts with default signal handling and nothing blocked (this process blocks
    // SIGINT and SIGTERM for its signal thread), its output to the job log and our stderr.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &files, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      Log("cannot start the run of schedule \"" + r.rule.name + "\": " + std::strerror(rc));
      return;
    }
    r.pid = pid;
    r.started = Clock::now();
    r.stop_sent = false;
    Log("schedule \"" + r.rule.name + "\": backing up item " + r.rule.item + " to vault " +
        r.rule.vault + " (pid " + std::to_string(pid) + ")");
  }

  // A run skipped by SkipAlreadyRunning is still a job, so that the server shows it.
  void Skipped(RuleState& r) {
    Log("schedule \"" + r.rule.name + "\": skipped, the previous run is still going");
    auto job = client::JobReport::Start(account_,
                                        {{"Classification", client::kJobBackup},
                                         {"SourceGUID", r.rule.item},
                                         {"DestinationGUID", r.rule.vault}},
                                        HALLEY_VERSION);
    if (!job) {
      Log("the skipped run could not be reported: " + job.error().Message());
      return;
    }
    (*job)->Log("W", "Skipped: the previous run of schedule \"" + r.rule.name +
                         "\" was still running (Skip if already running)");
    if (auto done = (*job)->Finish(client::kJobSkippedAlreadyRunning, Json::object()); !done) {
      Log("the skipped run could not be reported: " + done.error().Message());
    }
  }

  void Reap() {
    auto ended = [&](pid_t pid, const std::string& what) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) != pid) return false;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      Log(what + " ended with exit code " + std::to_string(code));
      return true;
    };
    for (auto& [id, r] : rules_) {
      if (r.pid > 0 && ended(r.pid, "the run of schedule \"" + r.rule.name + "\"")) r.pid = 0;
    }
    std::erase_if(orphans_, [&](pid_t pid) { return ended(pid, "the run of a removed schedule"); });
  }

  static std::string SelfPath() {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "backup-tool";
  }

  Cli& cli_;
  client::Account& account_;
  const DaemonFlags flags_;
  std::mt19937_64 rng_;
  std::map<std::string, RuleState> rules_;
  std::vector<pid_t> orphans_;
};

}  // namespace

void AddDaemon(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<DaemonFlags>();
  auto* daemon = app.add_subcommand(
      "daemon", "run the account's Schedules in the foreground (the device's background service)");
  daemon
      ->add_option("--poll-seconds", f->poll_seconds,
                   "read the Schedules from the server this often (default 60)")
      ->check(CLI::Range(1, 86400));
  daemon->callback([&cli, f] {
    auto account = cli.Account();
    if (!account) {
      cli.exit_code = cli.Fatal(account.error());
      return;
    }
    Daemon d(cli, **account, *f);
    cli.exit_code = d.Run();
  });
}

}  // namespace halley::cli
