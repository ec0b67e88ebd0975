// SPDX-License-Identifier: Apache-2.0
//
// Structured logs for long-running processes (halleyd, the daemon): one JSON object per line on
// stderr, {"time":"<RFC 3339 UTC>","level":"info","event":"<snake_case>", ...fields}, so that
// journald and log shippers parse them without a grammar. Callers never pass secrets (keys,
// passwords, session keys, PSKs) in `fields`. Thread-safe: lines never interleave.
#pragma once

#include <string_view>

#include "base/json.h"

namespace halley {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Lines below `level` are dropped (default kInfo).
void SetLogLevel(LogLevel level);

void LogLine(LogLevel level, std::string_view event, const Json& fields = Json::object());

}  // namespace halley
