// SPDX-License-Identifier: Apache-2.0
//
// A small HTTP/1.1 client over libcurl for remote vaults (restic's REST protocol, S3) and the
// account server.
// One Client serves every thread of a process: it keeps a pool of libcurl handles, each with
// its own connection cache, so that keep-alive connections are reused across requests.
//
// Proxies come from the environment, as the product's manual describes: `HTTP_PROXY` or
// `http_proxy` for http:// URLs, `HTTPS_PROXY` or `https_proxy` for https:// URLs,
// `ALL_PROXY`/`all_proxy` for both, and `NO_PROXY`/`no_proxy` for exceptions. A proxy URL may
// be http://, https://, socks4://, socks5:// or socks5h:// (DNS through the proxy), with
// user:password@ credentials.
//
// Secrets: URLs should not carry credentials (send an Authorization header instead); in any
// case error messages never contain a URL's user:password part nor any header value.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "httpclient/rate_limiter.h"

namespace halley::httpclient {

struct ClientOptions {
  // PEM file of the CA certificates to trust instead of the system store: a private CA, or a
  // self-signed server certificate itself. Empty: the system's trust store.
  std::string ca_file = {};
  std::chrono::seconds connect_timeout{30};
  // A transfer that moves no byte for this long fails (kUnavailable), so a stalled server or
  // a dead link cannot hang a backup; a slow but moving transfer is never cut.
  std::chrono::seconds stall_timeout{120};
  std::string user_agent = {};  // empty: "backup-tool/<version>"
  // Bandwidth limits shared with every client holding the same limiter; null: none.
  std::shared_ptr<RateLimiter> upload_limit = nullptr;
  std::shared_ptr<RateLimiter> download_limit = nullptr;
  // Polled during GET, PUT and POST transfers (about once a second); true aborts the transfer
  // in progress with kCancelled: an interrupted command does not wait for a slow upload to
  // finish. DELETE and HEAD run to the end, so that an interrupted command still unlocks.
  std::function<bool()> cancelled = {};
};

struct Request {
  std::string method = "GET";  // GET, HEAD, POST, PUT, DELETE, ...
  std::string url = {};        // http:// or https:// only
  std::vector<std::pair<std::string, std::string>> headers = {};  // ("Range", "bytes=0-9")
  ByteView body = {};  // sent with POST and PUT (Content-Length: body.size())
  // If set, a 2xx response body is written here instead of into Response::body (a caller
  // reading into its own buffer pays no copy); a body longer than the view fails the request
  // with kIoError. Error (non-2xx) bodies still go to Response::body.
  std::optional<MutableByteView> body_into = {};
  // A 2xx body longer than this fails the request with kIoError (a server sending more than
  // was asked for must not exhaust memory).
  uint64_t max_body = std::numeric_limits<uint64_t>::max();
};

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  // The body: a 2xx body unless Request::body_into took it; of other bodies only the first
  // 4 KiB are kept (for messages).
  Bytes body;
  uint64_t body_size = 0;  // bytes of body received, wherever they went
  // The proxy the request went through (from the environment, without credentials), or "":
  // for messages, since a proxy may answer in the server's place.
  std::string proxy;

  // The first header named `name` (lower case), or "".
  std::string_view Header(std::string_view name) const;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `req` and returns the server's answer, whatever its status; only failures to get
  // an answer are errors:
  //  * kUnavailable: DNS, connection refused or reset, timeouts, a stalled transfer, a TLS
  //    handshake that broke off (a retry may succeed);
  //  * kInvalidArgument: an untrusted TLS certificate or unreadable CA file, a malformed
  //    URL or an unsupported scheme (a retry cannot succeed);
  //  * kIoError: a body over Request::body_into / max_body, anything else.
  // Redirects are not followed. Thread-safe: call from any number of threads at once.
  Result<Response> Do(const Request& req);

  const ClientOptions& Options() const { return options_; }

 private:
  struct Pool;
  ClientOptions options_;
  std::unique_ptr<Pool> pool_;
};

// `url` without its "user:password@" part, for messages.
std::string RedactUrl(std::string_view url);

}  // namespace halley::httpclient
