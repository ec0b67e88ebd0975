// SPDX-License-Identifier: Apache-2.0
#include "client/events.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

namespace halley::client {
namespace {

TEST(Events, Fields) {
  const std::string job = "9a4c1e52-0000-4000-8000-000000000001";
  EXPECT_EQ(
      EventJournalFields(kEventJobLog, 'W', &job, "a warning", {}),
      (std::vector<std::string>{"MESSAGE=a warning", "PRIORITY=4", "SYSLOG_IDENTIFIER=backup-tool",
                                "HALLEY_EVENT_ID=52", "HALLEY_JOB_ID=" + job}));
  EXPECT_EQ(
      EventJournalFields(kEventJobFinished, 'I', &job, "done", {{"HALLEY_JOB_STATUS", "5000"}})
          .back(),
      "HALLEY_JOB_STATUS=5000");
  // The daemon's messages belong to no job.
  const auto daemon = EventJournalFields(kEventDaemonMessage, 'E', nullptr, "x", {});
  EXPECT_EQ(daemon.size(), 4u);
  EXPECT_EQ(daemon[1], "PRIORITY=3");
  EXPECT_EQ(daemon[3], "HALLEY_EVENT_ID=55");
}

TEST(Events, Priorities) {
  EXPECT_EQ(SeverityPriority('E'), 3);
  EXPECT_EQ(SeverityPriority('W'), 4);
  EXPECT_EQ(SeverityPriority('I'), 6);
  EXPECT_EQ(SeverityPriority('D'), 7);
  EXPECT_EQ(SeverityPriority('?'), 6);
}

// Where journald runs, these reach it; where it does not (this test's usual container), they
// must return at once and quietly. Either way they never fail: there is nothing to check but
// that they return. tests/integration/test_hooks.py checks the fields a listening journal gets.
TEST(Events, SendingNeverFails) {
  struct stat st;
  const bool journald = ::stat("/run/systemd/journal/socket", &st) == 0;
  std::string multi_line = "line one\nline two";
  std::string with_nul("a\0b", 3);
  for (int i = 0; i < 100; ++i) {
    JobEvent(kEventJobLog, 'I', "test-job", "halley events_test" + std::to_string(i));
  }
  JobEvent(kEventJobStarted, 'I', "", multi_line);
  JobEvent(kEventJobFinished, 'E', "test-job", with_nul, {{"HALLEY_JOB_STATUS", "7002"}});
  DaemonEvent('W', "halley events_test");
  SUCCEED() << (journald ? "sent to journald" : "no journald here: the sends were ignored");
}

}  // namespace
}  // namespace halley::client
