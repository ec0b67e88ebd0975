// SPDX-License-Identifier: Apache-2.0
#include "storage/rest_blob_store.h"

#include <algorithm>

#include "base/encoding.h"
#include "base/json.h"

namespace halley::storage {
namespace {

using httpclient::Request;
using httpclient::Response;

constexpr char kV2[] = "application/vnd.x.restic.rest.v2";
// A listing of ten million packs is about 1 GiB of v2 JSON.
constexpr uint64_t kMaxListBytes = uint64_t{1} << 30;

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = i + 2 < s.size() ? hex(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return Fail(ErrorCode::kInvalidArgument, "bad percent escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string ObjectPath(const ObjectHandle& h) {
  if (h.type == ObjectType::kConfig) return "config";
  return std::string(ObjectTypeDir(h.type)) + "/" + h.name;
}

}  // namespace

Result<std::unique_ptr<RestBlobStore>> RestBlobStore::Open(std::string_view url,
                                                           httpclient::ClientOptions options) {
  auto bad = [&](std::string_view why) {
    return Fail(
        ErrorCode::kInvalidArgument,
        "invalid REST vault URL \"" + httpclient::RedactUrl(url) + "\": " + std::string(why));
  };
  std::string_view scheme;
  for (std::string_view s : {"http://", "https://"}) {
    if (url.substr(0, s.size()) == s) scheme = s;
  }
  if (scheme.empty()) return bad("want http://host[:port]/path/ or https://...");
  std::string_view rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad("a query or fragment is not allowed");
  }
  const std::string_view authority = rest.substr(0, rest.find('/'));
  std::string path(rest.substr(authority.size()));
  const size_t at = authority.rfind('@');
  const std::string_view host = at == std::string_view::npos ? authority : authority.substr(at + 1);
  if (host.empty()) return bad("no host");
  std::string authorization;
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon));
    auto password = PercentDecode(colon == std::string_view::npos ? std::string_view()
                                                                  : userinfo.substr(colon + 1));
    if (!user || !password) return bad("bad percent escape in the credentials");
    std::string pair = *user + ":" + *password;
    authorization = "Basic " + Base64Encode(AsBytes(pair));
    SecureZero(pair.data(), pair.size());
    SecureZero(password->data(), password->size());
  }
  if (path.empty() || path.back() != '/') path.push_back('/');
  std::string base = std::string(scheme) + std::string(host) + path;
  return std::unique_ptr<RestBlobStore>(
      new RestBlobStore(std::move(base), std::move(authorization), std::move(options)));
}

std::string RestBlobStore::Location() const { return "rest:" + base_.substr(0, base_.size() - 1); }

Request RestBlobStore::NewRequest(std::string method, std::string_view path) const {
  Request req;
  req.method = std::move(method);
  req.url = base_ + std::string(path);
  if (!authorization_.empty()) req.headers.emplace_back("Authorization", authorization_);
  // restic sends it on every request; servers pick the protocol version from it.
  req.headers.emplace_back("Accept", kV2);
  return req;
}

Request RestBlobStore::NewObjectRequest(std::string method, const ObjectHandle& h) const {
  return NewRequest(std::move(method), ObjectPath(h));
}

Error RestBlobStore::StatusError(const Response& r, std::string_view what) const {
  ErrorCode code = ErrorCode::kIoError;
  switch (r.status) {
    case 400:
      code = ErrorCode::kInvalidArgument;
      break;
    case 401:
      return Error(ErrorCode::kUnauthenticated,
                   std::string(what) + ": the server refused the vault's credentials (" +
                       Location() + ", HTTP 401" +
                       (r.proxy.empty() ? "" : ", through the proxy " + r.proxy) + ")");
    case 403:
      code = ErrorCode::kPermissionDenied;
      break;
    case 404:
      code = ErrorCode::kNotFound;
      break;
    case 416:
      code = ErrorCode::kCorruption;
      break;
    case 507:
      code = ErrorCode::kNoSpace;
      break;
    case 408:
    case 429:
      code = ErrorCode::kUnavailable;
      break;
    default:
      if (r.status >= 500) code = ErrorCode::kUnavailable;
  }
  std::string message =
      std::string(what) + ": " + Location() + " answered HTTP " + std::to_string(r.status);
  if (std::string text = HttpServerText(r); !text.empty()) message += " (" + text + ")";
  if (!r.proxy.empty()) message += " through the proxy " + r.proxy;
  return Error(code, std::move(message)).WithRetryAfter(HttpRetryAfter(r));
}

Result<void> RestBlobStore::Create() {
  auto config = Stat(ObjectHandle::Config());
  if (config) return Fail(ErrorCode::kAlreadyExists, "a config already exists at " + Location());
  if (config.error().Code() != ErrorCode::kNotFound) return Fail(config.error());
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(NewRequest("POST", "?create=true")));
  if (!IsHttpSuccess(r)) return Fail(StatusError(r, "creating the vault"));
  return {};
}

Result<void> RestBlobStore::Put(const ObjectHandle& h, ByteView data) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  Request req = NewRequest("POST", ObjectPath(h));
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  req.body = data;
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(req));
  if (IsHttpSuccess(r)) return {};
  // REST servers never replace an object: 403 is their answer to an existing name.
  if (r.status == 403) return Fail(ErrorCode::kAlreadyExists, h.Path() + " already exists");
  return Fail(StatusError(r, "uploading " + h.Path()));
}

Result<void> RestBlobStore::ListObjects(ObjectType type, const ListCallback& fn) {
  const std::string dir = std::string(ObjectTypeDir(type)) + "/";
  Request req = NewRequest("GET", dir);
  req.max_body = kMaxListBytes;
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(req));
  if (r.status == 404) return {};  // as restic: a directory never made lists as empty
  if (!IsHttpSuccess(r)) return Fail(StatusError(r, "listing " + dir));
  // A v1 server (a list of names) answers with another Content-Type; its sizes need a HEAD.
  const bool v2 = r.Header("content-type").substr(0, sizeof kV2 - 1) == kV2;
  auto corrupt = [&](std::string_view why) {
    return Fail(ErrorCode::kCorruption,
                "listing " + dir + ": " + Location() + " sent " + std::string(why));
  };
  auto json = ParseJson(AsString(r.body), {.max_bytes = kMaxListBytes, .max_depth = 3});
  if (!json) return corrupt("invalid JSON: " + json.error().Message());
  if (!json->is_array()) return corrupt("no JSON array");
  for (const Json& entry : *json) {
    ObjectInfo info;
    if (v2) {
      if (!entry.is_object()) return corrupt("a list entry that is not an object");
      auto name = JsonString(entry, "name");
      auto size = JsonUint(entry, "size");
      if (!name || !size) return corrupt("a list entry without name or size");
      info = {std::move(*name), *size};
    } else {
      if (!entry.is_string()) return corrupt("a list entry that is not a name");
      info.name = entry.get<std::string>();
    }
    // Anything else in the directory (a stray file) is not an object of the vault.
    const ObjectHandle h{type, info.name};
    if (!ValidateHandle(h)) continue;
    if (!v2) {
      auto size = Stat(h);
      if (!size && size.error().Code() == ErrorCode::kNotFound) continue;  // removed since
      if (!size) return Fail(size.error());
      info.size = *size;
    }
    HALLEY_RETURN_IF_ERROR(fn(info));
  }
  return {};
}

}  // namespace halley::storage
