// SPDX-License-Identifier: Apache-2.0
//
// Before/after commands: the `PreExec`, `ThawExec` and `PostExec` arrays of Protected Items
// (`Sources`), Storage Vaults (`Destinations`) and Schedules (`BackupRules`) in the profile
// (reference/comet.md §2.4, §3.5), and a runner for one such command.
//
// The runner starts `/bin/sh -c COMMAND` in a process group of its own, with stdin on
// /dev/null, the caller's environment plus `env`, default signal handling and no signal
// blocked, and reads its stdout and stderr through pipes with poll(), so a command writing
// much to either stream never blocks on the other. It keeps at most `max_output_bytes` and
// `max_output_lines` of each stream (the rest is read and thrown away, and a note says so).
// A stop request or the timeout sends SIGTERM to the command's process group, and SIGKILL
// `kill_grace` later if it is still there.
//
// The product's rule (spec "Suppressing Before / After command failures"): a command is a
// warning if it wrote anything to stderr or exited non-zero. The runner reports both; the
// job decides (docs/client.md "Before and after commands").
//
// Thread-safe: RunCommand may run on several threads at once (each call owns its pipes and
// child).
#pragma once

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace halley::client {

struct CommandOptions {
  // Added to the inherited environment; a name given here replaces the inherited value.
  std::vector<std::pair<std::string, std::string>> env;
  // 0: no limit. Past it the command is stopped as by `stop`, and `timed_out` is set.
  std::chrono::milliseconds timeout{0};
  // A stop request stops the command (SIGTERM to its group, then SIGKILL) and sets `cancelled`.
  std::stop_token stop;
  std::chrono::milliseconds kill_grace{5000};
  // Per stream. Output beyond either limit is read and discarded.
  size_t max_output_bytes = size_t{1} << 20;
  size_t max_output_lines = 100000;
  // After the shell has exited, how long to keep reading from pipes that a process it left in
  // the background still holds open.
  std::chrono::milliseconds drain_after_exit{2000};
};

enum class Stream { kStdout, kStderr };

struct OutputLine {
  Stream stream;
  std::string text;  // without the line end ("\n" or "\r\n"); may hold any bytes
};

struct CommandResult {
  // The exit status; 128 + N when a signal N ended the shell (as shells report it). 127: the
  // shell did not find the program, 126: it could not execute it.
  int exit_code = 0;
  // Anything at all was written to stderr (even when it was not kept).
  bool wrote_stderr = false;
  bool timed_out = false;
  bool cancelled = false;
  // Both streams' lines in the order they were read. When a stream passed its limit, its last
  // line is "[output truncated: N more bytes not kept]".
  std::vector<OutputLine> lines;
  bool truncated = false;
  // The shell exited but something it started kept its stdout or stderr open past
  // `drain_after_exit`; reading stopped there.
  bool output_left_open = false;

  // The product's rule: stderr output or a non-zero exit (a stopped command is non-zero).
  bool Warning() const { return exit_code != 0 || wrote_stderr || timed_out || cancelled; }
};

// Runs `command` with /bin/sh -c and waits for it (see the file comment). Returns the result
// however the command ended, or kIoError if it could not be started (no pipes, fork failed,
// no /bin/sh). kInvalidArgument for an empty command or one containing a NUL byte.
Result<CommandResult> RunCommand(const std::string& command, const CommandOptions& options = {});

// The phases of a backup job's commands, in their order: PreExec before the job reads
// anything, ThawExec once reading is about to start (after the disk snapshot, on systems that
// take one; we take none, so right after PreExec), PostExec at the end whatever happened.
enum class HookPhase { kPre, kThaw, kPost };
std::string_view HookPhaseName(HookPhase phase);  // "pre", "thaw", "post"
const char* HookField(HookPhase phase);           // "PreExec", "ThawExec", "PostExec"

// One command of a job, with the profile entry it belongs to.
struct JobCommand {
  std::string section;  // "BackupRules", "Destinations" or "Sources"
  std::string entry_id;
  std::string command;
};

// The commands a backup job runs in `phase`, in the order it runs them: PreExec and ThawExec
// of the Schedule, then the Storage Vault, then the Protected Item; PostExec of the Protected
// Item, then the Storage Vault, then the Schedule. An ID that is "" or not in the profile
// contributes nothing; within an entry the array's order is kept; an entry that is not an
// array of strings, and empty strings, are skipped (a profile is data from the network).
std::vector<JobCommand> CommandsFor(const Json& profile, HookPhase phase,
                                    const std::string& schedule_id, const std::string& vault_id,
                                    const std::string& item_id);

// `entry[field]` as a list of non-empty strings ([] when missing or of another type).
std::vector<std::string> CommandList(const Json& entry, const char* field);

// "Schedule", "Storage Vault" or "Protected Item" for a section name ("" for others).
std::string_view SectionNoun(std::string_view section);

}  // namespace halley::client
