// SPDX-License-Identifier: Apache-2.0
#include "client/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "fs/fs.h"

extern char** environ;

namespace halley::client {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Without a pidfd (kernels before 5.3), how often the loop looks for the shell's exit once its
// pipes are closed.
constexpr std::chrono::milliseconds kExitPollTick{50};

// Splits one stream into lines, keeping at most the limits of CommandOptions.
class LineCollector {
 public:
  LineCollector(Stream stream, size_t max_bytes, size_t max_lines, std::vector<OutputLine>& out)
      : stream_(stream), max_bytes_(max_bytes), max_lines_(max_lines), out_(out) {}

  void Add(std::string_view data) {
    while (!data.empty()) {
      if (full_ || kept_lines_ >= max_lines_) {
        Overflow(data.size());
        return;
      }
      const size_t nl = data.find('\n');
      const std::string_view piece = nl == std::string_view::npos ? data : data.substr(0, nl);
      const size_t room = max_bytes_ - kept_bytes_;
      if (piece.size() > room) {
        partial_.append(piece.substr(0, room));
        kept_bytes_ += room;
        Overflow(data.size() - room);
        return;
      }
      partial_.append(piece);
      kept_bytes_ += piece.size();
      if (nl == std::string_view::npos) return;
      data.remove_prefix(nl + 1);
      EmitPartial();
    }
  }

  // The end of the stream: the last line without a line end, and the truncation note.
  void Finish() {
    if (!partial_.empty()) EmitPartial();
    if (dropped_ > 0) {
      out_.push_back(
          {stream_, "[output truncated: " + std::to_string(dropped_) + " more bytes not kept]"});
    }
  }

  bool Truncated() const { return dropped_ > 0; }

 private:
  void Overflow(size_t n) {
    if (!full_ && !partial_.empty()) EmitPartial();
    full_ = true;
    dropped_ += n;
  }
  void EmitPartial() {
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    out_.push_back({stream_, std::exchange(partial_, {})});
    ++kept_lines_;
  }

  const Stream stream_;
  const size_t max_bytes_, max_lines_;
  std::vector<OutputLine>& out_;
  std::string partial_;
  size_t kept_bytes_ = 0, kept_lines_ = 0;
  uint64_t dropped_ = 0;
  bool full_ = false;
};

// The child's environment: ours, with the names in `extra` replaced by its values.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    const bool replaced =
        std::any_of(extra.begin(), extra.end(), [&](const auto& kv) { return kv.first == name; });
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

Result<std::array<fs::Fd, 2>> Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Fail(ErrnoError("pipe", errno));
  return std::array<fs::Fd, 2>{fs::Fd(fds[0]), fs::Fd(fds[1])};
}

// Starts /bin/sh -c `command` as the leader of a new process group, stdin on /dev/null,
// stdout and stderr on the pipes' write ends. Returns its pid.
Result<pid_t> Spawn(const std::string& command, const std::vector<std::string>& env, int out_fd,
                    int err_fd) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&files, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&files, err_fd, STDERR_FILENO);
  // Our process blocks SIGINT and SIGTERM for its signal thread and may ignore SIGPIPE: the
  // command gets the defaults, or it could neither be stopped nor see a closed pipe.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  // A group of its own, so that stopping it reaches whatever the shell started.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::string arg0 = "sh", arg1 = "-c", arg2 = command;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, "/bin/sh", &files, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail(ErrnoError("cannot start /bin/sh", rc));
  return pid;
}

fs::Fd PidFd(pid_t pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return fs::Fd(static_cast<int>(fd));
  }
#else
  (void)pid;
#endif
  return fs::Fd();
}

int PollTimeout(SteadyClock::time_point now, std::optional<SteadyClock::time_point> until) {
  if (!until) return -1;
  if (*until <= now) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*until - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

}  // namespace

Result<CommandResult> RunCommand(const std::string& command, const CommandOptions& options) {
  if (command.empty()) return Fail(ErrorCode::kInvalidArgument, "the command is empty");
  if (command.find('\0') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "the command contains a NUL byte");
  }
  HALLEY_ASSIGN_OR_RETURN(auto out_pipe, Pipe());
  HALLEY_ASSIGN_OR_RETURN(auto err_pipe, Pipe());
  // Made before the child exists, so that a stop requested at any time after this is seen.
  fs::Fd wake;
  if (options.stop.stop_possible()) {
    wake = fs::Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake.Valid()) return Fail(ErrnoError("eventfd", errno));
  }
  auto on_stop = [fd = wake.Get()] {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
  };
  std::optional<std::stop_callback<decltype(on_stop)>> stop_callback;  // Dies before `wake`.
  if (wake.Valid()) stop_callback.emplace(options.stop, on_stop);

  HALLEY_ASSIGN_OR_RETURN(pid_t pid, Spawn(command, ChildEnvironment(options.env),
                                           out_pipe[1].Get(), err_pipe[1].Get()));
  out_pipe[1].Reset();
  err_pipe[1].Reset();
  const fs::Fd pidfd = PidFd(pid);

  CommandResult result;
  LineCollector out(Stream::kStdout, options.max_output_bytes, options.max_output_lines,
                    result.lines);
  LineCollector err(Stream::kStderr, options.max_output_bytes, options.max_output_lines,
                    result.lines);
  fs::Fd* const readers[2] = {&out_pipe[0], &err_pipe[0]};
  LineCollector* const collectors[2] = {&out, &err};

  const auto start = SteadyClock::now();
  std::optional<SteadyClock::time_point> deadline;
  if (options.timeout.count() > 0) deadline = start + options.timeout;
  std::optional<SteadyClock::time_point> kill_at;      // SIGKILL, if SIGTERM was not enough
  std::optional<SteadyClock::time_point> drain_until;  // once the shell has exited
  bool reaped = false, term_sent = false, stop_seen = false;
  int status = 0;
  std::vector<char> buf(64 * 1024);

  while (true) {
    if (!reaped) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        reaped = true;
        drain_until = SteadyClock::now() + options.drain_after_exit;
      } else if (r < 0 && errno != EINTR) {
        return Fail(ErrnoError("waiting for the command", errno));
      }
    }
    const bool pipes_open = out_pipe[0].Valid() || err_pipe[0].Valid();
    if (reaped && !pipes_open) break;
    auto now = SteadyClock::now();
    if (reaped && now >= *drain_until) {
      result.output_left_open = true;
      break;
    }
    if (!reaped) {
      // Signals go to the group only while the shell is unreaped: its pid, and so the group's
      // ID, cannot have been reused by then.
      const bool stop_now = stop_seen || (deadline && now >= *deadline);
      if (stop_now && !term_sent) {
        if (stop_seen) {
          result.cancelled = true;
        } else {
          result.timed_out = true;
        }
        ::kill(-pid, SIGTERM);
        term_sent = true;
        kill_at = now + options.kill_grace;
      }
      if (kill_at && now >= *kill_at) {
        ::kill(-pid, SIGKILL);
        kill_at.reset();
      }
    }

    std::optional<SteadyClock::time_point> wake_at;
    auto earliest = [&](std::optional<SteadyClock::time_point> t) {
      if (t && (!wake_at || *t < *wake_at)) wake_at = t;
    };
    if (!term_sent) earliest(deadline);
    earliest(kill_at);
    if (reaped) earliest(drain_until);
    if (!reaped && !pidfd.Valid() && !pipes_open) earliest(now + kExitPollTick);

    std::array<pollfd, 4> fds{};
    nfds_t n = 0;
    int index_of[2] = {-1, -1};
    for (int s = 0; s < 2; ++s) {
      if (readers[s]->Valid()) {
        index_of[s] = static_cast<int>(n);
        fds[n++] = {readers[s]->Get(), POLLIN, 0};
      }
    }
    if (!reaped && pidfd.Valid()) fds[n++] = {pidfd.Get(), POLLIN, 0};
    int wake_index = -1;
    if (wake.Valid() && !stop_seen) {
      wake_index = static_cast<int>(n);
      fds[n++] = {wake.Get(), POLLIN, 0};
    }
    const int ready = ::poll(fds.data(), n, PollTimeout(now, wake_at));
    if (ready < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      if (!reaped) {  // not left behind running, nor as a zombie
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
      }
      return Fail(ErrnoError("poll", e));
    }
    for (int s = 0; s < 2; ++s) {
      if (index_of[s] < 0 || fds[index_of[s]].revents == 0) continue;
      const ssize_t got = ::read(readers[s]->Get(), buf.data(), buf.size());
      if (got > 0) {
        if (s == 1) result.wrote_stderr = true;
        collectors[s]->Add(std::string_view(buf.data(), static_cast<size_t>(got)));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        readers[s]->Reset();
        collectors[s]->Finish();
      }
    }
    if (wake_index >= 0 && fds[wake_index].revents != 0) stop_seen = true;
    if (!stop_seen && options.stop.stop_requested()) stop_seen = true;
  }
  for (int s = 0; s < 2; ++s) {
    if (readers[s]->Valid()) {
      readers[s]->Reset();
      collectors[s]->Finish();
    }
  }
  result.truncated = out.Truncated() || err.Truncated();
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

std::string_view HookPhaseName(HookPhase phase) {
  switch (phase) {
    case HookPhase::kPre:
      return "pre";
    case HookPhase::kThaw:
      return "thaw";
    case HookPhase::kPost:
      return "post";
  }
  return "";
}

const char* HookField(HookPhase phase) {
  switch (phase) {
    case HookPhase::kPre:
      return "PreExec";
    case HookPhase::kThaw:
      return "ThawExec";
    case HookPhase::kPost:
      return "PostExec";
  }
  return "";
}

std::string_view SectionNoun(std::string_view section) {
  if (section == "BackupRules") return "Schedule";
  if (section == "Destinations") return "Storage Vault";
  if (section == "Sources") return "Protected Item";
  return "";
}

std::vector<std::string> CommandList(const Json& entry, const char* field) {
  std::vector<std::string> out;
  if (!entry.is_object()) return out;
  const auto it = entry.find(field);
  if (it == entry.end() || !it->is_array()) return out;
  for (const Json& c : *it) {
    if (c.is_string() && !c.get_ref<const std::string&>().empty()) {
      out.push_back(c.get<std::string>());
    }
  }
  return out;
}

std::vector<JobCommand> CommandsFor(const Json& profile, HookPhase phase,
                                    const std::string& schedule_id, const std::string& vault_id,
                                    const std::string& item_id) {
  std::vector<std::pair<const char*, const std::string*>> order = {
      {"BackupRules", &schedule_id}, {"Destinations", &vault_id}, {"Sources", &item_id}};
  if (phase == HookPhase::kPost) std::reverse(order.begin(), order.end());
  std::vector<JobCommand> out;
  if (!profile.is_object()) return out;
  for (const auto& [section, id] : order) {
    if (id->empty()) continue;
    const auto s = profile.find(section);
    if (s == profile.end() || !s->is_object()) continue;
    const auto entry = s->find(*id);
    if (entry == s->end()) continue;
    for (std::string& c : CommandList(*entry, HookField(phase))) {
      out.push_back({section, *id, std::move(c)});
    }
  }
  return out;
}

}  // namespace halley::client
