// SPDX-License-Identifier: Apache-2.0
#include "httpclient/rate_limiter.h"

#include <algorithm>
#include <thread>

#include "base/error.h"

namespace halley::httpclient {

RateLimiter::RateLimiter(uint64_t bytes_per_second)
    : rate_(bytes_per_second), allowance_(std::chrono::milliseconds(100)) {
  HALLEY_CHECK(rate_ > 0);
}

void RateLimiter::Acquire(size_t bytes) {
  Clock::time_point wake;
  {
    std::lock_guard lock(mu_);
    const Clock::time_point now = Clock::now();
    // Idle time earns at most the allowance: a transfer after a pause may burst that much.
    next_ = std::max(next_, now - allowance_);
    next_ += std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(bytes) / static_cast<double>(rate_)));
    wake = next_ - allowance_;
  }
  std::this_thread::sleep_until(wake);
}

}  // namespace halley::httpclient
