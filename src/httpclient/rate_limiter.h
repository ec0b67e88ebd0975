// SPDX-License-Identifier: Apache-2.0
//
// A bandwidth limit shared by every transfer that holds it (restic's --limit-upload, the
// product's LimitVaultSpeedBps): each byte sent or received takes its slot on a virtual clock
// that advances by 1/rate seconds per byte, and a transfer ahead of the clock sleeps until its
// slot comes. Bursts are bounded by a short allowance (a tenth of a second of traffic), so the
// rate averaged over any few seconds stays at the limit, whatever the number of transfers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace halley::httpclient {

class RateLimiter {
 public:
  explicit RateLimiter(uint64_t bytes_per_second);

  // Blocks until `bytes` may pass. Thread-safe.
  void Acquire(size_t bytes);

  uint64_t BytesPerSecond() const { return rate_; }

 private:
  using Clock = std::chrono::steady_clock;
  const uint64_t rate_;
  const Clock::duration allowance_;
  std::mutex mu_;
  Clock::time_point next_{};  // when the next byte's slot is; guarded by mu_
};

}  // namespace halley::httpclient
