// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "httpd/http.h"

namespace halley::httpd {
namespace {

// A raw TCP client: the tests control every byte on the wire.
class RawClient {
 public:
  explicit RawClient(const std::string& address) {
    const size_t colon = address.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool Connected() const { return connected_; }
  void Send(const std::string& s) {
    ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  // Reads until the peer closes or `timeout_ms` passes without data.
  std::string ReadAll(int timeout_ms = 5000) {
    std::string out;
    char buf[65536];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads until `needle` has been seen `count` times (or 5 s pass).
  std::string ReadUntil(const std::string& needle, int count = 1) {
    std::string out;
    char buf[65536];
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      int seen = 0;
      for (size_t pos = out.find(needle); pos != std::string::npos;
           pos = out.find(needle, pos + 1)) {
        ++seen;
      }
      if (seen >= count) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Echoes every text message with "echo:" in front; "close" makes the server close.
class EchoSocket final : public WebSocketHandler {
 public:
  void OnOpen(std::shared_ptr<WebSocket> ws) override { ws_ = std::move(ws); }
  void OnMessage(std::string text) override {
    if (text == "close") {
      ws_->Close();
    } else {
      ws_->Send("echo:" + text);
    }
  }
  void OnClose() override {
    closed.store(true);
    ws_.reset();
  }
  static inline std::atomic<bool> closed{false};

 private:
  std::shared_ptr<WebSocket> ws_;
};

// Echoes method, path, query and body; "/ws" accepts a WebSocket; "/throw" throws; "/ignore" leaves
// the body unread.
Response Echo(Request& req) {
  if (req.path == "/throw") throw std::runtime_error("boom");
  if (req.path == "/ignore") return Response::Text(200, "ignored");
  if (req.path == "/ws") {
    Response r = Response::Text(400, "not a WebSocket request");
    r.websocket = std::make_shared<EchoSocket>();
    return r;
  }
  if (req.path == "/head") {
    Response r;
    r.head_content_length = 12345;
    return r;
  }
  auto body = req.ReadBody(1 << 20);
  if (!body) return Response::Text(413, body.error().Message());
  return Response::Text(200, req.method + " " + req.path + " ?" + req.query + " [" + *body + "] " +
                                 std::string(req.Header("x-test")));
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    auto s = StartServer({ListenSpec{"127.0.0.1:0", "", ""}}, Echo, options);
    ASSERT_TRUE(s) << s.error().Message();
    server_ = std::move(*s);
    address_ = server_->BoundAddresses().at(0);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  std::unique_ptr<Server> server_;
  std::string address_;
};

TEST_F(ServerTest, BindsAnEphemeralPortAndAnswers) {
  Start();
  EXPECT_NE(address_, "127.0.0.1:0");
  RawClient c(address_);
  ASSERT_TRUE(c.Connected());
  c.Send(
      "POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Test: yes\r\nContent-Length: 5\r\n"
      "Connection: close\r\n\r\nhello");
  const std::string reply = c.ReadAll();
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("POST /a/b ?x=1 [hello] yes"), std::string::npos) << reply;
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  RawClient c(address_);
  c.Send("GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string reply = c.ReadUntil("HTTP/1.1 200", 2);
  EXPECT_NE(reply.find("GET /one"), std::string::npos) << reply;
  EXPECT_NE(reply.find("GET /two"), std::string::npos) << reply;
}

TEST_F(ServerTest, DecodesChunkedBodies) {
  Start();
  RawClient c(address_);
  c.Send(
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_NE(c.ReadAll().find("[abcdefg]"), std::string::npos);
}

TEST_F(ServerTest, AnswersExpectContinueBeforeReadingTheBody) {
  Start();
  RawClient c(address_);
  c.Send(
      "POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
      "Connection: close\r\n\r\n");
  const std::string interim = c.ReadUntil("\r\n\r\n");
  ASSERT_EQ(interim.rfind("HTTP/1.1 100 Continue", 0), 0u) << interim;
  c.Send("xyz");
  EXPECT_NE(c.ReadAll().find("[xyz]"), std::string::npos);
}

TEST_F(ServerTest, HeadAnnouncesALengthWithoutABody) {
  Start();
  RawClient c(address_);
  c.Send("HEAD /head HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  const std::string reply = c.ReadAll();
  EXPECT_NE(reply.find("Content-Length: 12345\r\n"), std::string::npos) << reply;
  EXPECT_EQ(reply.substr(reply.find("\r\n\r\n") + 4), "");
}

TEST_F(ServerTest, BodyOverTheHandlersLimitIsRefusedFromContentLength) {
  Start();
  RawClient c(address_);
  // Announces 2 MiB but sends nothing: the handler must refuse without waiting for it.
  c.Send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 2097152\r\n\r\n");
  const std::string reply = c.ReadUntil("over 1048576 bytes");
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
}

TEST_F(ServerTest, OversizedHeadersGet431AndMalformedRequests400) {
  Start();
  {
    RawClient c(address_);
    c.Send("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    EXPECT_EQ(c.ReadAll().rfind("HTTP/1.1 431", 0), 0u);
  }
  {
    RawClient c(address_);
    c.Send("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n");
    EXPECT_EQ(c.ReadAll().rfind("HTTP/1.1 400", 0), 0u);
  }
}

TEST_F(ServerTest, AHandlerExceptionIs500AndTheServerStaysUp) {
  Start();
  {
    RawClient c(address_);
    c.Send("GET /throw HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    const std::string reply = c.ReadAll();
    EXPECT_EQ(reply.rfind("HTTP/1.1 500", 0), 0u) << reply;
    EXPECT_NE(reply.find(R"({"Message":"internal error","Status":500})"), std::string::npos);
  }
  RawClient c(address_);
  c.Send("GET /fine HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(c.ReadAll().rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(ServerTest, AnUnreadLargeBodyClosesTheConnection) {
  Start();
  RawClient c(address_);
  c.Send("POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 100000000\r\n\r\n" +
         std::string(1000, 'x'));
  // The server drains at most 1 MiB, then answers and closes instead of parsing the rest of
  // the body as the next request.
  const std::string reply = c.ReadAll(20000);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply.substr(0, 200);
  EXPECT_NE(reply.find("Connection: close"), std::string::npos);
}

TEST_F(ServerTest, AStalledClientIsDisconnectedAfterTheIdleTimeout) {
  ServerOptions options;
  options.idle_timeout_seconds = 1;
  Start(options);
  RawClient c(address_);
  c.Send("GET / HTTP/1.1\r\nHost: h\r\n");  // never finishes its header
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.ReadAll(10000), "");
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(ServerTest, ConnectionsOverTheLimitGet503) {
  ServerOptions options;
  options.max_connections = 1;
  Start(options);
  RawClient first(address_);
  first.Send("GET /one HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_NE(first.ReadUntil("GET /one").find("200"), std::string::npos);
  RawClient second(address_);
  const std::string reply = second.ReadAll();
  EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
}

TEST_F(ServerTest, StopClosesIdleConnectionsAndReturns) {
  Start();
  RawClient idle(address_);
  idle.Send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_NE(idle.ReadUntil("GET /x").find("200"), std::string::npos);
  const auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  RawClient late(address_);
  EXPECT_FALSE(late.Connected());
}

// A client frame: FIN, the opcode, masked (clients must mask) with a fixed key.
std::string ClientFrame(uint8_t opcode, const std::string& payload) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  f += static_cast<char>(0x80 | payload.size());  // tests send < 126 bytes
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

constexpr char kUpgrade[] =
    "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

TEST_F(ServerTest, UpgradesToAWebSocketAndExchangesMessages) {
  Start();
  EchoSocket::closed.store(false);
  auto client = std::make_unique<RawClient>(address_);
  RawClient& c = *client;
  c.Send(kUpgrade);
  const std::string handshake = c.ReadUntil("\r\n\r\n");
  EXPECT_EQ(handshake.rfind("HTTP/1.1 101", 0), 0u) << handshake;
  // RFC 6455 §1.3's example key and its accept value.
  EXPECT_NE(handshake.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << handshake;
  c.Send(ClientFrame(0x1, "hello"));
  EXPECT_EQ(c.ReadUntil("hello"), std::string("\x81\x0a") + "echo:hello");
  c.Send(ClientFrame(0x1, "close"));
  const std::string closing = c.ReadAll(2000);
  ASSERT_FALSE(closing.empty());
  EXPECT_EQ(static_cast<uint8_t>(closing[0]), 0x88) << "a close frame";
  c.Send(ClientFrame(0x8, ""));  // the closing handshake's answer
  client.reset();                // and the client closes TCP, as RFC 6455 §7.1.1 asks
  for (int i = 0; i < 50 && !EchoSocket::closed.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(EchoSocket::closed.load());
}

TEST_F(ServerTest, AnUpgradeHandlerAnswersPlainRequestsNormally) {
  Start();
  RawClient c(address_);
  c.Send("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(c.ReadAll().rfind("HTTP/1.1 400", 0), 0u);
}

TEST_F(ServerTest, WebSocketsGiveTheirConnectionThreadBack) {
  ServerOptions options;
  options.max_connections = 2;
  Start(options);
  // A connection's thread lets go of its place a moment after the client has read the 101, so
  // a client that connects at once can meet the server's "503, retry" answer: retry, as
  // clients do (without this, 14 runs in 100 failed beside two busy loops on 2 cores).
  auto open = [&](const std::string& request, const std::string& until) {
    for (int attempt = 0;; ++attempt) {
      auto c = std::make_unique<RawClient>(address_);
      c->Send(request);
      std::string answer = c->ReadUntil(until);
      if (answer.rfind("HTTP/1.1 503", 0) != 0 || attempt == 50) {
        return std::make_pair(std::move(c), answer);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  std::vector<std::unique_ptr<RawClient>> sockets;
  for (int i = 0; i < 8; ++i) {
    auto [socket, handshake] = open(kUpgrade, "\r\n\r\n");
    ASSERT_EQ(handshake.rfind("HTTP/1.1 101", 0), 0u) << "upgrade " << i << ": " << handshake;
    sockets.push_back(std::move(socket));
  }
  // Two HTTP connections at once (a stays open while b is served) still fit beside the eight
  // live ones: if the sessions kept their threads, neither would get one.
  auto [a, answer_a] = open("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "GET /a");
  auto [b, answer_b] = open("GET /b HTTP/1.1\r\nHost: h\r\n\r\n", "GET /b");
  EXPECT_NE(answer_a.find("200 OK"), std::string::npos) << answer_a;
  EXPECT_NE(answer_b.find("200 OK"), std::string::npos) << answer_b;
  for (size_t i = 0; i < sockets.size(); ++i) {
    const std::string text = "m" + std::to_string(i);
    sockets[i]->Send(ClientFrame(0x1, text));
    EXPECT_EQ(sockets[i]->ReadUntil(text), std::string("\x81\x07") + "echo:" + text);
  }
}

TEST_F(ServerTest, WebSocketsOverTheirLimitGet503) {
  ServerOptions options;
  options.max_websockets = 2;
  Start(options);
  EchoSocket::closed.store(false);
  auto first = std::make_unique<RawClient>(address_);
  RawClient second(address_), third(address_);
  first->Send(kUpgrade);
  second.Send(kUpgrade);
  ASSERT_NE(first->ReadUntil("\r\n\r\n").find("101"), std::string::npos);
  ASSERT_NE(second.ReadUntil("\r\n\r\n").find("101"), std::string::npos);
  third.Send(kUpgrade);
  const std::string refused = third.ReadAll();
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After: 60"), std::string::npos) << refused;
  // A closed session frees its place.
  first.reset();
  for (int i = 0; i < 50 && !EchoSocket::closed.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(EchoSocket::closed.load());
  RawClient fourth(address_);
  fourth.Send(kUpgrade);
  EXPECT_NE(fourth.ReadUntil("\r\n\r\n").find("101"), std::string::npos);
}

TEST_F(ServerTest, StopClosesOpenWebSockets) {
  Start();
  RawClient c(address_);
  c.Send(kUpgrade);
  ASSERT_NE(c.ReadUntil("\r\n\r\n").find("101"), std::string::npos);
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(c.ReadAll(5000), "") << "the socket is closed, not left open";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  server_.reset();
}

TEST(StartServer, RejectsBadAddressesAndTlsFiles) {
  auto bad = StartServer({ListenSpec{"nonsense", "", ""}}, Echo);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().Code(), ErrorCode::kInvalidArgument);
  auto no_ip = StartServer({ListenSpec{"example.com:80", "", ""}}, Echo);
  ASSERT_FALSE(no_ip);
  auto no_cert =
      StartServer({ListenSpec{"127.0.0.1:0", "/nonexistent.pem", "/nonexistent.key"}}, Echo);
  ASSERT_FALSE(no_cert);
  EXPECT_NE(no_cert.error().Message().find("/nonexistent.pem"), std::string::npos);
}

}  // namespace
}  // namespace halley::httpd
