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
// progress finishes). The random delay of a due time is drawn from the rule's ID and that
// time, so the plan reported to the server (the next due times of every rule, for missed-job
// detection: client/schedule_plan.h) is the one the daemon keeps.
//
// The live connection (client/live_link.h, docs/live.md) carries the administrators'
// dispatcher requests; each becomes a child run like a schedule's (run-backup, unlock, ...)
// or is answered here (refetch-profile, update-login-url, ...). Children die with the daemon
// (a killed daemon leaves no unsupervised run; the server marks its job abandoned).
//
// SIGTERM or SIGINT interrupts the running children, waits for them to report, and exits 0.
// Runs in the foreground, for systemd (packaging/backup-tool.service).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "client/account.h"
#include "client/events.h"
#include "client/live_link.h"
#include "client/schedule.h"
#include "client/schedule_plan.h"
#include "commands.h"
#include "crypto/login.h"
#include "crypto/random.h"

extern char** environ;

namespace halley::cli {
namespace {

using Clock = std::chrono::system_clock;

struct DaemonFlags {
  int poll_seconds = 60;
  bool no_live = false;
  bool allow_admin_filenames = false;
};

// A dispatcher request waiting for the daemon's thread.
struct Task {
  std::string action;
  Json params;
  client::LiveReply reply;
};

constexpr int kRetentionDeleteExcept = 802;  // RetentionPolicy.Mode

Json Answer(int status, const std::string& message) {
  return {{"Status", status}, {"Message", message}};
}

// The path of this program, for child runs.
std::string SelfPath() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "backup-tool";
}

// Starts `args` (argv[0] included) as a child that dies with this process, with default signal
// handling, stdin and stdout on /dev/null unless `stdout_fd` is given, stderr shared. 0 and a
// message on failure.
pid_t Spawn(std::vector<std::string> args, int stdout_fd, std::string* error,
            const std::string& cancellation_id = "") {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // This process blocks SIGINT and SIGTERM for its signal thread: the child must not.
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
  if (stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&files, stdout_fd, STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  }
  // The child asks the kernel to kill it if this process dies (main.cc).
  // Its job carries `cancellation_id`, by which admin/job/cancel finds it.
  std::vector<std::string> env_strings = {"BACKUP_TOOL_DAEMON_PID=" + std::to_string(::getpid()),
                                          "BACKUP_TOOL_CANCELLATION_ID=" + cancellation_id};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "BACKUP_TOOL_DAEMON_PID=", 23) != 0 &&
        std::strncmp(*e, "BACKUP_TOOL_CANCELLATION_ID=", 28) != 0) {
      env_strings.emplace_back(*e);
    }
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &files, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    *error = std::strerror(rc);
    return 0;
  }
  return pid;
}

struct Rule {
  std::string id, name, item, vault;
  std::vector<client::Schedule> schedules;
  bool skip_already_running = false;
  int64_t stop_after = 0;
  int64_t limit_bps = 0;
  bool one_disk_thread = false;  // ReduceDiskConcurrency
  int retention_level = 0;       // AutoRetentionLevel
  bool on_boot = false, on_boot_if_missed = false;
  int retries = 0;  // OnLastJobFailDoRetry ? LastJobFailDoRetryCount : 0
  std::chrono::minutes retry_wait{30};
  int64_t create_time = 0;
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
  int retries_done = 0;  // of the failed run being retried
  std::optional<Clock::time_point> retry_at;
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
  Daemon(Cli& cli, const client::Account& account, const DaemonFlags& flags)
      : cli_(cli), account_(std::make_unique<client::Account>(account.State())), flags_(flags) {}

  int Run() {
    Log("started; schedules are read every " + std::to_string(flags_.poll_seconds) + " s");
    const std::stop_token stop = cli_.StopToken();
    if (!flags_.no_live) StartLink();
    auto next_poll = Clock::now();
    while (!stop.stop_requested() && !exit_requested_) {
      const auto now = Clock::now();
      if (now >= next_poll || refresh_requested_) {
        refresh_requested_ = false;
        Refresh(now);
        next_poll = now + std::chrono::seconds(flags_.poll_seconds);
      }
      Reap();
      for (auto& [id, r] : rules_) Tend(r, now);
      ReportPlan(now);
      Serve();
      if (relink_) {
        relink_ = false;
        StopLink();
        StartLink();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    StopLink();
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
    for (std::thread& t : workers_) t.join();
    Log("stopped");
    return kExitOk;
  }

 private:
  // To stderr (systemd's journal for the service) and as the product's event 55.
  void Log(const std::string& text) const {
    cli_.Warn("daemon " + Now() + ": " + text + "\n");
    client::DaemonEvent('I', text);
  }

  // --- the live connection ---

  void StartLink() {
    const client::LoginState& s = account_->State();
    client::LiveLinkOptions o;
    o.server = s.server;
    o.ca_file = s.ca_file;
    o.username = s.username;
    o.secret = s.Creds().secret;
    o.device_id = s.device_id;
    o.version = HALLEY_VERSION;
    o.allows_filenames = flags_.allow_admin_filenames;
    link_ = std::make_unique<client::LiveLink>(
        std::move(o),
        [this](const std::string& action, const Json& params, client::LiveReply reply) {
          std::lock_guard lock(tasks_mu_);
          tasks_.push_back({action, params, std::move(reply)});
        },
        [this](client::LiveState state, const std::string& message) {
          if (state == client::LiveState::kConnected) {
            Log("live connection to " + account_server_ + " up (connection " + message + ")");
          } else if (state == client::LiveState::kDisconnected && message != "stopped") {
            Log("live connection down: " + message);
          }
        });
    account_server_ = s.server;
    link_thread_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        auto ran = link_->Run(stop);
        if (ran || stop.stop_requested()) return;
        // Refused credentials or device: say so, and try again now and then (an admin may
        // re-register the device), without hammering the server's login protection.
        Log("the server refused the live connection: " + ran.error().Message() +
            "; trying again in 5 minutes");
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        cv.wait_for(lock, stop, std::chrono::minutes(5), [] { return false; });
      }
    });
  }

  void StopLink() {
    if (!link_thread_.joinable()) return;
    link_thread_.request_stop();
    link_thread_.join();
    link_.reset();
  }

  // Handles the dispatcher requests that arrived since the last tick.
  void Serve() {
    std::deque<Task> tasks;
    {
      std::lock_guard lock(tasks_mu_);
      tasks.swap(tasks_);
    }
    for (Task& t : tasks) {
      Log("dispatcher request: " + t.action);
      Json answer = Handle(t.action, t.params, t.reply);
      if (!answer.is_null()) t.reply(std::move(answer));
    }
  }

  static std::string Param(const Json& params, const char* name) {
    return params.contains(name) && params[name].is_string() ? params[name].get<std::string>() : "";
  }

  // Answers a request at once, or returns null when `reply` will be called later (work on a
  // worker thread).
  Json Handle(const std::string& action, const Json& params, client::LiveReply& reply) {
    const std::string vault = Param(params, "Destination").empty() ? Param(params, "DestinationID")
                                                                   : Param(params, "Destination");
    if (action == "run-backup") {
      auto it = rules_.find(Param(params, "BackupRule"));
      if (it == rules_.end())
        return Answer(404, "No schedule '" + Param(params, "BackupRule") + "'");
      RuleState& r = it->second;
      if (r.pid == 0) {
        Start(r);
        return r.pid > 0 ? Answer(200, "OK") : Answer(500, "the backup could not be started");
      }
      if (r.rule.skip_already_running) {
        Skipped(r);
        return Answer(200, "Skipped: the schedule is already running");
      }
      r.pending = true;
      return Answer(200, "OK: starts when the run in progress ends");
    }
    if (action == "run-backup-custom") {
      if (Param(params, "Source").empty() || vault.empty()) {
        return Answer(400, "missing parameter Source or Destination");
      }
      return Child({"--vault", vault, "backup", "--item", Param(params, "Source")});
    }
    if (action == "run-restore" || action == "run-restore-custom") {
      std::string target = Param(params, "Path");
      if (target.empty() || vault.empty())
        return Answer(400, "missing parameter Path or Destination");
      std::string snapshot = Param(params, "Snapshot");
      if (snapshot.empty()) snapshot = "latest";
      std::vector<std::string> args = {"--vault", vault, "restore", snapshot, "--target", target};
      if (auto paths = ParseList(params, "Paths")) {
        for (const std::string& p : *paths) args.insert(args.end(), {"--include", p});
      }
      return Child(args);
    }
    if (action == "apply-retention-rules") return Retention(vault);
    if (action == "reindex-storage-vault") return Child({"--vault", vault, "rebuild-index"});
    if (action == "deepverify-storage-vault") {
      return Child({"--vault", vault, "check", "--read-data"});
    }
    if (action == "unlock") {
      std::vector<std::string> args = {"--vault", vault, "unlock"};
      if (Param(params, "AllowUnsafe") == "true" || Param(params, "AllowUnsafe") == "1") {
        args.push_back("--remove-all");
      }
      return Child(args);
    }
    if (action == "refetch-profile") {
      refresh_requested_ = true;
      return Answer(200, "OK");
    }
    if (action == "update-login-password") return UpdateLoginPassword(Param(params, "NewPassword"));
    if (action == "update-login-url") {
      const std::string force = Param(params, "Force");
      return UpdateLoginUrl(Param(params, "NewURL"), force == "true" || force == "1");
    }
    if (action == "request-vault-snapshots") {
      return Captured({"--vault", vault, "snapshots", "--json"}, reply, [](const Json& out) {
        Json list = Json::array();
        for (const Json& s : out.is_array() ? out : Json::array()) {
          list.push_back(
              {{"Snapshot", s.value("id", "")},
               {"EngineType", "engine1/file"},
               {"Source",
                s.value("tags", Json::array()).empty() ? "" : s["tags"][0].get<std::string>()},
               {"CreateTime", s.value("time", "")},
               {"HasOriginalPathInfo", true},
               {"Tags", s.value("tags", Json::array())}});
        }
        return Json{{"Status", 200}, {"Message", "OK"}, {"Snapshots", list}};
      });
    }
    if (action == "request-stored-objects") {
      // A snapshot's root tree, or the subtree an earlier answer named (browsing down).
      std::string tree = Param(params, "TreeID");
      if (tree.empty()) tree = Param(params, "SnapshotID");
      if (tree.empty() || vault.empty()) {
        return Answer(400, "missing parameter SnapshotID or Destination");
      }
      return Captured({"--vault", vault, "cat", "tree", tree}, reply, [](const Json& t) {
        Json list = Json::array();
        const Json nodes = t.is_object() ? t.value("nodes", Json::array()) : Json::array();
        for (const Json& n : nodes) {
          if (!n.is_object()) continue;
          Json o = {{"name", n.value("name", "")},
                    {"type", n.value("type", "")},
                    {"mtime", n.value("mtime", "")},
                    {"size", n.value("size", 0)}};
          if (n.contains("subtree")) o["subtree"] = n["subtree"];
          list.push_back(std::move(o));
        }
        return Json{{"Status", 200}, {"Message", "OK"}, {"StoredObjects", list}};
      });
    }
    if (action == "delete-snapshot" || action == "delete-snapshots") {
      std::vector<std::string> args = {"--vault", vault, "forget"};
      if (!Param(params, "SnapshotID").empty()) args.push_back(Param(params, "SnapshotID"));
      if (auto ids = ParseList(params, "SnapshotIDs"))
        args.insert(args.end(), ids->begin(), ids->end());
      if (args.size() == 3) return Answer(400, "missing parameter SnapshotID(s)");
      return Captured(args, reply, [](const Json&) { return Answer(200, "OK"); });
    }
    if (action == "request-filesystem-objects") {
      if (!flags_.allow_admin_filenames) return Answer(403, "This device does not share filenames");
      return ListDirectory(Param(params, "Path"));
    }
    if (action == "cancel-job") {
      auto it = cancellable_.find(Param(params, "CancellationID"));
      if (it == cancellable_.end()) return Answer(404, "No run of this device has that job");
      ::kill(it->second, SIGINT);  // it stops, unlocks its vault and reports 7005
      for (auto& [id, r] : rules_) {
        if (r.pid == it->second) r.stop_sent = true;  // cancelled: not a failure to retry
      }
      return Answer(200, "OK");
    }
    if (action == "kill-process") {
      exit_requested_ = true;
      return Answer(200, "OK");
    }
    return Answer(400, "This device does not support '" + action + "'");
  }

  // A JSON-encoded string list parameter.
  static std::optional<std::vector<std::string>> ParseList(const Json& params, const char* name) {
    const std::string text = Param(params, name);
    if (text.empty()) return std::nullopt;
    auto j = ParseJson(text);
    if (!j || !j->is_array()) return std::nullopt;
    std::vector<std::string> out;
    for (const Json& v : *j) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
    return out;
  }

  // Starts a child run that reports itself as a job.
  Json Child(std::vector<std::string> args) {
    std::string error;
    const std::string cancel = crypto::NewUuid();
    const pid_t pid = Spawn(ChildArgs(args), -1, &error, cancel);
    if (pid == 0) return Answer(500, "could not start: " + error);
    cancellable_[cancel] = pid;
    Log("started `" + Joined(args) + "` (pid " + std::to_string(pid) + ")");
    orphans_.push_back(pid);
    return Answer(200, "OK");
  }

  // Runs `args` with --json on a worker thread and answers with `shape` of its output.
  Json Captured(const std::vector<std::string>& args, client::LiveReply& reply,
                std::function<Json(const Json&)> shape) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Answer(500, std::strerror(errno));
    std::string error;
    const pid_t pid = Spawn(ChildArgs(args), fds[1], &error);
    ::close(fds[1]);
    if (pid == 0) {
      ::close(fds[0]);
      return Answer(500, "could not start: " + error);
    }
    workers_.emplace_back([fd = fds[0], pid, reply = std::move(reply), shape = std::move(shape)] {
      std::string out;
      char buf[65536];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);) {
        if (n > 0 && out.size() < (64u << 20)) out.append(buf, static_cast<size_t>(n));
      }
      ::close(fd);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        reply(Answer(500, "the command failed with exit code " +
                              std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1)));
        return;
      }
      auto j = ParseJson(out, JsonLimits{64u << 20, 64});
      try {
        reply(shape(j ? *j : Json()));
      } catch (const std::exception& e) {  // output of an unexpected shape
        reply(Answer(500, std::string("unexpected output: ") + e.what()));
      }
    });
    return nullptr;
  }

  // The vault's DefaultRetention (null if the vault or its policy cannot be read).
  Json RetentionPolicy(const std::string& vault) {
    auto p = account_->GetProfile();
    if (!p) return nullptr;
    auto v = client::FindEntry(p->profile, "Destinations", vault);
    if (!v) return nullptr;
    const Json policy = p->profile["Destinations"][*v].value("DefaultRetention", Json());
    return policy.is_object() ? policy : Json();
  }

  // The product's retention pass (`retention`) with the vault's DefaultRetention.
  Json Retention(const std::string& vault) {
    const Json policy = RetentionPolicy(vault);
    if (!policy.is_object()) return Answer(404, "The vault has no retention policy");
    const std::string file = TempDir() + "/halley-retention-" + std::to_string(::getpid()) + "-" +
                             std::to_string(++temp_counter_) + ".json";
    std::ofstream(file) << policy.dump();
    Json answer = Child({"--vault", vault, "retention", "--policy", file});
    if (answer.value("Status", 0) == 200) {
      temp_files_[orphans_.back()] = file;
    } else {
      std::filesystem::remove(file);
    }
    return answer;
  }

  // This device's FriendlyName in the account's profile ("device" if it cannot be read).
  static std::string DeviceName(const client::Account& account) {
    auto p = account.GetProfile();
    if (!p) return "device";
    const Json devices = p->profile.value("Devices", Json::object());
    const std::string& id = account.State().device_id;
    if (!devices.contains(id) || !devices[id].is_object()) return "device";
    return devices[id].value("FriendlyName", "device");
  }

  // Moves this device to another server: only if it logs in and registers there with its
  // credentials, unless `force` (the new server is not up yet): then it moves regardless and
  // registers once the new server answers.
  Json UpdateLoginUrl(const std::string& url, bool force) {
    auto normalized = client::NormalizeServerUrl(url);
    if (!normalized) return Answer(400, normalized.error().Message());
    client::LoginState next = account_->State();
    next.server = *normalized;
    auto moved = std::make_unique<client::Account>(next);
    // The new server's copy of the account must know this device, under the same name.
    const std::string name = DeviceName(*account_);
    const Result<void> registered = [&]() -> Result<void> {
      HALLEY_RETURN_IF_ERROR(moved->GetProfile());
      return moved->RegisterDevice(name, HALLEY_VERSION);
    }();
    std::string message = "OK";
    if (!registered) {
      const std::string why = "The device could not log in and register at " + *normalized + ": " +
                              registered.error().Message();
      if (!force) {
        Log("not moving to " + *normalized + ": " + registered.error().Message());
        return Answer(502, why + "; it stays at " + account_->State().server);
      }
      message = why + "; moved anyway (Force), it registers once the server answers";
      pending_registration_ = name;
    } else {
      pending_registration_.clear();
    }
    if (auto saved = client::SaveLogin(client::ConfigDir(), next); !saved) {
      return Answer(500, saved.error().Message());
    }
    Log("moved to " + *normalized + (registered ? "" : " without a test login (Force)"));
    account_ = std::move(moved);
    relink_ = true;  // after this answer has gone out on the old connection
    refresh_requested_ = true;
    return Answer(200, message);
  }

  // After the account's password changed elsewhere (an administrator's reset): logs in with
  // the new one, which passes through and is never stored, re-wraps the vault keys if the
  // reset left them under the recovery key, and keeps the new login. Stays on failure.
  Json UpdateLoginPassword(std::string password) {
    if (password.empty()) return Answer(400, "NewPassword is required");
    client::LoginState next = account_->State();
    const crypto::LoginKeys keys = crypto::DeriveLoginKeys(next.username, password);
    SecureZero(password.data(), password.size());
    next.l = keys.l;
    next.r = keys.r;
    auto updated = std::make_unique<client::Account>(next);
    if (auto reg = updated->RegisterDevice(DeviceName(*updated), HALLEY_VERSION); !reg) {
      Log("the new password was not accepted: " + reg.error().Message());
      return Answer(reg.error().Code() == ErrorCode::kUnauthenticated ? 403 : 502,
                    "The device could not log in with the new password: " + reg.error().Message() +
                        "; it keeps its login");
    }
    if (auto recovered = updated->FinishPasswordReset(); !recovered) {
      return Answer(500, "Logged in, but the vault keys could not be re-wrapped: " +
                             recovered.error().Message() + "; the device keeps its login");
    }
    if (auto saved = client::SaveLogin(client::ConfigDir(), next); !saved) {
      return Answer(500, saved.error().Message());
    }
    Log("logged in with a new password");
    account_ = std::move(updated);
    relink_ = true;
    refresh_requested_ = true;
    return Answer(200, "OK");
  }

  static Json ListDirectory(const std::string& path) {
    Json list = Json::array();
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path.empty() ? "/" : path, ec)) {
      std::error_code ignored;
      const bool dir = e.is_directory(ignored);
      list.push_back({{"Name", e.path().filename().string()},
                      {"Type", dir ? "dir" : "file"},
                      {"Size", dir ? 0 : static_cast<int64_t>(e.file_size(ignored))}});
    }
    if (ec) return Answer(404, path + ": " + ec.message());
    return {{"Status", 200}, {"Message", "OK"}, {"StoredObjects", list}};
  }

  static std::string TempDir() {
    const char* t = std::getenv("TMPDIR");
    return t != nullptr && *t != '\0' ? t : "/tmp";
  }

  static std::string Joined(const std::vector<std::string>& args) {
    std::string out;
    for (const std::string& a : args) out += (out.empty() ? "" : " ") + a;
    return out;
  }

  // The global options this daemon was given, then `args`.
  std::vector<std::string> ChildArgs(const std::vector<std::string>& args,
                                     int64_t limit_bps = 0) const {
    // A run waits for a moment's lock (someone listing snapshots) instead of failing.
    std::vector<std::string> out = {SelfPath(), "--quiet", "--retry-lock", "600"};
    const GlobalOptions& g = cli_.global;
    if (g.retry_seconds != 300)
      out.insert(out.end(), {"--retry-seconds", std::to_string(g.retry_seconds)});
    if (g.connections > 0) out.insert(out.end(), {"--connections", std::to_string(g.connections)});
    int64_t limit_kib = g.limit_upload_kib;
    if (limit_bps > 0) limit_kib = std::max<int64_t>(1, limit_bps / 1024);
    if (limit_kib > 0) out.insert(out.end(), {"--limit-upload", std::to_string(limit_kib)});
    if (g.limit_download_kib > 0) {
      out.insert(out.end(), {"--limit-download", std::to_string(g.limit_download_kib)});
    }
    for (const std::string& o : g.options) out.insert(out.end(), {"-o", o});
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  // --- the schedule plan, for the server's missed-backup detection ---

  void ReportPlan(Clock::time_point now) {
    Json plan = Json::object();
    for (const auto& [id, r] : rules_) {
      Json times = Json::array();
      std::optional<Clock::time_point> t = r.nominal;
      const auto horizon = now + std::chrono::seconds(client::kPlanHorizonSeconds);
      while (t && *t < horizon && times.size() < client::kMaxPlanTimesPerRule) {
        times.push_back(Clock::to_time_t(DelayOf(r.rule, *t)));
        t = NextNominal(r.rule, *t + std::chrono::seconds(1));
      }
      if (!times.empty() && plan.size() < client::kMaxPlanRules) {
        plan[id] = {{"Source", r.rule.item}, {"Destination", r.rule.vault}, {"Times", times}};
      }
    }
    // Sent when it changes, and hourly (the server may have restarted with an older copy).
    if (plan == reported_plan_ && now < plan_reported_at_ + std::chrono::hours(1)) return;
    if (now < plan_retry_at_) return;
    auto sent = client::ReportSchedulePlan(*account_, account_->State().device_id, plan);
    if (!sent) {
      Log("could not report the schedule plan (missed-backup detection): " +
          sent.error().Message());
      plan_retry_at_ = now + std::chrono::minutes(1);
      return;
    }
    reported_plan_ = std::move(plan);
    plan_reported_at_ = now;
  }

  size_t Running() const {
    size_t n = orphans_.size();
    for (const auto& [id, r] : rules_) n += r.pid > 0;
    return n;
  }

  // Reads the rules from the profile; new and changed ones get their next due time.
  void Refresh(Clock::time_point now) {
    auto p = account_->GetProfile();
    if (!p) {
      Log("cannot read the profile (schedules unchanged): " + p.error().Message());
      return;
    }
    if (!pending_registration_.empty()) {
      // A forced move (update-login-url): the new server answers now.
      if (auto reg = account_->RegisterDevice(pending_registration_, HALLEY_VERSION); !reg) {
        Log("cannot register at " + account_->State().server + ": " + reg.error().Message());
      } else {
        Log("registered at " + account_->State().server);
        pending_registration_.clear();
        relink_ = true;  // the live connection was refused until now
      }
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
      rule.one_disk_thread = j.value("ReduceDiskConcurrency", false);
      rule.retention_level = static_cast<int>(client::IntField(j, "AutoRetentionLevel"));
      const Json triggers = j.value("EventTriggers", Json::object());
      rule.on_boot = triggers.value("OnPCBoot", false);
      rule.on_boot_if_missed = triggers.value("OnPCBootIfLastJobMissed", false);
      if (triggers.value("OnLastJobFailDoRetry", false)) {
        rule.retries = static_cast<int>(
            std::clamp<int64_t>(client::IntField(triggers, "LastJobFailDoRetryCount"), 0, 100));
        rule.retry_wait = std::chrono::minutes(
            std::clamp<int64_t>(client::IntField(triggers, "LastJobFailDoRetryTime"), 1, 10080));
      }
      rule.create_time = client::IntField(j, "CreateTime");
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
    if (!booted_) {
      booted_ = true;
      Boot(now);
    }
  }

  // The daemon's start stands for the device's boot: EventTriggers.OnPCBoot runs a rule now,
  // OnPCBootIfLastJobMissed only if a due time passed since its last backup began (or since
  // it was created) while the daemon was not running.
  void Boot(Clock::time_point now) {
    std::optional<Json> jobs;
    for (auto& [id, r] : rules_) {
      bool run = r.rule.on_boot;
      if (!run && r.rule.on_boot_if_missed) {
        if (!jobs) {
          auto j = account_->Call("user/web/get-jobs");
          jobs = j && j->is_array() ? *j : Json::array();
          if (!j) Log("cannot read past jobs for missed-run triggers: " + j.error().Message());
        }
        int64_t last = r.rule.create_time;
        for (const Json& job : *jobs) {
          if (client::StringField(job, "SourceGUID") == r.rule.item &&
              client::StringField(job, "DestinationGUID") == r.rule.vault) {
            last = std::max(last, client::IntField(job, "StartTime"));
          }
        }
        const auto missed = NextNominal(r.rule, Clock::from_time_t(last));
        run = missed && *missed < now;
      }
      if (run && r.pid == 0) {
        Log("schedule \"" + r.rule.name + "\": running at start (" +
            (r.rule.on_boot ? "run when the device starts" : "the last run was missed") + ")");
        Start(r);
      }
    }
  }

  // After a run of `r` ended with `code`: a failure is retried (OnLastJobFailDoRetry), a
  // success may be followed by a retention pass (AutoRetentionLevel).
  void Ended(RuleState& r, int code) {
    const bool ok = code == kExitOk || code == kExitPartial;
    const bool stopped = code == kExitInterrupted;  // StopAfter or a stop: not a failure
    if (!ok && !stopped && r.retries_done < r.rule.retries) {
      ++r.retries_done;
      r.retry_at = Clock::now() + r.rule.retry_wait;
      Log("schedule \"" + r.rule.name + "\": retry " + std::to_string(r.retries_done) + " of " +
          std::to_string(r.rule.retries) + " in " + std::to_string(r.rule.retry_wait.count()) +
          " minute(s)");
      return;
    }
    r.retries_done = 0;
    if (!ok) return;
    // AutoRetentionLevel: 1 after every run, 2 at most hourly, 0 (automatic) at most daily,
    // 3 at most weekly.
    static constexpr std::chrono::hours kEvery[] = {std::chrono::hours(24), std::chrono::hours(0),
                                                    std::chrono::hours(1),
                                                    std::chrono::hours(24 * 7)};
    const int level = std::clamp(r.rule.retention_level, 0, 3);
    auto last = last_retention_.find(r.rule.vault);
    if (last != last_retention_.end() && Clock::now() - last->second < kEvery[level]) return;
    const Json policy = RetentionPolicy(r.rule.vault);
    if (!policy.is_object() || policy.value("Mode", 0) != kRetentionDeleteExcept) return;
    last_retention_[r.rule.vault] = Clock::now();
    Log("schedule \"" + r.rule.name + "\": applying the vault's retention policy");
    Retention(r.rule.vault);
  }

  // The earliest due time of `rule`'s schedules after `after`, before the random delay.
  static std::optional<Clock::time_point> NextNominal(const Rule& rule, Clock::time_point after) {
    std::optional<Clock::time_point> next;
    for (const client::Schedule& s : rule.schedules) {
      auto t = client::NextRun(s, after);
      if (t && (!next || *t < *next)) next = t;
    }
    return next;
  }

  // `nominal` plus its random delay, drawn from the rule's ID and the time so that the same
  // due time always gets the same delay (the plan the server checks is the one that runs).
  static Clock::time_point DelayOf(const Rule& rule, Clock::time_point nominal) {
    for (const client::Schedule& s : rule.schedules) {
      if (client::NextRun(s, nominal - std::chrono::seconds(1)) != nominal) continue;
      const uint64_t id = std::hash<std::string>{}(rule.id);
      const auto t = static_cast<uint64_t>(Clock::to_time_t(nominal));
      std::seed_seq seed{static_cast<uint32_t>(id), static_cast<uint32_t>(id >> 32),
                         static_cast<uint32_t>(t), static_cast<uint32_t>(t >> 32)};
      std::mt19937_64 rng(seed);
      return client::Delay(s, nominal, rng);
    }
    return nominal;
  }

  // The next due time of `r` after `after`.
  void Plan(RuleState& r, Clock::time_point after) {
    r.nominal = NextNominal(r.rule, after);
    r.due.reset();
    if (r.nominal) r.due = DelayOf(r.rule, *r.nominal);
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
    if (r.pid == 0 && r.retry_at && *r.retry_at <= now) {
      r.retry_at.reset();
      Log("schedule \"" + r.rule.name + "\": retrying the failed run");
      Start(r);
    }
    if (!r.due || *r.due > now) return;
    r.retry_at.reset();  // a due run replaces a pending retry
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
    std::string error;
    const std::string cancel = crypto::NewUuid();
    const pid_t pid = Spawn(ChildArgs(BackupArgs(r.rule), r.rule.limit_bps), -1, &error, cancel);
    if (pid == 0) {
      Log("cannot start the run of schedule \"" + r.rule.name + "\": " + error);
      return;
    }
    cancellable_[cancel] = pid;
    r.pid = pid;
    r.started = Clock::now();
    r.stop_sent = false;
    Log("schedule \"" + r.rule.name + "\": backing up item " + r.rule.item + " to vault " +
        r.rule.vault + " (pid " + std::to_string(pid) + ")");
  }

  static std::vector<std::string> BackupArgs(const Rule& rule) {
    std::vector<std::string> args = {"--vault", rule.vault,   "backup", "--item",
                                     rule.item, "--schedule", rule.id};
    if (rule.one_disk_thread) args.insert(args.end(), {"--workers", "1"});
    return args;
  }

  // A run skipped by SkipAlreadyRunning is still a job, so that the server shows it.
  void Skipped(RuleState& r) {
    Log("schedule \"" + r.rule.name + "\": skipped, the previous run is still going");
    auto job = client::JobReport::Start(*account_,
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
    // The exit code of `pid` if it has ended, else -1.
    auto ended = [&](pid_t pid, const std::string& what) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) != pid) return -1;
      std::erase_if(cancellable_, [pid](const auto& c) { return c.second == pid; });
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      Log(what + " ended with exit code " + std::to_string(code));
      return code;
    };
    for (auto& [id, r] : rules_) {
      if (r.pid <= 0) continue;
      const int code = ended(r.pid, "the run of schedule \"" + r.rule.name + "\"");
      if (code < 0) continue;
      r.pid = 0;
      Ended(r, r.stop_sent ? kExitInterrupted : code);
    }
    std::erase_if(orphans_, [&](pid_t pid) {
      if (ended(pid, "a run") < 0) return false;
      if (auto f = temp_files_.find(pid); f != temp_files_.end()) {
        std::error_code ignored;
        std::filesystem::remove(f->second, ignored);
        temp_files_.erase(f);
      }
      return true;
    });
  }

  Cli& cli_;
  std::unique_ptr<client::Account> account_;  // replaced by update-login-url
  const DaemonFlags flags_;
  std::map<std::string, RuleState> rules_;
  std::vector<pid_t> orphans_;  // runs not tied to a rule: dispatcher runs, removed rules

  std::unique_ptr<client::LiveLink> link_;
  std::jthread link_thread_;
  std::string account_server_;
  std::mutex tasks_mu_;
  std::deque<Task> tasks_;  // guarded by tasks_mu_
  std::vector<std::thread> workers_;
  bool refresh_requested_ = false;
  bool relink_ = false;
  std::string pending_registration_;  // the device name to register with after a forced move
  bool exit_requested_ = false;
  bool booted_ = false;
  int temp_counter_ = 0;
  std::map<pid_t, std::string> temp_files_;
  std::map<std::string, pid_t> cancellable_;  // running children by their job's CancellationID  //
                                              // a run's policy file, removed when it ends
  std::map<std::string, Clock::time_point> last_retention_;  // by vault

  Json reported_plan_;
  Clock::time_point plan_reported_at_{};
  Clock::time_point plan_retry_at_{};
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
  daemon->add_flag("--no-live", f->no_live,
                   "do not keep the live connection (no dispatcher requests from the server)");
  daemon->add_flag("--allow-admin-filenames", f->allow_admin_filenames,
                   "let administrators browse this device's files (request-filesystem-objects)");
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
