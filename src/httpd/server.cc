// SPDX-License-Identifier: Apache-2.0
//
// The only translation unit that includes Boost.Beast/Asio (their headers cost seconds per TU).
//
// HTTP sockets are blocking and each connection has its own thread. Asio's blocking operations
// ignore SO_RCVTIMEO (they poll again on EAGAIN), so timeouts come from a watchdog thread
// instead: every read or write arms a deadline on the connection, and the watchdog shuts down
// the socket of any connection past its deadline, which makes the blocked call fail. The file
// descriptor itself is only closed by the connection's own thread, so it is never reused under
// a racing shutdown(). An upgraded WebSocket leaves its thread: the session takes the socket
// and runs asynchronously on the one WebSocket thread, so thousands of devices can stay
// connected without a thread each.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "base/log.h"
#include "httpd/http.h"

namespace halley::httpd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// What the watchdog knows of a connection.
struct ConnState {
  int fd = -1;
  std::atomic<int64_t> deadline_ns{INT64_MAX};  // steady clock; INT64_MAX = not armed
  std::atomic<bool> idle{true};                 // waiting for the next request
  std::atomic<bool> shut{false};
};

// A connection's socket (and TLS layer), on the heap so that an upgraded connection can
// outlive the thread that accepted it.
struct Transport {
  explicit Transport(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
};

class WsSessionBase {
 public:
  virtual ~WsSessionBase() = default;
  virtual void Abort() = 0;
};

// The open WebSocket sessions. Touched only on the WebSocket thread, except `count`, which
// connection threads reserve before an upgrade.
struct WsRegistry {
  std::set<std::shared_ptr<WsSessionBase>> open;
  bool stopping = false;
  std::atomic<size_t> count{0};
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

Result<tcp::endpoint> ParseAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "listen address '" + address + "' is not HOST:PORT");
  }
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(port_text, &used);
    if (used != port_text.size() || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return Fail(ErrorCode::kInvalidArgument, "listen address '" + address + "': bad port");
  }
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    return Fail(ErrorCode::kInvalidArgument,
                "listen address '" + address + "': '" + host + "' is not an IP address");
  }
  return tcp::endpoint(ip, static_cast<uint16_t>(port));
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  const std::string ip = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(ep.port());
}

// An upgraded connection. It owns the transport, and its operations run on the server's
// WebSocket thread (the only thread that runs io_), which serialises them; other threads reach
// it through posted work. The registry holds it until no operation on the stream is pending,
// and then the transport is closed on that thread.
template <class Stream>
class WsSession final : public WebSocket,
                        public WsSessionBase,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  static constexpr auto kPingEvery = std::chrono::seconds(30);
  static constexpr auto kDropAfter = std::chrono::seconds(60);
  static constexpr size_t kMaxMessage = 1 << 20;
  static constexpr size_t kMaxQueued = 16 << 20;

  WsSession(WsRegistry& registry, std::shared_ptr<Transport> transport, Stream& stream,
            std::shared_ptr<WebSocketHandler> handler)
      : registry_(registry),
        transport_(std::move(transport)),
        ws_(std::in_place, stream),
        timer_(stream.get_executor()),
        executor_(stream.get_executor()),
        handler_(std::move(handler)) {
    ws_->read_message_max(kMaxMessage);
    // Bounds the closing handshake; idleness is Tick()'s business.
    ws_->set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                    websocket::stream_base::none(), false});
  }

  websocket::stream<Stream&>& Ws() { return *ws_; }

  // Hands the session to the WebSocket thread; the caller's thread is free from here on.
  void Start() {
    asio::post(executor_, [self = this->shared_from_this()] { self->Begin(); });
  }

  void Abort() override { Finish(); }
  bool Send(std::string text) override {
    if (finished_.load()) return false;
    asio::post(executor_, [self = this->shared_from_this(), text = std::move(text)]() mutable {
      if (self->finishing_) return;
      self->queued_ += text.size();
      if (self->queued_ > kMaxQueued) {
        LogLine(LogLevel::kWarning, "websocket_dropped", {{"why", "peer is not reading"}});
        self->Finish();
        return;
      }
      self->out_.push_back(std::move(text));
      self->Pump();
    });
    return true;
  }

  void Close() override {
    asio::post(executor_, [self = this->shared_from_this()] {
      self->close_requested_ = true;
      self->Pump();
    });
  }

 private:
  void Begin() {
    registry_.open.insert(this->shared_from_this());
    if (registry_.stopping) return Finish();
    last_frame_ = Clock::now();
    ws_->text(true);
    ws_->control_callback(
        [this](websocket::frame_type, beast::string_view) { last_frame_ = Clock::now(); });
    handler_->OnOpen(this->shared_from_this());
    Read();
    Tick();
  }

  void Read() {
    ++pending_;
    ws_->async_read(in_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      --self->pending_;
      if (ec || self->finishing_) return self->Finish();
      self->last_frame_ = Clock::now();
      std::string text = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      if (self->ws_->got_text()) self->handler_->OnMessage(std::move(text));
      self->Read();
    });
  }

  void Pump() {
    if (finishing_ || writing_) return;
    if (!out_.empty()) {
      writing_ = true;
      ++pending_;
      ws_->async_write(asio::buffer(out_.front()),
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         --self->pending_;
                         self->writing_ = false;
                         self->queued_ -= self->out_.front().size();
                         self->out_.pop_front();
                         if (ec || self->finishing_) return self->Finish();
                         self->Pump();
                       });
    } else if (close_requested_ && !close_sent_ && !pinging_) {
      close_sent_ = true;
      ++pending_;
      ws_->async_close(websocket::close_code::normal,
                       [self = this->shared_from_this()](beast::error_code) {
                         --self->pending_;
                         self->Finish();
                       });
    }
  }

  // Pings a quiet peer; drops one that has sent nothing (not even a pong) for kDropAfter.
  void Tick() {
    ++pending_;
    timer_.expires_after(kPingEvery);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      --self->pending_;
      if (ec || self->finishing_) return self->Finish();
      if (Clock::now() - self->last_frame_ >= kDropAfter) return self->Finish();
      if (!self->pinging_ && !self->close_sent_) {
        self->pinging_ = true;
        ++self->pending_;
        self->ws_->async_ping({}, [self](beast::error_code ping_ec) {
          --self->pending_;
          self->pinging_ = false;
          if (ping_ec || self->finishing_) return self->Finish();
          self->Pump();
        });
      }
      self->Tick();
    });
  }

  // Ends the session: shuts the socket so that every pending operation completes, and once
  // none is left closes the transport and leaves the registry.
  void Finish() {
    if (!finishing_) {
      finishing_ = true;
      finished_.store(true);
      beast::error_code ec;
      timer_.cancel();
      beast::get_lowest_layer(*ws_).shutdown(tcp::socket::shutdown_both, ec);
      handler_->OnClose();
    }
    if (pending_ == 0 && transport_) {
      ws_.reset();
      handler_.reset();
      transport_.reset();
      registry_.count.fetch_sub(1);
      // Last: this may drop the final reference to the session.
      registry_.open.erase(this->shared_from_this());
    }
  }

  WsRegistry& registry_;
  std::shared_ptr<Transport> transport_;
  std::optional<websocket::stream<Stream&>> ws_;
  asio::steady_timer timer_;
  asio::any_io_executor executor_;
  std::shared_ptr<WebSocketHandler> handler_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  size_t queued_ = 0;
  int pending_ = 0;
  bool writing_ = false, pinging_ = false, close_requested_ = false, close_sent_ = false;
  bool finishing_ = false;
  std::atomic<bool> finished_{false};
  Clock::time_point last_frame_;
};

class ServerImpl;

// One client connection over a plain or TLS stream.
template <class Stream>
class Connection {
 public:
  Connection(ServerImpl& server, std::shared_ptr<Transport> transport, Stream& stream,
             ConnState& state, std::string peer)
      : server_(server),
        transport_(std::move(transport)),
        stream_(stream),
        state_(state),
        peer_(std::move(peer)) {}
  // Serves requests until the connection closes (false) or a WebSocket session takes it
  // (true: the transport is no longer this thread's).
  bool Serve();

 private:
  class Body;
  void Arm();
  void Disarm() { state_.deadline_ns.store(INT64_MAX); }
  bool WriteResponse(const Request& req, Response& res, bool keep_alive);
  bool ServeWebSocket(const http::request<http::buffer_body>& head,
                      std::shared_ptr<WebSocketHandler> handler);

  ServerImpl& server_;
  std::shared_ptr<Transport> transport_;
  Stream& stream_;
  ConnState& state_;
  std::string peer_;
  beast::flat_buffer buffer_;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(Handler handler, ServerOptions options)
      : handler_(std::move(handler)), options_(options) {}
  ~ServerImpl() override { Stop(); }

  Result<void> Listen(const ListenSpec& spec);
  void StartThreads();
  std::vector<std::string> BoundAddresses() const override { return bound_; }
  void Stop() override;

  const ServerOptions& Options() const { return options_; }
  bool Stopping() const { return stopping_.load(); }
  Response Dispatch(Request& req);
  WsRegistry& WebSockets() { return websockets_; }
  // Counts an upgrade against max_websockets; false when the server is full.
  bool ReserveWebSocket() {
    if (websockets_.count.fetch_add(1) < options_.max_websockets) return true;
    websockets_.count.fetch_sub(1);
    return false;
  }

 private:
  struct Listener {
    std::unique_ptr<tcp::acceptor> acceptor;
    std::shared_ptr<asio::ssl::context> tls;  // null for plain HTTP
  };

  void AcceptLoop(Listener& listener);
  void ServeSocket(tcp::socket socket, std::shared_ptr<asio::ssl::context> tls);
  void Watchdog();

  Handler handler_;
  ServerOptions options_;
  // Owns the sockets. HTTP operations are blocking; only upgraded WebSocket connections run
  // asynchronously, on ws_thread_, the one thread that runs it.
  asio::io_context io_;
  WsRegistry websockets_;  // only on ws_thread_ (but `count`)
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> ws_work_;
  std::thread ws_thread_;
  std::vector<Listener> listeners_;
  std::vector<std::string> bound_;
  std::vector<std::thread> acceptors_;
  std::thread watchdog_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::list<ConnState*> conns_;  // guarded by mu_
  size_t threads_ = 0;           // connection threads alive, guarded by mu_
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;  // guarded by mu_
};

// The request body, read from the parser as the handler asks for it.
template <class Stream>
class Connection<Stream>::Body final : public BodySource {
 public:
  Body(Connection& conn, http::request_parser<http::buffer_body>& parser, bool expect_continue)
      : conn_(conn), parser_(parser), expect_continue_(expect_continue) {}

  Result<size_t> Read(MutableByteView out) override {
    if (out.empty()) return size_t{0};
    if (expect_continue_) {
      // The client waits for this before sending a large body (curl does for > 1 MiB).
      expect_continue_ = false;
      http::response<http::empty_body> cont{http::status::continue_, 11};
      beast::error_code ec;
      conn_.Arm();
      http::write(conn_.stream_, cont, ec);
      conn_.Disarm();
      if (ec) return Fail(ErrorCode::kUnavailable, "client connection lost: " + ec.message());
    }
    while (!parser_.is_done()) {
      auto& body = parser_.get().body();
      body.data = out.data();
      body.size = out.size();
      beast::error_code ec;
      conn_.Arm();
      http::read(conn_.stream_, conn_.buffer_, parser_, ec);
      conn_.Disarm();
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        failed_ = true;
        if (ec == http::error::partial_message || ec == asio::error::eof ||
            ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
            ec == asio::error::shut_down || ec == asio::error::not_connected) {
          return Fail(ErrorCode::kUnavailable, "request body ended early: " + ec.message());
        }
        return Fail(ErrorCode::kInvalidArgument, "malformed request body: " + ec.message());
      }
      const size_t n = out.size() - parser_.get().body().size;
      if (n > 0) return n;
    }
    return size_t{0};
  }

  bool Failed() const { return failed_; }

 private:
  Connection& conn_;
  http::request_parser<http::buffer_body>& parser_;
  bool expect_continue_;
  bool failed_ = false;
};

template <class Stream>
void Connection<Stream>::Arm() {
  state_.deadline_ns.store(NowNs() +
                           int64_t{server_.Options().idle_timeout_seconds} * 1'000'000'000);
}

template <class Stream>
bool Connection<Stream>::Serve() {
  for (;;) {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<uint32_t>(server_.Options().max_header_bytes));
    // Handlers bound what they read. Not boost::none: Boost 1.74 compares a Content-Length
    // against an empty optional as "over the limit".
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    state_.idle.store(true);
    if (server_.Stopping()) return false;
    Arm();
    http::read_header(stream_, buffer_, parser, ec);
    Disarm();
    state_.idle.store(false);
    if (ec == http::error::need_buffer) ec = {};  // body bytes arrived with the header
    if (ec) {
      if (ec == http::error::header_limit || ec == http::error::bad_method ||
          ec == http::error::bad_target || ec == http::error::bad_version ||
          ec == http::error::bad_field || ec == http::error::bad_value ||
          ec == http::error::bad_line_ending || ec == http::error::bad_content_length ||
          ec == http::error::bad_transfer_encoding) {
        Request dummy;
        dummy.method = "GET";
        Response res = Response::Text(ec == http::error::header_limit ? 431 : 400,
                                      "bad request: " + ec.message() + "\n");
        WriteResponse(dummy, res, false);
      }
      return false;
    }
    auto& head = parser.get();
    Request req;
    req.method = std::string(head.method_string());
    req.target = std::string(head.target());
    const size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& field : head) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.peer_address = peer_;
    req.scheme = std::is_same_v<Stream, tcp::socket> ? "http" : "https";
    if (parser.content_length()) req.content_length = *parser.content_length();
    const bool expect_continue =
        beast::iequals(head[http::field::expect], "100-continue") && !parser.is_done();
    Body body(*this, parser, expect_continue);
    req.body = &body;
    const bool keep_alive_requested = head.keep_alive();

    Response res = server_.Dispatch(req);
    if (res.websocket && req.IsWebSocketUpgrade() && parser.is_done()) {
      if (server_.ReserveWebSocket()) return ServeWebSocket(head, std::move(res.websocket));
      LogLine(LogLevel::kWarning, "websocket_refused",
              {{"why", "max_websockets reached"}, {"peer", peer_}});
      res = Response::Message(503, "The server has no room for another live connection");
      res.SetHeader("Retry-After", "60");
      WriteResponse(req, res, false);
      return false;
    }

    // A body the handler left unread must not be parsed as the next request: answer, then
    // close (ServeSocket lingers so that the client still receives the answer).
    const bool keep_alive = keep_alive_requested && parser.is_done() && !server_.Stopping();
    if (!WriteResponse(req, res, keep_alive) || !keep_alive) return false;
  }
}

template <class Stream>
bool Connection<Stream>::WriteResponse(const Request& req, Response& res, bool keep_alive) {
  http::response<http::string_body> out;
  out.version(11);
  out.result(static_cast<unsigned>(res.status));
  for (auto& [name, value] : res.headers) out.set(name, value);
  out.keep_alive(keep_alive);
  const bool head = req.method == "HEAD";
  if (head) {
    out.set(http::field::content_length,
            std::to_string(res.head_content_length.value_or(res.body.size())));
  } else {
    out.body() = std::move(res.body);
    out.prepare_payload();
  }
  http::response_serializer<http::string_body> sr(out);
  beast::error_code ec;
  // write_some in pieces so that the deadline bounds a stall, not a long download.
  sr.limit(1 << 20);
  if (head) {
    Arm();
    http::write_header(stream_, sr, ec);
  } else {
    while (!ec && !sr.is_done()) {
      Arm();
      http::write_some(stream_, sr, ec);
    }
  }
  Disarm();
  return !ec;
}

template <class Stream>
bool Connection<Stream>::ServeWebSocket(const http::request<http::buffer_body>& head,
                                        std::shared_ptr<WebSocketHandler> handler) {
  auto session = std::make_shared<WsSession<Stream>>(server_.WebSockets(), transport_, stream_,
                                                     std::move(handler));
  beast::error_code ec;
  Arm();
  session->Ws().accept(head, ec);  // answers 400 itself to a malformed handshake
  Disarm();
  if (ec || server_.Stopping()) {
    server_.WebSockets().count.fetch_sub(1);
    return false;
  }
  // From here only the session closes the socket: neither the watchdog nor Stop() may shut a
  // descriptor the WebSocket thread could have closed and the kernel reused.
  state_.shut.store(true);
  session->Start();
  return true;
}

Response ServerImpl::Dispatch(Request& req) {
  try {
    return handler_(req);
  } catch (const std::exception& e) {
    LogLine(LogLevel::kError, "handler_exception", {{"path", req.path}, {"what", e.what()}});
    return Response::Message(500, "internal error");
  }
}

Result<void> ServerImpl::Listen(const ListenSpec& spec) {
  HALLEY_ASSIGN_OR_RETURN(tcp::endpoint ep, ParseAddress(spec.address));
  Listener listener;
  if (!spec.tls_cert_path.empty() || !spec.tls_key_path.empty()) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1,
                     ec);
    ctx->use_certificate_chain_file(spec.tls_cert_path, ec);
    if (ec) {
      return Fail(ErrorCode::kInvalidArgument,
                  "TLS certificate '" + spec.tls_cert_path + "': " + ec.message());
    }
    ctx->use_private_key_file(spec.tls_key_path, asio::ssl::context::pem, ec);
    if (ec) {
      return Fail(ErrorCode::kInvalidArgument,
                  "TLS key '" + spec.tls_key_path + "': " + ec.message());
    }
    listener.tls = std::move(ctx);
  }
  boost::system::error_code ec;
  listener.acceptor = std::make_unique<tcp::acceptor>(io_);
  listener.acceptor->open(ep.protocol(), ec);
  if (!ec) listener.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) listener.acceptor->bind(ep, ec);
  if (!ec) listener.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Fail(ErrorCode::kUnavailable, "cannot listen on " + spec.address + ": " + ec.message());
  bound_.push_back(FormatEndpoint(listener.acceptor->local_endpoint()));
  listeners_.push_back(std::move(listener));
  return {};
}

void ServerImpl::StartThreads() {
  for (auto& listener : listeners_) {
    acceptors_.emplace_back([this, &listener] { AcceptLoop(listener); });
  }
  watchdog_ = std::thread([this] { Watchdog(); });
  ws_work_.emplace(io_.get_executor());
  ws_thread_ = std::thread([this] { io_.run(); });
}

void ServerImpl::AcceptLoop(Listener& listener) {
  while (!stopping_.load()) {
    boost::system::error_code ec;
    tcp::socket socket(io_);
    listener.acceptor->accept(socket, ec);
    if (stopping_.load()) return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning.
      LogLine(LogLevel::kWarning, "accept_failed", {{"error", ec.message()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    {
      std::lock_guard lock(mu_);
      if (threads_ >= options_.max_connections) {
        // Answer without a thread: the client learns to retry instead of hanging.
        static constexpr char kBusy[] =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
            "Connection: close\r\n\r\n";
        ::send(socket.native_handle(), kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        continue;
      }
      ++threads_;
    }
    std::thread([this, s = std::move(socket), tls = listener.tls]() mutable {
      ServeSocket(std::move(s), std::move(tls));
    }).detach();
  }
}

void ServerImpl::ServeSocket(tcp::socket socket, std::shared_ptr<asio::ssl::context> tls) {
  ConnState state;
  state.fd = socket.native_handle();
  std::list<ConnState*>::iterator it;
  {
    std::lock_guard lock(mu_);
    it = conns_.insert(conns_.end(), &state);
  }
  auto transport = std::make_shared<Transport>(std::move(socket));
  tcp::socket& sock = transport->socket;
  boost::system::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  std::string peer;
  const auto remote = sock.remote_endpoint(ec);
  if (!ec) peer = remote.address().to_string();
  bool upgraded = false;
  if (tls) {
    auto& stream = transport->tls.emplace(sock, *tls);
    state.idle.store(false);
    state.deadline_ns.store(NowNs() + int64_t{options_.idle_timeout_seconds} * 1'000'000'000);
    stream.handshake(asio::ssl::stream_base::server, ec);
    state.deadline_ns.store(INT64_MAX);
    if (!ec) {
      Connection<asio::ssl::stream<tcp::socket&>> conn(*this, transport, stream, state, peer);
      upgraded = conn.Serve();
      if (!upgraded) {
        state.deadline_ns.store(NowNs() + 2'000'000'000);
        stream.shutdown(ec);
      }
    }
  } else {
    Connection<tcp::socket> conn(*this, transport, sock, state, peer);
    upgraded = conn.Serve();
  }
  if (!upgraded) {
    // Lingering close: closing with unread input makes the kernel send a reset, which can
    // destroy the answer before the client reads it (an upload refused early). Half-close,
    // then discard what the client still sends for a moment.
    sock.shutdown(tcp::socket::shutdown_send, ec);
    state.deadline_ns.store(NowNs() + 2'000'000'000);
    char sink[16 * 1024];
    while (!ec) sock.read_some(asio::buffer(sink), ec);
    state.deadline_ns.store(INT64_MAX);
  }
  {
    // Unregister before closing so that the watchdog never touches a reused descriptor. An
    // upgraded socket is the WebSocket session's now: only the WebSocket thread closes it.
    std::lock_guard lock(mu_);
    conns_.erase(it);
    if (!upgraded) sock.close(ec);
    --threads_;
    // Notify under the lock: once it is released, Stop() may return and destroy the server.
    cv_.notify_all();
  }
}

void ServerImpl::Watchdog() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    cv_.wait_for(lock, std::chrono::milliseconds(250));
    const int64_t now = NowNs();
    const bool stopping = stopping_.load();
    for (ConnState* c : conns_) {
      const bool expired = c->deadline_ns.load() <= now;
      const bool quiet = c->idle.load();
      if ((expired || (stopping && quiet)) && !c->shut.exchange(true)) {
        ::shutdown(c->fd, SHUT_RDWR);
      }
    }
  }
}

void ServerImpl::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || stopping_.exchange(true)) return;
  }
  for (auto& listener : listeners_) {
    // shutdown() wakes a thread blocked in accept(); close() from another thread would not.
    ::shutdown(listener.acceptor->native_handle(), SHUT_RDWR);
  }
  for (auto& t : acceptors_) t.join();
  // Live connections do not drain: close them now. A session that starts after this sees
  // `stopping` and ends at once.
  asio::post(io_, [this] {
    websockets_.stopping = true;
    for (const auto& session : std::vector(websockets_.open.begin(), websockets_.open.end())) {
      session->Abort();
    }
  });
  std::unique_lock lock(mu_);
  const auto drain_until = Clock::now() + std::chrono::seconds(options_.drain_timeout_seconds);
  while (threads_ > 0) {
    if (cv_.wait_until(lock, drain_until) == std::cv_status::timeout) {
      for (ConnState* c : conns_) {
        if (!c->shut.exchange(true)) ::shutdown(c->fd, SHUT_RDWR);
      }
      cv_.wait(lock, [this] { return threads_ == 0; });
    }
  }
  stopped_ = true;
  lock.unlock();
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  ws_work_.reset();  // io_ returns once every session has finished
  if (ws_thread_.joinable()) ws_thread_.join();
  for (auto& listener : listeners_) {
    boost::system::error_code ec;
    listener.acceptor->close(ec);
  }
}

}  // namespace

Result<std::unique_ptr<Server>> StartServer(const std::vector<ListenSpec>& listen, Handler handler,
                                            ServerOptions options) {
  if (listen.empty()) return Fail(ErrorCode::kInvalidArgument, "no listen address");
  auto server = std::make_unique<ServerImpl>(std::move(handler), options);
  for (const auto& spec : listen) HALLEY_RETURN_IF_ERROR(server->Listen(spec));
  server->StartThreads();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace halley::httpd
