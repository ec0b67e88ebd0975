// SPDX-License-Identifier: Apache-2.0
#include "client/schedule_plan.h"

namespace halley::client {
namespace {

Result<void> CheckPlan(const Json& plan) {
  if (!plan.is_object()) return Fail(ErrorCode::kInvalidArgument, "a plan is a JSON object");
  if (plan.size() > kMaxPlanRules) {
    return Fail(ErrorCode::kInvalidArgument,
                "a plan has at most " + std::to_string(kMaxPlanRules) + " rules");
  }
  for (const auto& [id, rule] : plan.items()) {
    if (!rule.is_object() || !rule.contains("Source") || !rule["Source"].is_string() ||
        !rule.contains("Destination") || !rule["Destination"].is_string() ||
        !rule.contains("Times") || !rule["Times"].is_array()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "plan rule '" + id + "' needs Source, Destination and Times");
    }
    if (rule["Times"].size() > kMaxPlanTimesPerRule) {
      return Fail(ErrorCode::kInvalidArgument, "plan rule '" + id + "' has more than " +
                                                   std::to_string(kMaxPlanTimesPerRule) + " times");
    }
    for (const Json& t : rule["Times"]) {
      if (!t.is_number_integer()) {
        return Fail(ErrorCode::kInvalidArgument,
                    "plan rule '" + id + "': times are integers (unix seconds)");
      }
    }
  }
  return {};
}

}  // namespace

Result<void> ReportSchedulePlan(const Account& account, const std::string& device_id,
                                const Json& plan) {
  HALLEY_RETURN_IF_ERROR(CheckPlan(plan));
  HALLEY_ASSIGN_OR_RETURN(
      Json reply,
      account.Call("user/web/device/schedule-plan",
                   {{"DeviceID", device_id},
                    {"Plan", plan.dump(-1, ' ', false, Json::error_handler_t::replace)}}));
  (void)reply;
  return {};
}

}  // namespace halley::client
