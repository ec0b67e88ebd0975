// SPDX-License-Identifier: Apache-2.0
#include "httpclient/server_api.h"

namespace halley::httpclient {
namespace {

// A profile with many devices and vaults is a few hundred KiB; job lists can be longer.
constexpr uint64_t kMaxReply = uint64_t{64} << 20;

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

void AppendEncoded(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (Unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

ErrorCode CodeForStatus(int status) {
  switch (status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kLocked;
    case 507:
      return ErrorCode::kNoSpace;
    default:
      return status >= 500 || status == 408 || status == 429 ? ErrorCode::kUnavailable
                                                             : ErrorCode::kIoError;
  }
}

}  // namespace

Result<std::string> NormalizeServerUrl(std::string_view url) {
  std::string u(url);
  if (u.find("://") == std::string::npos) u = "http://" + u;
  const bool https = u.rfind("https://", 0) == 0;
  if (!https && u.rfind("http://", 0) != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "server URL " + std::string(url) + " must start with http:// or https://");
  }
  const size_t host_start = https ? 8 : 7;
  const size_t path_start = u.find('/', host_start);
  const std::string host = u.substr(host_start, path_start - host_start);
  if (host.empty() || host.find('@') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "server URL " + RedactUrl(url) + " must name a host and carry no credentials");
  }
  if (u.find_first_of("?#") != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "server URL " + std::string(url) + " must not have a query or fragment");
  }
  if (u.back() != '/') u.push_back('/');
  return u;
}

std::string EncodeForm(const Form& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    AppendEncoded(out, name);
    out.push_back('=');
    AppendEncoded(out, value);
  }
  return out;
}

ServerApi::ServerApi(std::string server, ClientOptions options)
    : server_(std::move(server)), http_(std::make_unique<Client>(std::move(options))) {}

Result<Json> ServerApi::Call(std::string_view endpoint, const Form& fields,
                             const Credentials& who) const {
  Form form = fields;
  form.emplace_back("Username", who.username);
  form.emplace_back("AuthType", "Password");
  form.emplace_back("Password", who.secret);
  const std::string body = EncodeForm(form);
  Request req;
  req.method = "POST";
  req.url = server_ + "api/v1/" + std::string(endpoint);
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = AsBytes(body);
  req.max_body = kMaxReply;
  auto resp = http_->Do(req);
  if (!resp) {
    return Fail(resp.error().Code(),
                "cannot reach the server " + server_ + ": " + resp.error().Message());
  }
  const std::string text(reinterpret_cast<const char*>(resp->body.data()), resp->body.size());
  auto reply = ParseJson(text);
  std::string message;
  if (reply && reply->is_object()) message = reply->value("Message", "");
  if (resp->status != 200) {
    if (message.empty()) message = "HTTP status " + std::to_string(resp->status);
    return Fail(CodeForStatus(resp->status),
                "the server refused " + std::string(endpoint) + ": " + message);
  }
  if (!reply) {
    return Fail(ErrorCode::kIoError,
                "the server's reply to " + std::string(endpoint) + " is not JSON");
  }
  if (reply->is_object() && reply->contains("Status") && (*reply)["Status"].is_number() &&
      (*reply)["Status"].get<int64_t>() != 200) {
    const int status = static_cast<int>((*reply)["Status"].get<int64_t>());
    return Fail(CodeForStatus(status), "the server refused " + std::string(endpoint) + ": " +
                                           (message.empty() ? std::to_string(status) : message));
  }
  return std::move(*reply);
}

}  // namespace halley::httpclient
