// SPDX-License-Identifier: Apache-2.0
#include "base/clock.h"

namespace halley {
namespace {

class SystemClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
};

}  // namespace

Clock& Clock::System() {
  static SystemClock clock;
  return clock;
}

}  // namespace halley
