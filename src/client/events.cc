// SPDX-License-Identifier: Apache-2.0
#include "client/events.h"

#include <sys/uio.h>

#include <systemd/sd-journal.h>

namespace halley::client {
namespace {

void Send(const std::vector<std::string>& fields) {
  std::vector<iovec> iov;
  iov.reserve(fields.size());
  for (const std::string& f : fields) {
    iov.push_back({const_cast<char*>(f.data()), f.size()});
  }
  // The result is ignored on purpose: without journald the send fails (ENOENT) at once, and a
  // job must not fail or wait for its journal (events.h).
  (void)sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

}  // namespace

int SeverityPriority(char severity) {
  switch (severity) {
    case 'E':
      return 3;
    case 'W':
      return 4;
    case 'D':
      return 7;
    default:
      return 6;
  }
}

std::vector<std::string> EventJournalFields(int event_id, char severity, const std::string* job_id,
                                            const std::string& message, const EventFields& extra) {
  std::vector<std::string> fields = {
      "MESSAGE=" + message,
      "PRIORITY=" + std::to_string(SeverityPriority(severity)),
      "SYSLOG_IDENTIFIER=backup-tool",
      "HALLEY_EVENT_ID=" + std::to_string(event_id),
  };
  if (job_id) fields.push_back("HALLEY_JOB_ID=" + *job_id);
  for (const auto& [name, value] : extra) fields.push_back(name + "=" + value);
  return fields;
}

void JobEvent(int event_id, char severity, const std::string& job_id, const std::string& message,
              const EventFields& extra) {
  Send(EventJournalFields(event_id, severity, &job_id, message, extra));
}

void DaemonEvent(char severity, const std::string& message, const EventFields& extra) {
  Send(EventJournalFields(kEventDaemonMessage, severity, nullptr, message, extra));
}

}  // namespace halley::client
