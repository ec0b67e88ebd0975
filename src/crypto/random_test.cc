// SPDX-License-Identifier: Apache-2.0
#include "crypto/random.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

namespace halley::crypto {
namespace {

TEST(RandomTest, FillsAndDiffers) {
  EXPECT_TRUE(RandomBytes(0).empty());
  Bytes a = RandomBytes(32);
  Bytes b = RandomBytes(32);
  ASSERT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_NE(a, Bytes(32, 0));
  Bytes big = RandomBytes(1 << 20);  // not pooled
  size_t zeros = 0;
  for (uint8_t x : big) zeros += x == 0;
  EXPECT_GT(zeros, 3500u);  // ~4096 expected
  EXPECT_LT(zeros, 4700u);
}

TEST(RandomTest, PooledRequestsNeverRepeat) {
  // Many small requests cross several pool refills; every 16-byte value must be new.
  std::set<Bytes> seen;
  for (int i = 0; i < 2000; ++i) {
    Bytes iv = RandomBytes(1 + i % kPooledRandomMax);
    if (iv.size() >= 16) {
      EXPECT_TRUE(seen.insert(Bytes(iv.begin(), iv.begin() + 16)).second);
    }
  }
  // And threads have their own pools.
  std::vector<Bytes> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) threads.emplace_back([&out] { out = RandomBytes(16); });
  for (auto& t : threads) t.join();
  for (auto& v : per_thread) EXPECT_TRUE(seen.insert(v).second);
}

TEST(RandomTest, ForkedChildDoesNotReuseTheParentsPool) {
  (void)RandomBytes(16);  // the pool now holds unused bytes that fork() copies
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Bytes child = RandomBytes(16);
    const bool ok = write(fds[1], child.data(), child.size()) == 16;
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  const Bytes parent = RandomBytes(16);
  Bytes child(16);
  EXPECT_EQ(read(fds[0], child.data(), child.size()), 16);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(parent, child);
}

}  // namespace
}  // namespace halley::crypto
