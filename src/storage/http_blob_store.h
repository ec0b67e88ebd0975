// SPDX-License-Identifier: Apache-2.0
//
// What the stores that speak HTTP (restic's REST protocol, S3) have in common: one object is
// one URL, read with GET and a Range header (206), sized with HEAD (Content-Length) and
// removed with DELETE (404 is success). Subclasses say how a request for an object is built
// and sent (URL layout, credentials, signing) and what an unexpected answer means.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "httpclient/http_client.h"
#include "storage/blob_store.h"

namespace halley::storage {

// No object is this large; a range beyond it is refused before any arithmetic can overflow
// (and before a server that reads at most 19 digits could misparse it).
inline constexpr uint64_t kMaxHttpObjectSize = uint64_t{1} << 62;

bool IsHttpSuccess(const httpclient::Response& r);
// The server's explanation: the first line of its answer, printable ASCII only, bounded.
std::string HttpServerText(const httpclient::Response& r);
// The wait a Retry-After header asks for (delta-seconds, at most 10 minutes); 0 without one
// or for the HTTP-date form.
std::chrono::seconds HttpRetryAfter(const httpclient::Response& r);
// A Content-Length value; kIoError unless it is 1 to 19 decimal digits.
Result<uint64_t> ParseContentLength(std::string_view s);

class HttpBlobStore : public BlobStore {
 public:
  Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) final;
  Result<void> ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) final;
  Result<uint64_t> Stat(const ObjectHandle& h) final;
  Result<void> Remove(const ObjectHandle& h) final;
  // The config through Stat; every other type through ListObjects.
  Result<void> List(ObjectType type, const ListCallback& fn) final;

 protected:
  // A request for the object `h` (already validated), with the store's URL and headers.
  virtual httpclient::Request NewObjectRequest(std::string method, const ObjectHandle& h) const = 0;
  // Sends `req` (adding credentials) and returns the answer, whatever its status.
  virtual Result<httpclient::Response> Send(httpclient::Request& req) = 0;
  // The error for an answer that is not what the caller of `what` expected.
  virtual Error StatusError(const httpclient::Response& r, std::string_view what) const = 0;
  // List() of a type other than kConfig.
  virtual Result<void> ListObjects(ObjectType type, const ListCallback& fn) = 0;

 private:
  // The error for a read past the end: kNotFound if the object does not exist, else
  // kCorruption (as the BlobStore contract says).
  Error PastTheEnd(const ObjectHandle& h);
  Error IgnoredRange(const ObjectHandle& h) const;
};

}  // namespace halley::storage
