// SPDX-License-Identifier: Apache-2.0
//
// The only client translation unit that includes Boost.Beast. Everything runs on the thread
// that calls Run(): each step of a connection is an asynchronous operation with a deadline
// (beast::tcp_stream), driven by running the io_context until it completes; a connected link
// keeps one read pending and a write queue. Other threads reach it only through posted work.
#include "client/live_link.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "base/encoding.h"

namespace halley::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kStepTimeout = std::chrono::seconds(30);
constexpr auto kIdleTimeout = std::chrono::seconds(75);  // the server pings every 30 s
constexpr auto kMaxBackoff = std::chrono::seconds(60);

struct Endpoint {
  std::string host;  // without brackets
  std::string port;
};

struct Target {
  bool tls = false;
  Endpoint at;
  std::string path;  // the server URL's path, ending in '/'
};

// "host[:port]" or "[v6][:port]" with `default_port`.
Result<Endpoint> ParseHostPort(std::string_view s, std::string_view default_port) {
  Endpoint e;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return Fail(ErrorCode::kInvalidArgument, "bad host");
    e.host = std::string(s.substr(1, close - 1));
    s.remove_prefix(close + 1);
    if (!s.empty() && s.front() == ':') e.port = std::string(s.substr(1));
  } else {
    const size_t colon = s.rfind(':');
    e.host = std::string(s.substr(0, colon));
    if (colon != std::string_view::npos) e.port = std::string(s.substr(colon + 1));
  }
  if (e.port.empty()) e.port = std::string(default_port);
  if (e.host.empty()) return Fail(ErrorCode::kInvalidArgument, "no host");
  return e;
}

Result<Target> ParseServer(std::string_view url) {
  Target t;
  if (url.rfind("https://", 0) == 0) {
    t.tls = true;
    url.remove_prefix(8);
  } else if (url.rfind("http://", 0) == 0) {
    url.remove_prefix(7);
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                "server URL '" + std::string(url) + "' is not http(s)");
  }
  const size_t slash = url.find('/');
  HALLEY_ASSIGN_OR_RETURN(t.at, ParseHostPort(url.substr(0, slash), t.tls ? "443" : "80"));
  t.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (t.path.back() != '/') t.path += '/';
  return t;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// NO_PROXY: "*", or a comma list of host names and domain suffixes (".example.com" and
// "example.com" both cover "a.example.com"), as curl reads it.
bool Bypassed(const std::string& host) {
  std::string list = Env("NO_PROXY");
  if (list.empty()) list = Env("no_proxy");
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string entry = list.substr(pos, comma - pos);
    pos = comma + 1;
    entry.erase(0, entry.find_first_not_of(' '));
    entry.erase(entry.find_last_not_of(' ') + 1);
    if (entry == "*") return true;
    if (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    if (entry.empty()) continue;
    if (host == entry || (host.size() > entry.size() &&
                          host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
                          host[host.size() - entry.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

struct Proxy {
  Endpoint at;
  std::string authorization;  // "Basic ..." or ""
  std::string url;            // without credentials, for messages
};

// The proxy the API calls would use for this server (libcurl's variables).
Result<std::optional<Proxy>> ProxyFor(const Target& t) {
  std::string url = t.tls ? Env("https_proxy") : Env("http_proxy");
  if (url.empty()) url = t.tls ? Env("HTTPS_PROXY") : Env("HTTP_PROXY");
  if (url.empty()) url = Env("all_proxy");
  if (url.empty()) url = Env("ALL_PROXY");
  if (url.empty() || Bypassed(t.at.host)) return std::optional<Proxy>();
  std::string_view rest = url;
  if (rest.find("://") == std::string_view::npos) {
    // curl's default scheme for a bare host:port
  } else if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                "the live connection goes only through http:// proxies (CONNECT), not '" +
                    url.substr(0, url.find("://") + 3) + "...'");
  }
  rest = rest.substr(0, rest.find('/'));
  Proxy p;
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string userinfo(rest.substr(0, at));
    p.authorization =
        "Basic " +
        Base64Encode(ByteView(reinterpret_cast<const uint8_t*>(userinfo.data()), userinfo.size()));
    rest.remove_prefix(at + 1);
  }
  HALLEY_ASSIGN_OR_RETURN(p.at, ParseHostPort(rest, "1080"));
  p.url = "http://" + std::string(rest);
  return std::optional<Proxy>(std::move(p));
}

std::string HostHeader(const Endpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return (v6 ? "[" + e.host + "]" : e.host) + ":" + e.port;
}

std::string Platform() {
  utsname u{};
  if (::uname(&u) != 0) return "linux";
  std::string arch = u.machine;
  if (arch == "x86_64") arch = "amd64";
  if (arch == "aarch64") arch = "arm64";
  return "linux/" + arch;
}

std::string PlatformVersion() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "";
}

// The IANA name of the local time zone: TZ, else /etc/timezone, else /etc/localtime's target.
std::string TimeZone() {
  std::string tz = Env("TZ");
  if (!tz.empty()) return tz.front() == ':' ? tz.substr(1) : tz;
  std::ifstream f("/etc/timezone");
  if (std::getline(f, tz) && !tz.empty()) return tz;
  char buf[256];
  const ssize_t n = ::readlink("/etc/localtime", buf, sizeof buf - 1);
  if (n > 0) {
    const std::string target(buf, static_cast<size_t>(n));
    const size_t zi = target.find("zoneinfo/");
    if (zi != std::string::npos) return target.substr(zi + 9);
  }
  return "UTC";
}

// The message of a refusal ({"Status":..,"Message":".."}), or the status line.
std::string RefusalMessage(const http::response<http::string_body>& res) {
  std::string message;
  try {
    message = Json::parse(res.body()).value("Message", "");
  } catch (const std::exception&) {
  }
  if (message.empty()) message = std::string(res.reason());
  return "HTTP " + std::to_string(res.result_int()) + ": " + message;
}

}  // namespace

// Where answers go: the io_context while the link lives, and only to the connection a request
// came on (`generation`).
struct Outbox {
  std::mutex mu;
  asio::io_context* io = nullptr;  // guarded by mu; null once the link is gone
  // Set and read on the link's thread only.
  uint64_t generation = 0;
  std::function<void(std::string)> deliver;

  void Post(uint64_t gen, std::string text, const std::shared_ptr<Outbox>& self) {
    std::lock_guard lock(mu);
    if (!io) return;
    asio::post(*io, [self, gen, text = std::move(text)]() mutable {
      if (gen == self->generation && self->deliver) self->deliver(std::move(text));
    });
  }
};

class LiveLink::Impl {
 public:
  Impl(LiveLinkOptions o, LiveRequestHandler on_request,
       std::function<void(LiveState, const std::string&)> on_state)
      : options_(std::move(o)),
        on_request_(std::move(on_request)),
        on_state_(std::move(on_state)),
        outbox_(std::make_shared<Outbox>()) {
    outbox_->io = &io_;
  }
  ~Impl() {
    std::lock_guard lock(outbox_->mu);
    outbox_->io = nullptr;
  }

  Result<void> Run(std::stop_token stop) {
    HALLEY_ASSIGN_OR_RETURN(const Target target, ParseServer(options_.server));
    HALLEY_ASSIGN_OR_RETURN(const std::optional<Proxy> proxy, ProxyFor(target));
    std::stop_callback on_stop(stop, [this] { Reconnect(); });
    std::mt19937 rng(std::random_device{}());
    auto backoff = std::chrono::seconds(1);
    while (!stop.stop_requested()) {
      State(LiveState::kConnecting, "");
      const auto began = std::chrono::steady_clock::now();
      Result<void> r = Connect(target, proxy, stop);
      if (stop.stop_requested()) break;
      if (!r && (r.error().Code() == ErrorCode::kUnauthenticated ||
                 r.error().Code() == ErrorCode::kPermissionDenied)) {
        State(LiveState::kDisconnected, r.error().Message());
        return r;
      }
      State(LiveState::kDisconnected, r ? "connection closed" : r.error().Message());
      if (std::chrono::steady_clock::now() - began > kMaxBackoff) {
        backoff = std::chrono::seconds(1);
      }
      // Jitter, so that devices cut off together do not all come back in the same second.
      const auto wait = std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(std::chrono::milliseconds(backoff).count() / 2,
                                                 std::chrono::milliseconds(backoff).count())(rng));
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock lock(m);
      cv.wait_for(lock, stop, wait, [] { return false; });
      backoff = std::min<std::chrono::seconds>(backoff * 2, kMaxBackoff);
    }
    State(LiveState::kDisconnected, "stopped");
    return {};
  }

  void Reconnect() {
    std::lock_guard lock(outbox_->mu);
    if (!outbox_->io) return;
    asio::post(*outbox_->io, [this] {
      if (socket_ != nullptr) {
        beast::error_code ec;
        socket_->shutdown(tcp::socket::shutdown_both, ec);
        socket_->close(ec);
      }
    });
  }

 private:
  void State(LiveState s, const std::string& message) {
    if (on_state_) on_state_(s, message);
  }

  // Runs the io_context until `done` is set by a completion handler.
  void RunUntil(const bool& done) {
    io_.restart();
    while (!done && io_.run_one() > 0) {
    }
  }

  template <class Start>
  beast::error_code Await(Start&& start) {
    bool done = false;
    beast::error_code result;
    start([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    RunUntil(done);
    return done ? result : beast::error_code(asio::error::operation_aborted);
  }

  Result<void> Connect(const Target& target, const std::optional<Proxy>& proxy,
                       const std::stop_token& stop) {
    const Endpoint& dial = proxy ? proxy->at : target.at;
    tcp::resolver resolver(io_);
    beast::error_code ec;
    const auto addresses = resolver.resolve(dial.host, dial.port, ec);
    if (ec) {
      return Fail(ErrorCode::kUnavailable, "cannot resolve " + dial.host + ": " + ec.message());
    }
    beast::tcp_stream tcp(io_);
    socket_ = &tcp.socket();
    struct Forget {
      tcp::socket*& s;
      ~Forget() { s = nullptr; }
    } forget{socket_};
    if (stop.stop_requested()) return {};
    tcp.expires_after(kStepTimeout);
    ec = Await([&](auto h) { tcp.async_connect(addresses, std::move(h)); });
    if (ec) {
      return Fail(ErrorCode::kUnavailable, "cannot connect to " +
                                               (proxy ? "proxy " + proxy->url : HostHeader(dial)) +
                                               ": " + ec.message());
    }
    if (proxy) HALLEY_RETURN_IF_ERROR(Tunnel(tcp, target, *proxy));
    if (!target.tls) {
      websocket::stream<beast::tcp_stream> ws(std::move(tcp));
      socket_ = &beast::get_lowest_layer(ws).socket();
      return Handshake(ws, target);
    }
    ssl::context ctx(ssl::context::tls_client);
    if (options_.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(options_.ca_file, ec);
    }
    if (ec) return Fail(ErrorCode::kInvalidArgument, "CA certificates: " + ec.message());
    websocket::stream<ssl::stream<beast::tcp_stream>> ws(std::move(tcp), ctx);
    socket_ = &beast::get_lowest_layer(ws).socket();
    auto& tls = ws.next_layer();
    tls.set_verify_mode(ssl::verify_peer);
    tls.set_verify_callback(ssl::host_name_verification(target.at.host));
    SSL_set_tlsext_host_name(tls.native_handle(), target.at.host.c_str());
    beast::get_lowest_layer(ws).expires_after(kStepTimeout);
    ec = Await([&](auto h) { tls.async_handshake(ssl::stream_base::client, std::move(h)); });
    if (ec) {
      return Fail(ErrorCode::kUnavailable,
                  "TLS with " + HostHeader(target.at) + " failed: " + ec.message());
    }
    return Handshake(ws, target);
  }

  // CONNECT host:port through the proxy; the stream then carries the server's bytes.
  Result<void> Tunnel(beast::tcp_stream& tcp, const Target& target, const Proxy& proxy) {
    http::request<http::empty_body> req{http::verb::connect, HostHeader(target.at), 11};
    req.set(http::field::host, HostHeader(target.at));
    if (!proxy.authorization.empty())
      req.set(http::field::proxy_authorization, proxy.authorization);
    tcp.expires_after(kStepTimeout);
    beast::error_code ec = Await([&](auto h) { http::async_write(tcp, req, std::move(h)); });
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // a 2xx answer to CONNECT has no body, whatever its headers say
    beast::flat_buffer buffer;
    if (!ec)
      ec = Await([&](auto h) { http::async_read_header(tcp, buffer, parser, std::move(h)); });
    if (ec) {
      return Fail(ErrorCode::kUnavailable, "proxy " + proxy.url + " failed: " + ec.message());
    }
    const unsigned status = parser.get().result_int();
    if (status / 100 != 2) {
      return Fail(status == 407 ? ErrorCode::kUnauthenticated : ErrorCode::kUnavailable,
                  "proxy " + proxy.url + " refused the tunnel: HTTP " + std::to_string(status));
    }
    return {};
  }

  template <class Ws>
  Result<void> Handshake(Ws& ws, const Target& target) {
    const LiveLinkOptions& o = options_;
    const bool lobby = o.username.empty();
    ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
      if (!lobby) {
        const std::string userpass = o.username + ":" + o.secret;
        req.set(http::field::authorization,
                "Basic " + Base64Encode(ByteView(reinterpret_cast<const uint8_t*>(userpass.data()),
                                                 userpass.size())));
      }
      req.set(http::field::user_agent, "backup-tool/" + o.version);
      req.set("X-Halley-Device-ID", o.device_id);
      req.set("X-Halley-Version", o.version);
      req.set("X-Halley-Platform", Platform());
      req.set("X-Halley-Platform-Version", PlatformVersion());
      req.set("X-Halley-Time-Zone", TimeZone());
      if (lobby) req.set("X-Halley-Friendly-Name", o.friendly_name);
      if (o.allows_filenames) req.set("X-Halley-Allows-Filenames", "1");
    }));
    ws.read_message_max(1 << 20);
    websocket::response_type res;
    beast::get_lowest_layer(ws).expires_after(kStepTimeout);
    const std::string path = target.path + (lobby ? "api/v1/device/lobby" : "api/v1/device/live");
    beast::error_code ec =
        Await([&](auto h) { ws.async_handshake(res, HostHeader(target.at), path, std::move(h)); });
    if (ec) {
      if (res.result_int() == 401) {
        return Fail(ErrorCode::kUnauthenticated, RefusalMessage(res));
      }
      if (res.result_int() == 403) return Fail(ErrorCode::kPermissionDenied, RefusalMessage(res));
      return Fail(ErrorCode::kUnavailable,
                  "live connection to " + HostHeader(target.at) +
                      " refused: " + (res.result_int() != 0 ? RefusalMessage(res) : ec.message()));
    }
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout{kStepTimeout, kIdleTimeout, true});
    return Serve(ws);
  }

  // Reads requests and writes answers until the connection ends.
  template <class Ws>
  Result<void> Serve(Ws& ws) {
    beast::flat_buffer in;
    std::deque<std::string> out;
    bool writing = false, finished = false;
    int pending = 0;
    beast::error_code failure;
    const uint64_t gen = ++outbox_->generation;
    const auto end = [&](beast::error_code ec) {
      if (!finished) failure = ec;
      finished = true;
      beast::error_code ignored;
      beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
    };
    std::function<void()> pump = [&] {
      if (finished || writing || out.empty()) return;
      writing = true;
      ++pending;
      ws.text(true);
      ws.async_write(asio::buffer(out.front()), [&](beast::error_code ec, size_t) {
        --pending;
        writing = false;
        out.pop_front();
        if (ec) return end(ec);
        pump();
      });
    };
    outbox_->deliver = [&](std::string text) {
      out.push_back(std::move(text));
      pump();
    };
    std::function<void()> read = [&] {
      ++pending;
      ws.async_read(in, [&](beast::error_code ec, size_t) {
        --pending;
        if (ec) return end(ec);
        std::string text = beast::buffers_to_string(in.data());
        in.consume(in.size());
        Received(text, gen);
        if (!finished) read();
      });
    };
    read();
    io_.restart();
    while ((!finished || pending > 0) && io_.run_one() > 0) {
    }
    outbox_->deliver = nullptr;
    ++outbox_->generation;
    if (failure == websocket::error::closed) return {};
    return Fail(ErrorCode::kUnavailable, "live connection lost: " + failure.message());
  }

  void Received(const std::string& text, uint64_t gen) {
    Json j;
    try {
      j = Json::parse(text);
    } catch (const std::exception&) {
      return;
    }
    if (!j.is_object()) return;
    if (j.value("Type", "") == "hello") {
      State(LiveState::kConnected, j.value("ConnectionID", ""));
      return;
    }
    const Json* rid = j.contains("RequestID") ? &j["RequestID"] : nullptr;
    if (!rid || !rid->is_string() || !j["Action"].is_string()) return;
    LiveReply reply = [outbox = outbox_, gen, id = rid->get<std::string>()](Json answer) {
      if (!answer.is_object()) answer = {{"Status", 500}, {"Message", "no answer"}};
      answer["RequestID"] = id;
      outbox->Post(gen, answer.dump(-1, ' ', false, Json::error_handler_t::replace), outbox);
    };
    const Json params =
        j.contains("Params") && j["Params"].is_object() ? j["Params"] : Json::object();
    on_request_(j["Action"].get<std::string>(), params, std::move(reply));
  }

  const LiveLinkOptions options_;
  const LiveRequestHandler on_request_;
  const std::function<void(LiveState, const std::string&)> on_state_;
  asio::io_context io_;
  tcp::socket* socket_ = nullptr;  // the connection's socket; used on the link's thread only
  std::shared_ptr<Outbox> outbox_;
};

LiveLink::LiveLink(LiveLinkOptions options, LiveRequestHandler on_request,
                   std::function<void(LiveState, const std::string&)> on_state)
    : impl_(
          std::make_unique<Impl>(std::move(options), std::move(on_request), std::move(on_state))) {}

LiveLink::~LiveLink() = default;

Result<void> LiveLink::Run(std::stop_token stop) { return impl_->Run(std::move(stop)); }

void LiveLink::Reconnect() { impl_->Reconnect(); }

}  // namespace halley::client
