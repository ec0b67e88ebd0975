// SPDX-License-Identifier: Apache-2.0
#include "storage/http_blob_store.h"

#include <algorithm>
#include <utility>

namespace halley::storage {
namespace {

using httpclient::Request;
using httpclient::Response;

std::string RangeHeader(uint64_t offset, uint64_t length) {
  return "bytes=" + std::to_string(offset) + "-" +
         (length == 0 ? std::string() : std::to_string(offset + length - 1));
}

Error ShortRead(const ObjectHandle& h, uint64_t got, uint64_t want) {
  return Error(ErrorCode::kCorruption, h.Path() + ": short read (" + std::to_string(got) + " of " +
                                           std::to_string(want) + " bytes)");
}

}  // namespace

bool IsHttpSuccess(const Response& r) { return r.status >= 200 && r.status < 300; }

std::string HttpServerText(const Response& r) {
  std::string text;
  for (uint8_t c : r.body) {
    if (c == '\n' || text.size() >= 200) break;
    if (c >= 0x20 && c < 0x7f) text.push_back(static_cast<char>(c));
  }
  return text;
}

std::chrono::seconds HttpRetryAfter(const Response& r) {
  const std::string_view v = r.Header("retry-after");
  if (v.empty() || v.size() > 6) return std::chrono::seconds(0);
  int64_t secs = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::chrono::seconds(0);
    secs = secs * 10 + (c - '0');
  }
  return std::chrono::seconds(std::min<int64_t>(secs, 600));
}

Result<uint64_t> ParseContentLength(std::string_view s) {
  if (s.empty() || s.size() > 19) return Fail(ErrorCode::kIoError, "bad Content-Length");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Fail(ErrorCode::kIoError, "bad Content-Length");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

Error HttpBlobStore::PastTheEnd(const ObjectHandle& h) {
  auto size = Stat(h);
  if (!size) return size.error();
  return Error(ErrorCode::kCorruption, h.Path() + ": read past the end of the object (" +
                                           std::to_string(*size) + " bytes)");
}

Error HttpBlobStore::IgnoredRange(const ObjectHandle& h) const {
  // RFC 9110 allows it, but the servers we speak to honour ranges, and a whole pack where a
  // blob was asked for would cost the read many times over.
  return Error(ErrorCode::kIoError,
               "reading " + h.Path() + ": " + Location() + " ignored the Range header");
}

Result<Bytes> HttpBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  if (offset > kMaxHttpObjectSize || length > kMaxHttpObjectSize - offset) {
    return Fail(PastTheEnd(h));
  }
  Request req = NewObjectRequest("GET", h);
  const bool ranged = offset > 0 || length > 0;
  if (ranged) req.headers.emplace_back("Range", RangeHeader(offset, length));
  if (length > 0) req.max_body = length;
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
  if (r.status == 416) {
    // "bytes=<size>-" is unsatisfiable, yet reading nothing at the very end is allowed.
    if (length > 0) return Fail(PastTheEnd(h));
    HALLEY_ASSIGN_OR_RETURN(uint64_t size, Stat(h));
    if (size != offset) return Fail(PastTheEnd(h));
    return Bytes();
  }
  if (r.status == 200 && ranged) return Fail(IgnoredRange(h));
  if (!IsHttpSuccess(r)) return Fail(StatusError(r, "reading " + h.Path()));
  if (length > 0 && r.body.size() != length) return Fail(ShortRead(h, r.body.size(), length));
  return std::move(r.body);
}

Result<void> HttpBlobStore::ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  if (out.empty()) return {};
  if (offset > kMaxHttpObjectSize || out.size() > kMaxHttpObjectSize - offset) {
    return Fail(PastTheEnd(h));
  }
  Request req = NewObjectRequest("GET", h);
  req.headers.emplace_back("Range", RangeHeader(offset, out.size()));
  req.body_into = out;
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
  if (r.status == 416) return Fail(PastTheEnd(h));
  if (r.status == 200) return Fail(IgnoredRange(h));
  if (!IsHttpSuccess(r)) return Fail(StatusError(r, "reading " + h.Path()));
  if (r.body_size != out.size()) return Fail(ShortRead(h, r.body_size, out.size()));
  return {};
}

Result<uint64_t> HttpBlobStore::Stat(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  Request req = NewObjectRequest("HEAD", h);
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
  if (!IsHttpSuccess(r)) return Fail(StatusError(r, "looking up " + h.Path()));
  auto size = ParseContentLength(r.Header("content-length"));
  if (!size) {
    return Fail(ErrorCode::kIoError,
                "looking up " + h.Path() + ": " + Location() + " sent no valid Content-Length");
  }
  return *size;
}

Result<void> HttpBlobStore::List(ObjectType type, const ListCallback& fn) {
  if (type == ObjectType::kConfig) {
    auto size = Stat(ObjectHandle::Config());
    if (!size) {
      return size.error().Code() == ErrorCode::kNotFound ? Result<void>() : Fail(size.error());
    }
    return fn({"config", *size});
  }
  return ListObjects(type, fn);
}

Result<void> HttpBlobStore::Remove(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  Request req = NewObjectRequest("DELETE", h);
  HALLEY_ASSIGN_OR_RETURN(Response r, Send(req));
  if (IsHttpSuccess(r) || r.status == 404) return {};
  return Fail(StatusError(r, "removing " + h.Path()));
}

}  // namespace halley::storage
