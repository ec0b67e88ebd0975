// SPDX-License-Identifier: Apache-2.0
//
// A vault behind restic's REST protocol v2 (reference/restic.md §3): a bucket of halleyd's
// Storage Role (/storage/<bucket>/), or restic's rest-server. Each BlobStore call is one
// HTTP request (List of an old v1 server: one more per object):
//
//   Create   HEAD {path}config, then POST {path}?create=true
//   Put      POST {path}{type}/{name} (config: {path}config), application/octet-stream
//   Get      GET with "Range: bytes=a-b" (206), ReadAt straight into the caller's buffer
//   Stat     HEAD (Content-Length)
//   List     GET {path}{type}/ with "Accept: application/vnd.x.restic.rest.v2"
//   Remove   DELETE
//
// Answers map to error kinds: 404 kNotFound (success for Remove, an empty List), 403 on a
// Put kAlreadyExists (servers never overwrite) and kPermissionDenied otherwise, 401
// kUnauthenticated, 400 kInvalidArgument, 416 or a short body kCorruption, 507 kNoSpace,
// 408/429/5xx and network failures kUnavailable, other answers kIoError (also a 200 where a
// range was asked for: servers must honour Range). Durability and
// atomicity are the server's (halleyd and rest-server fsync before answering 200).
// Thread-safe: every method may be called from many threads (connections are pooled).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "httpclient/http_client.h"
#include "storage/http_blob_store.h"

namespace halley::storage {

class RestBlobStore final : public HttpBlobStore {
 public:
  // `url` is "http[s]://[user:password@]host[:port]/path/" (what follows "rest:" in a vault
  // location). The user and password, percent-decoded, go to the server as HTTP Basic
  // credentials and never appear in Location() or in error messages. A missing trailing
  // '/' is added. kInvalidArgument for another scheme, a query or fragment, or a bad
  // percent escape. Does not contact the server.
  static Result<std::unique_ptr<RestBlobStore>> Open(std::string_view url,
                                                     httpclient::ClientOptions options = {});

  // "rest:http://host:port/path" without credentials.
  std::string Location() const override;
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;

 private:
  RestBlobStore(std::string base, std::string authorization, httpclient::ClientOptions options)
      : base_(std::move(base)),
        authorization_(std::move(authorization)),
        client_(std::move(options)) {}

  httpclient::Request NewRequest(std::string method, std::string_view path) const;
  httpclient::Request NewObjectRequest(std::string method, const ObjectHandle& h) const override;
  Result<httpclient::Response> Send(httpclient::Request& req) override { return client_.Do(req); }
  Error StatusError(const httpclient::Response& r, std::string_view what) const override;
  Result<void> ListObjects(ObjectType type, const ListCallback& fn) override;

  const std::string base_;           // "http://host:port/path/", no credentials
  const std::string authorization_;  // "Basic ...", or "" without credentials
  httpclient::Client client_;
};

}  // namespace halley::storage
