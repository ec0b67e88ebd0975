// SPDX-License-Identifier: Apache-2.0
#include "server/login_guard.h"

#include <gtest/gtest.h>

namespace halley::server {
namespace {

TEST(LoginGuard, LocksAnAccountAfterTheThresholdUntilTheCooldownPasses) {
  FakeClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000)));
  LoginGuard guard(clock);
  const LoginProtection p{true, 3, 60};
  for (int i = 0; i < 2; ++i) guard.Failed(p, "alice", "10.0.0." + std::to_string(i));
  EXPECT_EQ(guard.Blocked(p, "alice", "10.0.0.9"), 0);
  guard.Failed(p, "alice", "10.0.0.2");
  EXPECT_EQ(guard.Blocked(p, "alice", "10.0.0.9"), 60);  // from any address
  EXPECT_EQ(guard.Blocked(p, "bob", "10.0.0.9"), 0);     // other accounts unaffected
  clock.Advance(std::chrono::seconds(59));
  EXPECT_EQ(guard.Blocked(p, "alice", "10.0.0.9"), 1);
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(guard.Blocked(p, "alice", "10.0.0.9"), 0);
}

TEST(LoginGuard, LocksAnAddressTryingManyAccounts) {
  FakeClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000)));
  LoginGuard guard(clock);
  const LoginProtection p{true, 3, 60};
  for (int i = 0; i < 3; ++i) guard.Failed(p, "user" + std::to_string(i), "192.0.2.1");
  EXPECT_GT(guard.Blocked(p, "fresh", "192.0.2.1"), 0);
  EXPECT_EQ(guard.Blocked(p, "fresh", "192.0.2.2"), 0);
}

TEST(LoginGuard, SuccessClearsTheAccountAndDisabledProtectionNeverBlocks) {
  FakeClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000)));
  LoginGuard guard(clock);
  const LoginProtection p{true, 2, 60};
  guard.Failed(p, "carol", "a");
  guard.Succeeded("carol");
  guard.Failed(p, "carol", "b");
  EXPECT_EQ(guard.Blocked(p, "carol", "c"), 0);
  const LoginProtection off{false, 1, 60};
  guard.Failed(off, "dave", "d");
  guard.Failed(off, "dave", "d");
  EXPECT_EQ(guard.Blocked(off, "dave", "d"), 0);
}

}  // namespace
}  // namespace halley::server
