// SPDX-License-Identifier: Apache-2.0
//
// The HTTP/1.1 server every halleyd role is served from (DESIGN §6): one listener per
// configured address, plain or TLS, handlers are plain functions Request -> Response. Beast
// stays inside server.cc so that only one translation unit pays for its headers.
//
// Model: one thread per connection (bounded by max_connections; a connection over the bound
// gets 503 and is closed). An upgraded WebSocket gives its thread back: all of them share one
// thread (bounded by max_websockets). A handler may block on disk or database work without stalling
// other connections, and reads request bodies as a stream, so storage uploads have no size
// limit while every other handler bounds what it reads (Request::ReadBody).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"

namespace halley::httpd {

// Reads a request body incrementally. Implemented by the server.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Reads up to out.size() bytes; returns 0 at the end of the body. kInvalidArgument for a
  // malformed body (bad chunked encoding), kUnavailable if the peer went away or timed out.
  virtual Result<size_t> Read(MutableByteView out) = 0;
};

struct Request {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // path and query as sent ("/storage/b/data/ab?x=1")
  std::string path;    // target up to '?', percent-decoding NOT applied
  std::string query;   // after '?', or ""
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string peer_address;                                  // the TCP peer's IP
  std::string scheme = "http";                               // "https" on a TLS listener
  std::optional<uint64_t> content_length;                    // absent for chunked bodies
  BodySource* body = nullptr;                                // never null inside a handler

  // The first header named `name` (lower case), or "" if there is none.
  std::string_view Header(std::string_view name) const;
  // Reads the whole body, failing with kInvalidArgument ("request body over N bytes") as soon
  // as it exceeds `limit` (checked against Content-Length before reading anything).
  Result<std::string> ReadBody(size_t limit);
  // A GET asking to upgrade to a WebSocket (Connection: upgrade, Upgrade: websocket).
  bool IsWebSocketUpgrade() const;
};

// One accepted WebSocket connection (RFC 6455), as its handler sees it. Thread-safe.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Queues a text message and returns at once; false when the connection has closed (or its
  // queue is over its bound, which closes it: a peer that does not read is dropped).
  virtual bool Send(std::string text) = 0;
  // Starts a normal closure; OnClose follows. Idempotent.
  virtual void Close() = 0;
};

// What a handler does with a WebSocket it accepted. Calls come from the server's WebSocket
// thread, one at a time per connection, and must not block (no disk, no database, no network):
// queue work elsewhere. OnClose is called exactly once, after the last OnMessage.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  virtual void OnOpen(std::shared_ptr<WebSocket> ws) = 0;
  virtual void OnMessage(std::string text) = 0;
  virtual void OnClose() = 0;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // For a HEAD answer: the Content-Length to announce while sending no body.
  std::optional<uint64_t> head_content_length;
  // Set on an answer to a WebSocket upgrade request (Request::IsWebSocketUpgrade) to accept
  // it: the server completes the handshake (status and body are ignored) and hands the
  // connection to this handler. Text messages up to 1 MiB; the server pings a quiet peer
  // every 30 s and drops it after 60 s without a frame.
  std::shared_ptr<WebSocketHandler> websocket;

  Response& SetHeader(std::string name, std::string value);
  // `{"Status":<status>,"Message":<message>}` with that HTTP status (the product's reply shape).
  static Response Message(int status, std::string_view message);
  // A JSON document (already serialised), status 200.
  static Response Json(std::string json, int status = 200);
  static Response Text(int status, std::string text);
};

using Handler = std::function<Response(Request&)>;

struct ListenSpec {
  std::string address = "127.0.0.1:8060";  // "HOST:PORT"; port 0 picks a free one
  std::string tls_cert_path;               // PEM certificate chain; TLS when set
  std::string tls_key_path;                // PEM private key
};

struct ServerOptions {
  size_t max_connections = 1024;   // HTTP connections, each with its own thread
  size_t max_websockets = 100000;  // upgraded connections (halleyd raises RLIMIT_NOFILE)
  int idle_timeout_seconds = 120;  // a socket read or write that stalls this long closes it
  size_t max_header_bytes = 16 * 1024;
  int drain_timeout_seconds = 30;  // Stop() waits this long for requests in flight
};

class Server {
 public:
  virtual ~Server() = default;
  // The addresses actually bound ("127.0.0.1:41234"), in ListenSpec order.
  virtual std::vector<std::string> BoundAddresses() const = 0;
  // Stops accepting, lets requests in flight finish (up to drain_timeout_seconds), closes idle
  // connections and returns when every connection thread has ended. Idempotent.
  virtual void Stop() = 0;
};

// Binds every address (failing with kUnavailable naming the address if one cannot be bound,
// kInvalidArgument for a malformed address or unreadable TLS files) and starts serving on
// background threads. `handler` is called concurrently from many threads.
Result<std::unique_ptr<Server>> StartServer(const std::vector<ListenSpec>& listen, Handler handler,
                                            ServerOptions options = {});

// Percent-decodes `s` ('+' becomes a space when `plus_is_space`, as in form bodies).
// kInvalidArgument for a malformed escape.
Result<std::string> PercentDecode(std::string_view s, bool plus_is_space);

// Parses application/x-www-form-urlencoded text into (name, value) pairs, in order.
Result<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view body);

}  // namespace halley::httpd
