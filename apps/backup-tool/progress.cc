// SPDX-License-Identifier: Apache-2.0
#include "progress.h"

#include <iostream>

namespace halley::cli {

Ticker::Ticker(std::chrono::milliseconds period, std::function<void(double)> fn) {
  auto start = std::chrono::steady_clock::now();
  thread_ = std::thread([this, period, fn = std::move(fn), start] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, period, [&] { return stop_; })) {
      lock.unlock();
      fn(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      lock.lock();
    }
  });
}

Ticker::~Ticker() { Stop(); }

void Ticker::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PrintStatusLine(const std::string& text) { std::cout << "\r\x1b[2K" << text << std::flush; }

void ClearStatusLine() { std::cout << "\r\x1b[2K" << std::flush; }

}  // namespace halley::cli
