// SPDX-License-Identifier: Apache-2.0
#include "httpclient/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace halley::httpclient {
namespace {

#ifndef HALLEY_VERSION
#define HALLEY_VERSION "0"
#endif

constexpr size_t kMaxIdleHandles = 16;
constexpr size_t kErrorBodyBytes = 4096;
// A throttled upload's pieces: small enough for a smooth rate, large enough to cost nothing.
constexpr size_t kThrottledPiece = 64 * 1024;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { HALLEY_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK); });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// "host:port" of a URL, without credentials.
std::string HostOf(std::string_view url) {
  std::string redacted = RedactUrl(url);
  std::string_view s = redacted;
  if (size_t scheme = s.find("://"); scheme != std::string_view::npos) s.remove_prefix(scheme + 3);
  return std::string(s.substr(0, s.find_first_of("/?#")));
}

// What one transfer collects; the callbacks' user data.
struct Transfer {
  const Request* req;
  Response* resp;
  RateLimiter* download_limit = nullptr;
  RateLimiter* upload_limit = nullptr;
  size_t sent = 0;             // bytes of req->body handed to libcurl (throttled uploads)
  bool head_complete = false;  // the blank line that ends the (last) response head came
  bool too_long = false;

  bool Success() const { return resp->status >= 200 && resp->status < 300; }
};

// libcurl calls this about once a second, and whenever data moves; non-zero aborts.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancelled = static_cast<const std::function<bool()>*>(user);
  return (*cancelled)() ? 1 : 0;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new status line (after a 1xx answer, or a proxy's CONNECT reply): start over.
    t->resp->headers.clear();
    const size_t sp = line.find(' ');
    int status = 0;
    for (size_t i = sp == std::string_view::npos ? line.size() : sp + 1;
         i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])); ++i) {
      status = status * 10 + (line[i] - '0');
    }
    t->resp->status = status;
    t->head_complete = false;
  } else if (line == "\r\n" || line == "\n") {
    t->head_complete = true;
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    t->resp->headers.emplace_back(Lower(Trim(line.substr(0, colon))),
                                  std::string(Trim(line.substr(colon + 1))));
  }
  return size * n;
}

// Throttled uploads hand the body to libcurl piece by piece, each after its slot.
size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = std::min({size * n, t->req->body.size() - t->sent, kThrottledPiece});
  if (len == 0) return 0;
  t->upload_limit->Acquire(len);
  std::memcpy(buffer, t->req->body.data() + t->sent, len);
  t->sent += len;
  return len;
}

// libcurl sends a request again on a keep-alive connection that turned out to be closed.
int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->req->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->sent = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (t->download_limit) t->download_limit->Acquire(len);
  Response& r = *t->resp;
  if (!t->Success()) {
    const size_t keep = std::min(len, kErrorBodyBytes - std::min(kErrorBodyBytes, r.body.size()));
    r.body.insert(r.body.end(), data, data + keep);
  } else if (r.body_size + len > t->req->max_body) {
    t->too_long = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  } else if (t->req->body_into) {
    MutableByteView into = *t->req->body_into;
    if (r.body_size + len > into.size()) {
      t->too_long = true;
      return 0;
    }
    std::memcpy(into.data() + r.body_size, data, len);
  } else {
    r.body.insert(r.body.end(), data, data + len);
  }
  r.body_size += len;
  return len;
}

// `text` with the user:password@ part of every URL in it removed (libcurl quotes the proxy's
// URL, credentials and all, in some of its messages).
std::string RedactCredentials(std::string text) {
  for (size_t scheme = text.find("://"); scheme != std::string::npos;
       scheme = text.find("://", scheme + 3)) {
    const size_t host = scheme + 3;
    const size_t end = std::min(text.find_first_of("/?#'\" \t\n", host), text.size());
    const size_t at = text.rfind('@', end);
    if (at != std::string::npos && at >= host && at < end) text.erase(host, at + 1 - host);
  }
  return text;
}

// The proxy libcurl takes from the environment for `url` (NO_PROXY aside), without its
// credentials, for messages; "" if none.
std::string ProxyFor(std::string_view url) {
  const bool https = url.rfind("https://", 0) == 0;
  for (const char* name : {https ? "https_proxy" : "http_proxy",
                           https ? "HTTPS_PROXY" : "HTTP_PROXY", "all_proxy", "ALL_PROXY"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return RedactUrl(v);
  }
  return "";
}

Error CurlError(CURL* h, CURLcode code, const char* detail, const Request& req) {
  const std::string text = RedactCredentials(detail[0] != '\0' ? detail : curl_easy_strerror(code));
  const std::string what = req.method + " " + RedactUrl(req.url) + ": ";
  const std::string proxy = ProxyFor(req.url);
  long connect_code = 0;
  long proxy_error = 0;
  curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  curl_easy_getinfo(h, CURLINFO_PROXY_ERROR, &proxy_error);
  // A proxy that refuses its credentials, or a proxy URL libcurl cannot use, is a setting to
  // fix: retrying cannot help.
  if (connect_code == 401 || connect_code == 407 || proxy_error == CURLPX_USER_REJECTED) {
    return Error(ErrorCode::kPermissionDenied,
                 what + "the proxy " + proxy + " refused the credentials (" + text + ")");
  }
  if (text.find("Unsupported proxy") != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, what + text +
                                                  " (the proxy URL must start with "
                                                  "http://, https://, socks5:// or socks5h://)");
  }
  const std::string via = proxy.empty() ? "" : " (through the proxy " + proxy + ")";
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_PROXY:
    case CURLE_AGAIN:
      return Error(ErrorCode::kUnavailable, what + text + via);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
      return Error(ErrorCode::kInvalidArgument, "TLS certificate of " + HostOf(req.url) +
                                                    " is not trusted: " + text +
                                                    " (use --cacert FILE for a private CA)");
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error(ErrorCode::kInvalidArgument, what + text + via);
    default:
      return Error(ErrorCode::kIoError, what + text + via);
  }
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t host = scheme + 3;
  const size_t end = std::min(url.find_first_of("/?#", host), url.size());
  const size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < host) return std::string(url);
  return std::string(url.substr(0, host)) + std::string(url.substr(at + 1));
}

std::string_view Response::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

// Idle libcurl handles. A handle keeps its connections open after a request, so taking one
// from the pool usually reuses a keep-alive connection to the same server.
struct Client::Pool {
  std::mutex mu;
  std::vector<CURL*> idle;  // guarded by mu

  CURL* Take() {
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* h) {
    {
      std::lock_guard lock(mu);
      if (idle.size() < kMaxIdleHandles) {
        idle.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }
  ~Pool() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }
};

Client::Client(ClientOptions options) : options_(std::move(options)), pool_(new Pool) {
  GlobalInit();
  if (options_.user_agent.empty()) options_.user_agent = "backup-tool/" HALLEY_VERSION;
}

Client::~Client() = default;

Result<Response> Client::Do(const Request& req) {
  CURL* h = pool_->Take();
  if (h == nullptr) return Fail(ErrorCode::kIoError, "curl_easy_init failed");
  // Back to the pool with its connections, whatever happens below. curl_easy_reset() keeps
  // the connection cache: only the options go.
  struct Release {
    Pool* pool;
    CURL* h;
    ~Release() {
      curl_easy_reset(h);
      pool->Give(h);
    }
  } release{pool_.get(), h};

  Response resp;
  Transfer t{&req, &resp, options_.download_limit.get(), options_.upload_limit.get()};
  char detail[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  struct FreeHeaders {
    curl_slist*& list;
    ~FreeHeaders() { curl_slist_free_all(list); }
  } free_headers{headers};
  for (const auto& [name, value] : req.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  // An upload starts at once instead of waiting up to a second for "100 Continue".
  headers = curl_slist_append(headers, "Expect:");

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  // HTTP_PROXY and HTTPS_PROXY work in either case (the product's manual). libcurl ignores an
  // upper-case HTTP_PROXY, a precaution for CGI programs, where it may come from a request's
  // Proxy header ("httpoxy"); this is no CGI program. NO_PROXY still applies.
  if (req.url.rfind("http://", 0) == 0 && std::getenv("http_proxy") == nullptr) {
    if (const char* proxy = std::getenv("HTTP_PROXY"); proxy != nullptr && *proxy != '\0') {
      curl_easy_setopt(h, CURLOPT_PROXY, proxy);
    }
  }
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  // Transfers of data only: the DELETE that releases a lock must still go through.
  if (options_.cancelled && req.method != "DELETE" && req.method != "HEAD") {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &options_.cancelled);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }

  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "POST" || req.method == "PUT" || !req.body.empty()) {
      // libcurl sends the caller's bytes without copying them; "" for an empty body, since
      // a null pointer would make it read the body from stdin.
      const void* data = req.body.empty() ? "" : static_cast<const void*>(req.body.data());
      if (t.upload_limit && !req.body.empty()) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
        curl_easy_setopt(h, CURLOPT_READDATA, &t);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, OnSeek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
      } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
      }
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
  }

  const CURLcode code = curl_easy_perform(h);
  if (t.too_long) {
    return Fail(ErrorCode::kIoError, req.method + " " + RedactUrl(req.url) +
                                         ": the response body is longer than expected");
  }
  if (code == CURLE_ABORTED_BY_CALLBACK) {
    return Fail(ErrorCode::kCancelled, req.method + " " + RedactUrl(req.url) + ": interrupted");
  }
  if (code != CURLE_OK) return Fail(CurlError(h, code, detail, req));
  if (!t.head_complete) {
    // libcurl takes a connection closed in the middle of the response head for a complete
    // answer; what follows would read a status or headers that never came.
    return Fail(ErrorCode::kUnavailable, req.method + " " + RedactUrl(req.url) +
                                             ": the connection closed in the middle of the answer");
  }
  // NO_PROXY aside: a message naming a proxy the request did not use is still a good hint.
  resp.proxy = ProxyFor(req.url);
  if (resp.status == 407 && !resp.proxy.empty()) {
    return Fail(ErrorCode::kPermissionDenied, req.method + " " + RedactUrl(req.url) +
                                                  ": the proxy " + resp.proxy +
                                                  " refused the credentials (HTTP 407)");
  }
  return resp;
}

}  // namespace halley::httpclient
