// SPDX-License-Identifier: Apache-2.0
//
// Test-only helpers shared by every library's tests (includes gtest; never include from
// library code): gtest assertions on Result, TempDir, a scratch directory removed with
// everything in it when the test ends, and UnusedLoopbackPort.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/error.h"

namespace halley::testutil {

// EXPECT_TRUE(Succeeds(store.Put(h, data)));
template <class T>
::testing::AssertionResult Succeeds(const Result<T>& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with " << ErrorCodeName(r.error().Code()) << ": " << r.error().Message();
}

// EXPECT_TRUE(FailsWith(store.Get(h), ErrorCode::kNotFound));
template <class T>
::testing::AssertionResult FailsWith(const Result<T>& r, ErrorCode code) {
  if (r) return ::testing::AssertionFailure() << "succeeded, expected " << ErrorCodeName(code);
  if (r.error().Code() != code) {
    return ::testing::AssertionFailure()
           << "failed with " << ErrorCodeName(r.error().Code()) << " (" << r.error().Message()
           << "), expected " << ErrorCodeName(code);
  }
  return ::testing::AssertionSuccess();
}

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction even where a
// test made parts of it read-only.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/halley-test-XXXXXX";
    HALLEY_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    ::chmod(path_.c_str(), 0700);
    for (auto it = fs::recursive_directory_iterator(path_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
    }
    fs::remove_all(path_, ec);
  }

  const std::string& Path() const { return path_; }
  std::string Sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// A loopback TCP port with nothing listening on it (for "server unreachable" tests).
inline int UnusedLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  HALLEY_CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace halley::testutil
