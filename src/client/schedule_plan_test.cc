// SPDX-License-Identifier: Apache-2.0
#include "client/schedule_plan.h"

#include <gtest/gtest.h>

#include "base/test_util.h"

namespace halley::client {
namespace {

using testutil::FailsWith;
using testutil::UnusedLoopbackPort;

// An account whose server does not answer: a call that is sent fails with kUnavailable, so
// kInvalidArgument shows that a plan was refused before anything was sent.
Account Offline() {
  LoginState s;
  s.server = "http://127.0.0.1:" + std::to_string(UnusedLoopbackPort()) + "/";
  s.username = "alice";
  s.device_id = "dev";
  return Account(s);
}

TEST(SchedulePlanTest, ChecksThePlanBeforeSendingIt) {
  const Account account = Offline();
  const Json rule = {{"Source", "item"}, {"Destination", "vault"}, {"Times", {1, 2}}};
  EXPECT_TRUE(
      FailsWith(ReportSchedulePlan(account, "dev", Json::array()), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(ReportSchedulePlan(account, "dev", {{"r", {{"Source", "item"}}}}),
                        ErrorCode::kInvalidArgument));
  Json bad_time = rule;
  bad_time["Times"] = {"soon"};
  EXPECT_TRUE(FailsWith(ReportSchedulePlan(account, "dev", {{"r", bad_time}}),
                        ErrorCode::kInvalidArgument));
  Json many = rule;
  many["Times"] = Json::array();
  for (size_t i = 0; i <= kMaxPlanTimesPerRule; ++i) many["Times"].push_back(i);
  EXPECT_TRUE(
      FailsWith(ReportSchedulePlan(account, "dev", {{"r", many}}), ErrorCode::kInvalidArgument));
  Json rules = Json::object();
  for (size_t i = 0; i <= kMaxPlanRules; ++i) rules["r" + std::to_string(i)] = rule;
  EXPECT_TRUE(FailsWith(ReportSchedulePlan(account, "dev", rules), ErrorCode::kInvalidArgument));

  EXPECT_TRUE(
      FailsWith(ReportSchedulePlan(account, "dev", {{"r", rule}}), ErrorCode::kUnavailable));
  EXPECT_TRUE(
      FailsWith(ReportSchedulePlan(account, "dev", Json::object()), ErrorCode::kUnavailable));
}

}  // namespace
}  // namespace halley::client
