// SPDX-License-Identifier: Apache-2.0
#include "client/hooks.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/test_util.h"

namespace halley::client {
namespace {

using namespace std::chrono_literals;
using testutil::FailsWith;
using testutil::Succeeds;

std::vector<std::string> Lines(const CommandResult& r, Stream stream) {
  std::vector<std::string> out;
  for (const OutputLine& l : r.lines) {
    if (l.stream == stream) out.push_back(l.text);
  }
  return out;
}

CommandResult Exec(const std::string& command, const CommandOptions& options = {}) {
  auto r = RunCommand(command, options);
  EXPECT_TRUE(Succeeds(r));
  return r ? *r : CommandResult{};
}

TEST(RunCommand, SilentSuccessIsNoWarning) {
  const CommandResult r = Exec("true");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.wrote_stderr);
  EXPECT_TRUE(r.lines.empty());
  EXPECT_FALSE(r.Warning());
}

TEST(RunCommand, StdoutAloneIsNoWarning) {
  const CommandResult r = Exec("echo one; printf 'two\\r\\nthree'");
  EXPECT_EQ(Lines(r, Stream::kStdout), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_FALSE(r.Warning());
}

TEST(RunCommand, NonZeroExitIsAWarning) {
  const CommandResult r = Exec("exit 3");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.wrote_stderr);
  EXPECT_TRUE(r.Warning());
}

TEST(RunCommand, StderrOutputIsAWarningEvenWithExitZero) {
  const CommandResult r = Exec("echo out; echo 'something odd' >&2; exit 0");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.wrote_stderr);
  EXPECT_EQ(Lines(r, Stream::kStderr), std::vector<std::string>{"something odd"});
  EXPECT_EQ(Lines(r, Stream::kStdout), std::vector<std::string>{"out"});
  EXPECT_TRUE(r.Warning());
  // The spec's ways out: 2>&1, or "; exit 0".
  EXPECT_FALSE(Exec("(echo 'something odd' >&2) 2>&1").Warning());
  EXPECT_FALSE(Exec("false; exit 0").Warning());
}

TEST(RunCommand, MissingProgramIs127AndAWarning) {
  const CommandResult r = Exec("/nonexistent/halley-no-such-program --flag");
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_TRUE(r.wrote_stderr);  // the shell says "not found"
  EXPECT_TRUE(r.Warning());
}

TEST(RunCommand, EmptyCommandIsRefused) {
  EXPECT_TRUE(FailsWith(RunCommand(""), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(RunCommand(std::string("echo a\0b", 8)), ErrorCode::kInvalidArgument));
}

TEST(RunCommand, StdinIsEmpty) {
  const CommandResult r = Exec("wc -c");
  EXPECT_EQ(Lines(r, Stream::kStdout), std::vector<std::string>{"0"});
}

TEST(RunCommand, EnvironmentIsPassedThroughAndExtended) {
  setenv("HALLEY_TEST_INHERITED", "from parent", 1);
  setenv("HALLEY_PHASE", "stale", 1);
  CommandOptions o;
  o.env = {{"HALLEY_PHASE", "pre"}, {"HALLEY_ITEM", "item 1"}};
  const CommandResult r = Exec("echo \"$HALLEY_TEST_INHERITED|$HALLEY_PHASE|$HALLEY_ITEM\"", o);
  EXPECT_EQ(Lines(r, Stream::kStdout), std::vector<std::string>{"from parent|pre|item 1"});
  unsetenv("HALLEY_TEST_INHERITED");
  unsetenv("HALLEY_PHASE");
}

// 4 MiB on each stream at once: reading one pipe while the other fills up would deadlock.
TEST(RunCommand, LargeOutputOnBothStreamsDoesNotDeadlock) {
  CommandOptions o;
  o.max_output_bytes = 64 * 1024;
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = Exec(
      "head -c 4194304 /dev/zero | tr '\\0' 'x' | fold -w 100 & "
      "head -c 4194304 /dev/zero | tr '\\0' 'y' | fold -w 100 >&2; wait",
      o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.truncated);
  EXPECT_TRUE(r.wrote_stderr);
  const auto out = Lines(r, Stream::kStdout);
  const auto err = Lines(r, Stream::kStderr);
  ASSERT_FALSE(out.empty());
  ASSERT_FALSE(err.empty());
  EXPECT_EQ(out.front(), std::string(100, 'x'));
  EXPECT_EQ(err.front(), std::string(100, 'y'));
  EXPECT_NE(out.back().find("[output truncated: "), std::string::npos) << out.back();
  EXPECT_NE(err.back().find("[output truncated: "), std::string::npos) << err.back();
  size_t kept = 0;
  for (size_t i = 0; i + 1 < out.size(); ++i) kept += out[i].size();
  EXPECT_LE(kept, o.max_output_bytes);
  EXPECT_GT(kept, o.max_output_bytes / 2);
}

TEST(RunCommand, LineLimit) {
  CommandOptions o;
  o.max_output_lines = 3;
  const CommandResult r = Exec("seq 1 10", o);
  EXPECT_EQ(
      Lines(r, Stream::kStdout),
      (std::vector<std::string>{"1", "2", "3", "[output truncated: 15 more bytes not kept]"}));
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.Warning());  // truncation alone is no warning
}

TEST(RunCommand, StopTokenKillsTheCommandAndWhatItStarted) {
  std::stop_source stop;
  CommandOptions o;
  o.stop = stop.get_token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  // Two processes in the group: the shell does not simply exec the last command.
  const CommandResult r = Exec("sleep 100 & sleep 100; echo never", o);
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
  EXPECT_TRUE(r.Warning());
  EXPECT_FALSE(r.output_left_open);  // the background sleep died with the group
}

TEST(RunCommand, AStopAlreadyRequestedStopsAtOnce) {
  std::stop_source stop;
  stop.request_stop();
  CommandOptions o;
  o.stop = stop.get_token();
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = Exec("sleep 100", o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_TRUE(r.cancelled);
}

// backup-tool blocks SIGINT and SIGTERM in every thread (a signal thread waits for them); the
// command must not inherit that, or SIGTERM could not stop it. (Debian's /bin/sh, dash, clears
// its signal mask itself; other shells need not.)
TEST(RunCommand, StopsACommandStartedWhileTermIsBlocked) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  CommandOptions o;
  o.timeout = 300ms;
  o.kill_grace = 30s;  // SIGKILL would hide the problem
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = Exec("sleep 100", o);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
}

// Some commands of ours ignore SIGPIPE (tree_walk.h). An ignored signal stays ignored across
// exec, and `yes | head -1` would then complain on stderr (EPIPE) and count as a warning.
TEST(RunCommand, ACommandStartedWhileSigpipeIsIgnoredGetsTheDefault) {
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &old), 0);
  const CommandResult r = Exec("yes | head -n 1");
  sigaction(SIGPIPE, &old, nullptr);
  EXPECT_EQ(Lines(r, Stream::kStdout), std::vector<std::string>{"y"});
  EXPECT_FALSE(r.wrote_stderr) << (r.lines.empty() ? "" : r.lines.back().text);
  EXPECT_FALSE(r.Warning());
}

TEST(RunCommand, SigkillAfterTheGraceWhenTermIsIgnored) {
  CommandOptions o;
  o.timeout = 200ms;
  o.kill_grace = 300ms;
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = Exec("trap '' TERM; echo ready; while :; do sleep 0.05; done", o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_EQ(Lines(r, Stream::kStdout), std::vector<std::string>{"ready"});
}

// A command may leave a process running in the background that keeps its stdout: the job
// reads on for drain_after_exit, then goes on without it.
TEST(RunCommand, ABackgroundProcessHoldingTheOutputDoesNotHangTheJob) {
  CommandOptions o;
  o.drain_after_exit = 300ms;
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = Exec("echo started; sleep 30 &", o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.output_left_open);
  EXPECT_EQ(Lines(r, Stream::kStdout), std::vector<std::string>{"started"});
  EXPECT_FALSE(r.Warning());
}

TEST(RunCommand, SeveralAtOnce) {
  std::vector<std::thread> threads;
  std::vector<std::string> got(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([i, &got] {
      auto r = RunCommand("sleep 0.2; echo " + std::to_string(i));
      if (r && r->lines.size() == 1) got[i] = r->lines[0].text;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "2", "3"}));
}

TEST(CommandsFor, OrderOfScheduleVaultAndItem) {
  const Json profile = Json::parse(R"({
    "BackupRules": {"s": {"PreExec": ["s-pre1", "s-pre2"], "ThawExec": ["s-thaw"],
                          "PostExec": ["s-post"]}},
    "Destinations": {"v": {"PreExec": ["v-pre"], "PostExec": ["v-post"]}},
    "Sources": {"i": {"PreExec": ["i-pre"], "ThawExec": ["i-thaw"], "PostExec": ["i-post"]}}
  })");
  auto commands = [&](HookPhase phase, const std::string& s) {
    std::vector<std::string> out;
    for (const JobCommand& c : CommandsFor(profile, phase, s, "v", "i")) {
      out.push_back(std::string(SectionNoun(c.section)) + ":" + c.command);
    }
    return out;
  };
  EXPECT_EQ(commands(HookPhase::kPre, "s"),
            (std::vector<std::string>{"Schedule:s-pre1", "Schedule:s-pre2", "Storage Vault:v-pre",
                                      "Protected Item:i-pre"}));
  EXPECT_EQ(commands(HookPhase::kThaw, "s"),
            (std::vector<std::string>{"Schedule:s-thaw", "Protected Item:i-thaw"}));
  EXPECT_EQ(commands(HookPhase::kPost, "s"),
            (std::vector<std::string>{"Protected Item:i-post", "Storage Vault:v-post",
                                      "Schedule:s-post"}));
  // No schedule (a backup started by hand): only the vault's and the item's.
  EXPECT_EQ(commands(HookPhase::kPre, ""),
            (std::vector<std::string>{"Storage Vault:v-pre", "Protected Item:i-pre"}));
  EXPECT_EQ(commands(HookPhase::kPre, "gone"),
            (std::vector<std::string>{"Storage Vault:v-pre", "Protected Item:i-pre"}));
}

TEST(CommandsFor, HostileProfilesGiveNothing) {
  const Json profile = Json::parse(R"({
    "Destinations": {"v": {"PreExec": "not an array"}},
    "Sources": {"i": {"PreExec": [1, null, "", "ok", {"a": 1}]}, "j": 7},
    "BackupRules": []
  })");
  const auto c = CommandsFor(profile, HookPhase::kPre, "s", "v", "i");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].command, "ok");
  EXPECT_EQ(c[0].entry_id, "i");
  EXPECT_TRUE(CommandsFor(profile, HookPhase::kPre, "", "", "j").empty());
  EXPECT_TRUE(CommandsFor(Json(), HookPhase::kPost, "s", "v", "i").empty());
  EXPECT_TRUE(CommandsFor(Json::array(), HookPhase::kPost, "s", "v", "i").empty());
}

TEST(HookPhase, Names) {
  EXPECT_EQ(HookPhaseName(HookPhase::kPre), "pre");
  EXPECT_EQ(HookPhaseName(HookPhase::kThaw), "thaw");
  EXPECT_EQ(HookPhaseName(HookPhase::kPost), "post");
  EXPECT_STREQ(HookField(HookPhase::kThaw), "ThawExec");
}

}  // namespace
}  // namespace halley::client
