// SPDX-License-Identifier: Apache-2.0
//
// The examples of AWS's "Signature Calculations for the Authorization Header" for Amazon S3
// (GET Object, PUT Object, GET Bucket Lifecycle, GET Bucket (List Objects)): the signer must
// reproduce AWS's published signatures exactly.
#include "httpclient/aws_sigv4.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "base/encoding.h"
#include "base/test_util.h"

namespace halley::httpclient {
namespace {

using testutil::FailsWith;
using testutil::Succeeds;

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const AwsCredentials kExampleCredentials{"AKIAIOSFODNN7EXAMPLE",
                                         "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};

std::chrono::system_clock::time_point ExampleTime() {
  // 2013-05-24T00:00:00Z
  return std::chrono::system_clock::from_time_t(1369353600);
}

std::string HeaderOf(const Request& req, std::string_view name) {
  std::string found;
  int count = 0;
  for (const auto& [n, v] : req.headers) {
    if (n == name) found = v, ++count;
  }
  EXPECT_LE(count, 1) << name;
  return found;
}

std::string Sign(Request req, std::string_view payload_sha256,
                 const AwsCredentials& creds = kExampleCredentials) {
  EXPECT_TRUE(Succeeds(SignAwsV4(req, creds, "us-east-1", "s3", payload_sha256, ExampleTime())));
  return HeaderOf(req, "Authorization");
}

TEST(AwsSigV4, GetObjectExample) {
  Request req{.method = "GET", .url = "https://examplebucket.s3.amazonaws.com/test.txt"};
  req.headers.emplace_back("Range", "bytes=0-9");
  EXPECT_EQ(Sign(req, kEmptySha256),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(AwsSigV4, PutObjectExample) {
  const std::string body = "Welcome to Amazon S3.";
  const std::string sha = Sha256Hex(AsBytes(body));
  EXPECT_EQ(sha, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  Request req{.method = "PUT",
              .url = "https://examplebucket.s3.amazonaws.com/" + UriEncode("test$file.text", true)};
  req.headers.emplace_back("Date", "Fri, 24 May 2013 00:00:00 GMT");
  req.headers.emplace_back("x-amz-storage-class", "REDUCED_REDUNDANCY");
  EXPECT_EQ(Sign(req, sha),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-storage-class, "
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(AwsSigV4, GetBucketLifecycleExample) {
  // A query parameter without a value is signed as "lifecycle=".
  Request req{.method = "GET", .url = "https://examplebucket.s3.amazonaws.com/?lifecycle"};
  EXPECT_EQ(Sign(req, kEmptySha256),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(AwsSigV4, ListObjectsExampleSortsTheQuery) {
  // Sent in the opposite order: the canonical query is sorted by name.
  Request req{.method = "GET",
              .url = "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2"};
  EXPECT_EQ(Sign(req, kEmptySha256),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(AwsSigV4, AddsTheHeadersItSigns) {
  Request req{.method = "GET", .url = "http://127.0.0.1:9000/bucket/key"};
  AwsCredentials creds = kExampleCredentials;
  creds.session_token = "token/with+chars";
  ASSERT_TRUE(Succeeds(SignAwsV4(req, creds, "eu-west-1", "s3", kEmptySha256, ExampleTime())));
  EXPECT_EQ(HeaderOf(req, "Host"), "127.0.0.1:9000");
  EXPECT_EQ(HeaderOf(req, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(HeaderOf(req, "x-amz-content-sha256"), kEmptySha256);
  EXPECT_EQ(HeaderOf(req, "x-amz-security-token"), "token/with+chars");
  const std::string auth = HeaderOf(req, "Authorization");
  EXPECT_NE(auth.find("/20130524/eu-west-1/s3/aws4_request"), std::string::npos) << auth;
  EXPECT_NE(auth.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"),
            std::string::npos)
      << auth;
  // Signing again (a retry, a minute later) replaces the headers rather than adding more.
  ASSERT_TRUE(Succeeds(SignAwsV4(req, creds, "eu-west-1", "s3", kEmptySha256,
                                 ExampleTime() + std::chrono::minutes(1))));
  EXPECT_EQ(HeaderOf(req, "x-amz-date"), "20130524T000100Z");
  EXPECT_NE(HeaderOf(req, "Authorization"), auth);
  EXPECT_EQ(req.headers.size(), 5u);
}

TEST(AwsSigV4, TheSignatureCoversSecretAndPayload) {
  Request req{.method = "GET", .url = "https://examplebucket.s3.amazonaws.com/test.txt"};
  const std::string good = Sign(req, kEmptySha256);
  AwsCredentials other = kExampleCredentials;
  other.secret_access_key.back() = 'X';
  EXPECT_NE(Sign(req, kEmptySha256, other), good);
  EXPECT_NE(Sign(req, Sha256Hex(AsBytes("x"))), good);
}

TEST(AwsSigV4, RefusesUrlsItCannotSign) {
  for (const char* url : {"ftp://host/x", "http://", "https://user:pw@host/x", "host/x"}) {
    Request req{.method = "GET", .url = url};
    EXPECT_TRUE(FailsWith(
        SignAwsV4(req, kExampleCredentials, "us-east-1", "s3", kEmptySha256, ExampleTime()),
        ErrorCode::kInvalidArgument))
        << url;
  }
}

TEST(AwsSigV4, UriEncode) {
  EXPECT_EQ(UriEncode("AZaz09-_.~", true), "AZaz09-_.~");
  EXPECT_EQ(UriEncode("a b/c+d=é", false), "a%20b/c%2Bd%3D%C3%A9");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
}

TEST(AwsSigV4, Digests) {
  EXPECT_EQ(Sha256Hex({}), kEmptySha256);
  // RFC 1321's test suite.
  EXPECT_EQ(HexEncode(Md5(AsBytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Base64Encode(Md5({})), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

}  // namespace
}  // namespace halley::httpclient
