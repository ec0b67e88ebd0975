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
// No object is this large; a range beyond it is refused before any arithmetic can overflow
// (and before a server that reads at most 19 digits could misparse it).
constexpr uint64_t kMaxObjectSize = uint64_t{1} << 62;
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

bool IsSuccess(const Response& r) { return r.status >= 200 && r.status < 300; }

std::string ObjectPath(const ObjectHandle& h) {
  if (h.type == ObjectType::kConfig) return "config";
  return std::string(ObjectTypeDir(h.type)) + "/" + h.name;
}

std::string RangeHeader(uint64_t offset, uint64_t length) {
  return "bytes=" + std::to_string(offset) + "-" +
         (length == 0 ? std::string() : std::to_string(offset + length - 1));
}

// The server's explanation: the first line of its answer, printable ASCII only, bounded.
std::string ServerText(const Response& r) {
  std::string text;
  for (uint8_t c : r.body) {
    if (c == '\n' || text.size() >= 200) break;
    if (c >= 0x20 && c < 0x7f) text.push_back(static_cast<char>(c));
  }
  return text;
}

Result<uint64_t> ParseSize(std::string_view s) {
  if (s.empty() || s.size() > 19) return Fail(ErrorCode::kIoError, "bad Content-Length");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Fail(ErrorCode::kIoError, "bad Content-Length");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
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

Error RestBlobStore::StatusError(const Response& r, std::string_view what) const {
  ErrorCode code = ErrorCode::kIoError;
  switch (r.status) {
    case 400:
      code = ErrorCode::kInvalidArgument;
      break;
    case 401:
      return Error(ErrorCode::kUnauthenticated,
                   std::string(what) + ": the server refused the vault's credentials (" +
                       Location() + ", HTTP 401)");
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
  if (std::string text = ServerText(r); !text.empty()) message += " (" + text + ")";
  return Error(code, std::move(message));
}

Error RestBlobStore::PastTheEnd(const ObjectHandle& h) {
  auto size = Stat(h);
  if (!size) return size.error();
  return Error(ErrorCode::kCorruption, h.Path() + ": read past the end of the object (" +
                                           std::to_string(*size) + " bytes)");
}

Error RestBlobStore::IgnoredRange(const ObjectHandle& h) const {
  // RFC 9110 allows it, but every REST server (halleyd, rest-server) honours ranges, and a
  // whole pack where a blob was asked for would cost the read many times over.
  return Error(ErrorCode::kIoError,
               "reading " + h.Path() + ": " + Location() + " ignored the Range header");
}

Result<void> RestBlobStore::Create() {
  auto config = Stat(ObjectHandle::Config());
  if (config) return Fail(ErrorCode::kAlreadyExists, "a config already exists at " + Location());
  if (config.error().Code() != ErrorCode::kNotFound) return Fail(config.error());
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(NewRequest("POST", "?create=true")));
  if (!IsSuccess(r)) return Fail(StatusError(r, "creating the vault"));
  return {};
}

Result<void> RestBlobStore::Put(const ObjectHandle& h, ByteView data) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  Request req = NewRequest("POST", ObjectPath(h));
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  req.body = data;
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(req));
  if (IsSuccess(r)) return {};
  // REST servers never replace an object: 403 is their answer to an existing name.
  if (r.status == 403) return Fail(ErrorCode::kAlreadyExists, h.Path() + " already exists");
  return Fail(StatusError(r, "uploading " + h.Path()));
}

Result<Bytes> RestBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  if (offset > kMaxObjectSize || length > kMaxObjectSize - offset) return Fail(PastTheEnd(h));
  Request req = NewRequest("GET", ObjectPath(h));
  const bool ranged = offset > 0 || length > 0;
  if (ranged) req.headers.emplace_back("Range", RangeHeader(offset, length));
  if (length > 0) req.max_body = length;
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(req));
  if (r.status == 416) {
    // "bytes=<size>-" is unsatisfiable, yet reading nothing at the very end is allowed.
    if (length > 0) return Fail(PastTheEnd(h));
    HALLEY_ASSIGN_OR_RETURN(uint64_t size, Stat(h));
    if (size != offset) return Fail(PastTheEnd(h));
    return Bytes();
  }
  if (r.status == 200 && ranged) return Fail(IgnoredRange(h));
  if (!IsSuccess(r)) return Fail(StatusError(r, "reading " + h.Path()));
  if (length > 0 && r.body.size() != length) {
    return Fail(ErrorCode::kCorruption, h.Path() + ": short read (" +
                                            std::to_string(r.body.size()) + " of " +
                                            std::to_string(length) + " bytes)");
  }
  return std::move(r.body);
}

Result<void> RestBlobStore::ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  if (out.empty()) return {};
  if (offset > kMaxObjectSize || out.size() > kMaxObjectSize - offset) {
    return Fail(PastTheEnd(h));
  }
  Request req = NewRequest("GET", ObjectPath(h));
  req.headers.emplace_back("Range", RangeHeader(offset, out.size()));
  req.body_into = out;
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(req));
  if (r.status == 416) return Fail(PastTheEnd(h));
  if (r.status == 200) return Fail(IgnoredRange(h));
  if (!IsSuccess(r)) return Fail(StatusError(r, "reading " + h.Path()));
  if (r.body_size != out.size()) {
    return Fail(ErrorCode::kCorruption, h.Path() + ": short read (" + std::to_string(r.body_size) +
                                            " of " + std::to_string(out.size()) + " bytes)");
  }
  return {};
}

Result<uint64_t> RestBlobStore::Stat(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(NewRequest("HEAD", ObjectPath(h))));
  if (!IsSuccess(r)) return Fail(StatusError(r, "looking up " + h.Path()));
  auto size = ParseSize(r.Header("content-length"));
  if (!size) {
    return Fail(ErrorCode::kIoError,
                "looking up " + h.Path() + ": " + Location() + " sent no valid Content-Length");
  }
  return *size;
}

Result<void> RestBlobStore::List(ObjectType type, const ListCallback& fn) {
  if (type == ObjectType::kConfig) {
    auto size = Stat(ObjectHandle::Config());
    if (!size) {
      return size.error().Code() == ErrorCode::kNotFound ? Result<void>() : Fail(size.error());
    }
    return fn({"config", *size});
  }
  const std::string dir = std::string(ObjectTypeDir(type)) + "/";
  Request req = NewRequest("GET", dir);
  req.max_body = kMaxListBytes;
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(req));
  if (r.status == 404) return {};  // as restic: a directory never made lists as empty
  if (!IsSuccess(r)) return Fail(StatusError(r, "listing " + dir));
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

Result<void> RestBlobStore::Remove(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(Response r, client_.Do(NewRequest("DELETE", ObjectPath(h))));
  if (IsSuccess(r) || r.status == 404) return {};
  return Fail(StatusError(r, "removing " + h.Path()));
}

}  // namespace halley::storage
