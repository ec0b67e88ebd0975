// SPDX-License-Identifier: Apache-2.0
//
// The calling side of halleyd's JSON API (docs/server.md "The API"): form-encoded POSTs to
// <server>api/v1/<endpoint> carrying the caller's credentials, JSON replies. Devices use it
// (client/), and halleyd itself to reach another server's Storage Role. A user's credentials
// are the username and the L secret ("zkr1:" + hex), never the password itself.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "httpclient/http_client.h"

namespace halley::httpclient {

using Form = std::vector<std::pair<std::string, std::string>>;

struct Credentials {
  std::string username;
  std::string secret;  // sent as Password with AuthType=Password
};

// "http[s]://host[:port]/" from what a user typed ("host:port" alone means http://); the path,
// if any, is kept and ends in '/'. kInvalidArgument for another scheme, credentials in the URL,
// a query or a fragment.
Result<std::string> NormalizeServerUrl(std::string_view url);

// application/x-www-form-urlencoded encoding of `fields`.
std::string EncodeForm(const Form& fields);

class ServerApi {
 public:
  // `server` as NormalizeServerUrl returns it. Does not contact the server.
  ServerApi(std::string server, ClientOptions options);

  const std::string& Server() const { return server_; }

  // POSTs `fields` plus `who`'s credentials to /api/v1/<endpoint> and returns the JSON reply
  // (a 200 whose Status field, if any, is 200). Errors carry the server's Message:
  // kUnavailable no answer or a 5xx (a retry may succeed), kUnauthenticated 401,
  // kPermissionDenied 403, kNotFound 404, kLocked 409 (a profile changed since its hash was
  // read), kInvalidArgument 400 and an untrusted certificate, kIoError anything else (also a
  // reply that is not JSON). Thread-safe.
  Result<Json> Call(std::string_view endpoint, const Form& fields, const Credentials& who) const;

 private:
  std::string server_;
  std::unique_ptr<Client> http_;
};

}  // namespace halley::httpclient
