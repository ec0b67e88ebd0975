// SPDX-License-Identifier: Apache-2.0
//
// The device's schedule plan, reported to halleyd so that the server can record backups that
// did not start on time as missed (job status 7004; docs/server.md "Server-generated jobs").
// Only the device can compute its schedules' due times (they are in its local time zone), so
// the daemon reports them and the server checks them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "client/account.h"

namespace halley::client {

// The server's bounds on a plan (docs/server.md, user/web/device/schedule-plan).
inline constexpr size_t kMaxPlanRules = 1000;
inline constexpr size_t kMaxPlanTimesPerRule = 64;
inline constexpr int64_t kPlanHorizonSeconds = 31 * 86400;

// Replaces this device's plan on the server. `plan` is {ruleID: {"Source": itemID,
// "Destination": vaultID, "Times": [unix seconds, ...]}} with each rule's next due times
// (random delay included), at most kMaxPlanTimesPerRule per rule within kPlanHorizonSeconds,
// at most kMaxPlanRules rules; an empty object withdraws the plan (times already due are still
// judged). Report it whenever it changes (profile change, a run started, a day passed).
// Errors: kInvalidArgument for a plan of the wrong shape or over the bounds (checked before
// anything is sent); otherwise Account::Call's (kUnavailable: retry later; kNotFound: the
// device is not registered in the account). Thread-safe.
Result<void> ReportSchedulePlan(const Account& account, const std::string& device_id,
                                const Json& plan);

}  // namespace halley::client
