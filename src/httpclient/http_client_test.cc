// SPDX-License-Identifier: Apache-2.0
//
// Client against a minimal loopback HTTP server (raw sockets: httpclient may not depend on
// httpd). Each connection carries one request and is closed after the answer.
#include "httpclient/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/test_util.h"

namespace halley::httpclient {
namespace {

using testutil::FailsWith;
using testutil::Succeeds;

class TestServer {
 public:
  // `reply` gets the raw request (head and body) and returns the raw response; "" means
  // "never answer" (the connection stays open until the server is destroyed).
  explicit TestServer(std::function<std::string(const std::string&)> reply)
      : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    HALLEY_CHECK(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    HALLEY_CHECK(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }

  std::string Url(std::string_view path, std::string_view scheme = "http") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  std::string LastRequest() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[65536];
      size_t want = std::string::npos;
      while (want == std::string::npos || in.size() < want) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        if (const size_t end = in.find("\r\n\r\n");
            want == std::string::npos && end != std::string::npos) {
          size_t body = 0;
          if (const size_t cl = in.find("Content-Length: "); cl != std::string::npos && cl < end) {
            body = std::stoul(in.substr(cl + 16));
          }
          want = end + 4 + body;
        }
      }
      {
        std::lock_guard lock(mu_);
        last_ = in;
      }
      const std::string out = reply_(in);
      if (out.empty()) {
        while (!stop_ && ::read(c, buf, sizeof buf) > 0) {
        }
      } else {
        (void)!::write(c, out.data(), out.size());
      }
      ::close(c);
    }
  }

  std::function<std::string(const std::string&)> reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string last_;  // guarded by mu_
  std::thread thread_;
};

std::string Reply(std::string_view status, std::string_view body,
                  std::string_view extra_headers = "") {
  return "HTTP/1.1 " + std::string(status) + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + std::string(extra_headers) + "\r\n" + std::string(body);
}

TEST(HttpClientTest, GetReturnsStatusLowerCaseHeadersAndBody) {
  TestServer server([](const std::string&) {
    return Reply("200 OK", "hello", "X-Thing: some value \r\nContent-Type: text/plain\r\n");
  });
  Client client;
  auto r =
      client.Do({.method = "GET", .url = server.Url("/a/b"), .headers = {{"Range", "bytes=1-2"}}});
  ASSERT_TRUE(Succeeds(r));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("x-thing"), "some value");
  EXPECT_EQ(r->Header("content-type"), "text/plain");
  EXPECT_EQ(AsString(r->body), "hello");
  EXPECT_EQ(r->body_size, 5u);
  const std::string sent = server.LastRequest();
  EXPECT_EQ(sent.rfind("GET /a/b HTTP/1.1\r\n", 0), 0u) << sent;
  EXPECT_NE(sent.find("\r\nRange: bytes=1-2\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("\r\nUser-Agent: backup-tool/"), std::string::npos) << sent;
}

TEST(HttpClientTest, PostSendsTheBodyWithoutExpectContinue) {
  TestServer server([](const std::string&) { return Reply("200 OK", ""); });
  Client client;
  const std::string body(200'000, 'x');
  auto r = client.Do({.method = "POST",
                      .url = server.Url("/up"),
                      .headers = {{"Content-Type", "application/octet-stream"}},
                      .body = AsBytes(body)});
  ASSERT_TRUE(Succeeds(r));
  EXPECT_EQ(r->status, 200);
  const std::string sent = server.LastRequest();
  EXPECT_NE(sent.find("\r\nContent-Length: 200000\r\n"), std::string::npos);
  EXPECT_EQ(sent.find("Expect:"), std::string::npos);
  EXPECT_EQ(sent.substr(sent.size() - body.size()), body);

  auto empty = client.Do({.method = "POST", .url = server.Url("/up?create=true")});
  ASSERT_TRUE(Succeeds(empty));
  EXPECT_NE(server.LastRequest().find("\r\nContent-Length: 0\r\n"), std::string::npos);

  auto del = client.Do({.method = "DELETE", .url = server.Url("/x")});
  ASSERT_TRUE(Succeeds(del));
  EXPECT_EQ(server.LastRequest().rfind("DELETE /x HTTP/1.1\r\n", 0), 0u);
}

TEST(HttpClientTest, UploadsAndDownloadsKeepToTheirLimits) {
  constexpr size_t kSize = 1 << 20;
  constexpr uint64_t kRate = 512 * 1024;  // 2 s for kSize, less the 0.1 s allowance
  const std::string big(kSize, 'x');
  TestServer server([&](const std::string& req) {
    return req.rfind("GET", 0) == 0 ? Reply("200 OK", big) : Reply("200 OK", "");
  });
  auto limit = std::make_shared<RateLimiter>(kRate);
  using Clock = std::chrono::steady_clock;
  // Two clients share the upload limit: together they take as long as one upload of both.
  Client a({.upload_limit = limit});
  Client b({.upload_limit = limit});
  const Bytes body(kSize / 2, 0x61);
  auto start = Clock::now();
  for (Client* c : {&a, &b}) {
    auto r = c->Do({.method = "PUT", .url = server.Url("/up"), .body = body});
    ASSERT_TRUE(Succeeds(r));
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(1800));
  // The whole body arrived, as one request with a Content-Length.
  const std::string last = server.LastRequest();
  EXPECT_EQ(last.rfind("PUT /up", 0), 0u);
  EXPECT_NE(last.find("Content-Length: 524288"), std::string::npos);
  EXPECT_EQ(last.substr(last.find("\r\n\r\n") + 4), std::string(kSize / 2, 'a'));

  Client down({.download_limit = std::make_shared<RateLimiter>(kRate)});
  start = Clock::now();
  auto r = down.Do({.method = "GET", .url = server.Url("/down")});
  ASSERT_TRUE(Succeeds(r));
  EXPECT_EQ(r->body.size(), kSize);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(1800));
}

TEST(HttpClientTest, AnAnswerCutInItsHeadIsUnavailable) {
  // libcurl takes a connection closed before the blank line for a complete answer.
  TestServer server(
      [](const std::string&) { return std::string("HTTP/1.1 200 OK\r\nETag: \"abc\"\r\n"); });
  Client client;
  EXPECT_TRUE(
      FailsWith(client.Do({.method = "HEAD", .url = server.Url("/x")}), ErrorCode::kUnavailable));
  EXPECT_TRUE(
      FailsWith(client.Do({.method = "GET", .url = server.Url("/x")}), ErrorCode::kUnavailable));
}

TEST(HttpClientTest, HeadReportsContentLengthWithoutBody) {
  TestServer server([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nConnection: close\r\n\r\n");
  });
  Client client;
  auto r = client.Do({.method = "HEAD", .url = server.Url("/obj")});
  ASSERT_TRUE(Succeeds(r));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-length"), "1234");
  EXPECT_EQ(r->body_size, 0u);
}

TEST(HttpClientTest, BodyIntoTheCallersBuffer) {
  std::atomic<int> status{206};
  TestServer server([&](const std::string&) {
    return status == 206 ? Reply("206 Partial Content", "abcd") : Reply("404 Not Found", "gone");
  });
  Client client;
  Bytes buf(6, '.');
  auto r = client.Do({.url = server.Url("/o"), .body_into = MutableByteView(buf).first(4)});
  ASSERT_TRUE(Succeeds(r));
  EXPECT_EQ(r->body_size, 4u);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(AsString(buf), "abcd..");

  // Longer than the buffer: an error, and nothing past the buffer is touched.
  std::fill(buf.begin(), buf.end(), '.');
  EXPECT_TRUE(
      FailsWith(client.Do({.url = server.Url("/o"), .body_into = MutableByteView(buf).first(3)}),
                ErrorCode::kIoError));
  EXPECT_EQ(buf[3], '.');

  // An error body is not the object: it stays out of the caller's buffer.
  status = 404;
  std::fill(buf.begin(), buf.end(), '.');
  auto missing = client.Do({.url = server.Url("/o"), .body_into = MutableByteView(buf).first(4)});
  ASSERT_TRUE(Succeeds(missing));
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(AsString(missing->body), "gone");
  EXPECT_EQ(AsString(buf), "......");
}

TEST(HttpClientTest, MaxBody) {
  TestServer server([](const std::string&) { return Reply("200 OK", "0123456789"); });
  Client client;
  EXPECT_TRUE(Succeeds(client.Do({.url = server.Url("/"), .max_body = 10})));
  EXPECT_TRUE(FailsWith(client.Do({.url = server.Url("/"), .max_body = 9}), ErrorCode::kIoError));
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailableAndHidesCredentials) {
  Client client;
  const std::string url =
      "http://bucket:s3cr3t@127.0.0.1:" + std::to_string(testutil::UnusedLoopbackPort()) +
      "/storage/x/config";
  auto r = client.Do({.method = "HEAD", .url = url});
  ASSERT_TRUE(FailsWith(r, ErrorCode::kUnavailable));
  EXPECT_EQ(r.error().Message().find("s3cr3t"), std::string::npos) << r.error().Message();
  EXPECT_NE(r.error().Message().find("127.0.0.1"), std::string::npos) << r.error().Message();
}

TEST(HttpClientTest, UnknownHostIsUnavailable) {
  Client client;
  EXPECT_TRUE(
      FailsWith(client.Do({.url = "http://no-such-host.invalid/"}), ErrorCode::kUnavailable));
}

TEST(HttpClientTest, BadUrlsAreInvalidArguments) {
  Client client;
  EXPECT_TRUE(FailsWith(client.Do({.url = "ftp://127.0.0.1/x"}), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(client.Do({.url = "http://[::1/x"}), ErrorCode::kInvalidArgument));
}

TEST(HttpClientTest, MissingCaFileIsInvalidArgument) {
  // The CA file is read when a TLS connection starts, before the handshake.
  TestServer server([](const std::string&) { return std::string(); });
  Client client({.ca_file = "/nonexistent/ca.pem", .stall_timeout = std::chrono::seconds(5)});
  EXPECT_TRUE(FailsWith(client.Do({.url = server.Url("/", "https")}), ErrorCode::kInvalidArgument));
}

TEST(HttpClientTest, StalledServerTimesOut) {
  TestServer server([](const std::string&) { return std::string(); });  // never answers
  Client client({.stall_timeout = std::chrono::seconds(1)});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(FailsWith(client.Do({.url = server.Url("/slow")}), ErrorCode::kUnavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(HttpClientTest, ConcurrentRequests) {
  TestServer server(
      [](const std::string& req) { return Reply("200 OK", req.substr(0, req.find(" HTTP/"))); });
  Client client;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto r = client.Do({.url = server.Url(path)});
        if (r && r->status == 200 && AsString(r->body) == "GET " + path) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 40);
}

TEST(HttpClientTest, RedactUrl) {
  EXPECT_EQ(RedactUrl("http://u:p@h:1/a"), "http://h:1/a");
  EXPECT_EQ(RedactUrl("https://u:p%40x@h/a@b"), "https://h/a@b");
  EXPECT_EQ(RedactUrl("http://h/a@b"), "http://h/a@b");
  EXPECT_EQ(RedactUrl("http://u@h"), "http://h");
  EXPECT_EQ(RedactUrl("/no/scheme"), "/no/scheme");
}

}  // namespace
}  // namespace halley::httpclient
