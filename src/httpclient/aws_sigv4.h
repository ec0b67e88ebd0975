// SPDX-License-Identifier: Apache-2.0
//
// AWS Signature Version 4 for requests in the Authorization header (the form every
// S3-compatible store accepts: AWS, Ceph RGW, MinIO, Wasabi), and the payload digests S3
// checks. Written from AWS's "Signature Calculations for the Authorization Header"; tested
// against its published examples.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"
#include "httpclient/http_client.h"

namespace halley::httpclient {

struct AwsCredentials {
  std::string access_key_id = {};
  std::string secret_access_key = {};
  std::string session_token = {};  // temporary credentials (STS) only

  bool Empty() const { return access_key_id.empty(); }
};

// Signs `req` for `service` in `region` at `now`: sets Host (from the URL) and adds
// x-amz-date, x-amz-content-sha256 (`payload_sha256`, lower-case hex of the body's SHA-256,
// or "UNSIGNED-PAYLOAD"), x-amz-security-token when the credentials have a session token,
// and Authorization. Every header already on the request is signed too. The URL's path and
// query must already be URI-encoded as AWS wants (UriEncode below): they are signed as they
// are, so that what is signed is exactly what is sent. kInvalidArgument for a URL that is not
// http(s)://host[:port]/path[?query].
Result<void> SignAwsV4(Request& req, const AwsCredentials& creds, std::string_view region,
                       std::string_view service, std::string_view payload_sha256,
                       std::chrono::system_clock::time_point now);

// AWS's URI encoding: unreserved characters (A-Z a-z 0-9 - _ . ~) stay, every other byte
// becomes %XX (upper-case hex); '/' stays unless `encode_slash`.
std::string UriEncode(std::string_view s, bool encode_slash);

// Lower-case hex SHA-256 of `data` (x-amz-content-sha256).
std::string Sha256Hex(ByteView data);
// The 16-byte MD5 digest of `data`: base64 of it is Content-MD5, hex of it a simple ETag.
Bytes Md5(ByteView data);

}  // namespace halley::httpclient
