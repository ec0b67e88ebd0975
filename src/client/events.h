// SPDX-License-Identifier: Apache-2.0
//
// Job events for the system journal: the product's Windows Event Log IDs (spec "Windows Event
// Log", docs/client.md "Job events in the journal") sent to journald as structured fields, so
// that `journalctl SYSLOG_IDENTIFIER=backup-tool HALLEY_EVENT_ID=51` lists every job's end.
//
//   50  a job started              51  a job finished (HALLEY_JOB_STATUS)
//   52  a line of a job's log, at its severity (I, W, E; D)
//   55  a message from the daemon (the product's Delegate service)
//
// Every event carries MESSAGE, PRIORITY (E=3 err, W=4 warning, I=6 info, D=7 debug),
// SYSLOG_IDENTIFIER=backup-tool and HALLEY_EVENT_ID; job events add HALLEY_JOB_ID (the server's
// job GUID, "" when the server could not be told).
//
// Best effort by design: without journald (a container, a system without systemd) the send
// fails at once and is ignored, so these never fail and never wait for a journal that is not
// there. Thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace halley::client {

inline constexpr int kEventJobStarted = 50;
inline constexpr int kEventJobFinished = 51;
inline constexpr int kEventJobLog = 52;
inline constexpr int kEventDaemonMessage = 55;

// Extra journal fields ("NAME", "value"); names are upper case, digits and '_'.
using EventFields = std::vector<std::pair<std::string, std::string>>;

// Sends event `event_id` (50, 51 or 52) of job `job_id` with `severity` 'E', 'W', 'I' or 'D'
// (others count as 'I').
void JobEvent(int event_id, char severity, const std::string& job_id, const std::string& message,
              const EventFields& extra = {});

// Sends event 55, a message from the daemon.
void DaemonEvent(char severity, const std::string& message, const EventFields& extra = {});

// The fields an event is sent with, "NAME=value" each (exposed for tests). `job_id` is left out
// when null.
std::vector<std::string> EventJournalFields(int event_id, char severity, const std::string* job_id,
                                            const std::string& message, const EventFields& extra);

// The syslog priority of a job log severity: E 3, W 4, I 6, D 7 (others 6).
int SeverityPriority(char severity);

}  // namespace halley::client
