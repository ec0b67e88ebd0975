// SPDX-License-Identifier: Apache-2.0
//
// Clock: the only source of wall-clock time, so that retention, locks, schedules and sessions
// can be tested on fake time. Implementations are thread-safe.
#pragma once

#include <atomic>
#include <chrono>

#include "base/time.h"

namespace halley {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  Time NowTime() const { return Time::FromTimePoint(Now()); }

  // The process-wide real clock.
  static Clock& System();
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start) : now_ns_(ToNs(start)) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(now_ns_.load())));
  }
  void Advance(std::chrono::nanoseconds d) { now_ns_ += d.count(); }
  void Set(std::chrono::system_clock::time_point t) { now_ns_ = ToNs(t); }

 private:
  static int64_t ToNs(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  std::atomic<int64_t> now_ns_;
};

}  // namespace halley
