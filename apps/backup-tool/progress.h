// SPDX-License-Identifier: Apache-2.0
//
// A background thread that calls a render function periodically until stopped; used for the
// progress line on a terminal and JSON status lines.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace halley::cli {

class Ticker {
 public:
  Ticker(std::chrono::milliseconds period, std::function<void(double elapsed_s)> fn);
  ~Ticker();  // stops and joins
  void Stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Overwrites the current terminal line with `text`.
void PrintStatusLine(const std::string& text);
void ClearStatusLine();

}  // namespace halley::cli
