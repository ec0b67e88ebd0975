// SPDX-License-Identifier: Apache-2.0
#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "base/time.h"

namespace halley {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::kInfo};
std::mutex g_mu;

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_min_level.store(level); }

void LogLine(LogLevel level, std::string_view event, const Json& fields) {
  if (level < g_min_level.load()) return;
  Json line = Json::object();
  const auto now = std::chrono::system_clock::now();
  Time t = Time::FromTimePoint(now);
  t.utc_offset = 0;
  line["time"] = FormatRfc3339Nano(t);
  line["level"] = LevelName(level);
  line["event"] = event;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  // Invalid UTF-8 in a field (a hostile path) is replaced, never thrown on.
  std::string text = line.dump(-1, ' ', false, Json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard lock(g_mu);
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + off, text.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace halley
