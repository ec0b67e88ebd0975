// SPDX-License-Identifier: Apache-2.0
//
// S3BlobStore against a real S3 server: the conformance suite (with single uploads, and with
// 5 MiB parts so that its 16 MiB objects go up in parts), pagination, multipart uploads that
// leave nothing open, acknowledged retries and errors. tests/integration/test_s3.py starts
// s3rver and Ceph's radosgw and runs this binary against each, with
//   HALLEY_S3_ENDPOINT  http://127.0.0.1:PORT (a server with an empty bucket to use)
//   HALLEY_S3_BUCKET    that bucket
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION
// Every store gets its own prefix in the bucket.
#include "storage/s3_blob_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

#include "base/encoding.h"
#include "httpclient/aws_sigv4.h"
#include "storage/blob_store_conformance.h"

namespace halley::storage {
namespace {

using testutil::FailsWith;
using testutil::RandomBytes;
using testutil::SameBytes;
using testutil::Succeeds;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::fprintf(stderr, "%s is not set: run this test through tests/integration/test_s3.py\n",
                 name);
    std::abort();
  }
  return v;
}

S3Options BaseOptions() {
  S3Options o;
  o.credentials = {Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY")};
  o.region = Env("AWS_DEFAULT_REGION");
  o.bucket_lookup = "path";
  return o;
}

S3Options SmallParts() {
  S3Options o = BaseOptions();
  o.part_size = size_t{5} << 20;
  o.multipart_threshold = size_t{5} << 20;
  return o;
}

// "http://127.0.0.1:PORT/BUCKET/<fresh prefix>"
std::string FreshLocation(std::string_view bucket = {}) {
  static std::mt19937_64 rng{std::random_device{}()};
  return Env("HALLEY_S3_ENDPOINT") + "/" +
         (bucket.empty() ? Env("HALLEY_S3_BUCKET") : std::string(bucket)) + "/t" +
         std::to_string(rng() % 1'000'000'000) + "/vault";
}

std::unique_ptr<S3BlobStore> OpenFresh(S3Options o = BaseOptions(), std::string_view bucket = {}) {
  auto store = S3BlobStore::Open(FreshLocation(bucket), std::move(o));
  HALLEY_CHECK(store.has_value());
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(
    S3, BlobStoreConformanceTest,
    ::testing::Values(BlobStoreFactory{"Single", [] { return BlobStorePtr(OpenFresh()); }},
                      BlobStoreFactory{"Multipart",
                                       [] { return BlobStorePtr(OpenFresh(SmallParts())); }}),
    BlobStoreFactoryName);

// A signed request straight to the server, for what the store does not expose.
httpclient::Response Raw(const std::string& method, const std::string& url) {
  static httpclient::Client client;
  httpclient::Request req{.method = method, .url = url};
  const S3Options o = BaseOptions();
  HALLEY_CHECK(httpclient::SignAwsV4(req, o.credentials, o.region, "s3", httpclient::Sha256Hex({}),
                                     std::chrono::system_clock::now())
                   .has_value());
  auto r = client.Do(req);
  HALLEY_CHECK(r.has_value());
  return std::move(*r);
}

ObjectHandle ContentNamed(ObjectType type, ByteView data) {
  return {type, httpclient::Sha256Hex(data)};
}

TEST(S3BlobStore, ListingsComePageByPage) {
  S3Options o = BaseOptions();
  o.list_page_size = 3;
  auto store = OpenFresh(o);
  ASSERT_TRUE(Succeeds(store->Create()));
  std::map<std::string, uint64_t> want;
  for (int i = 0; i < 10; ++i) {
    const Bytes data = RandomBytes(100 + i, i);
    const ObjectHandle h = ContentNamed(ObjectType::kData, data);
    ASSERT_TRUE(Succeeds(store->Put(h, data)));
    want[h.name] = data.size();
  }
  auto listed = testutil::ListAll(*store, ObjectType::kData);
  ASSERT_TRUE(Succeeds(listed));
  EXPECT_EQ(*listed, want);
}

TEST(S3BlobStore, TheLayoutIsRestics) {
  // A data object sits at <prefix>/data/<first two hex digits>/<name>, as restic writes it.
  const std::string location = FreshLocation();
  auto store = S3BlobStore::Open(location, BaseOptions());
  ASSERT_TRUE(Succeeds(store));
  ASSERT_TRUE(Succeeds((*store)->Create()));
  const Bytes data = RandomBytes(1000, 7);
  const ObjectHandle h = ContentNamed(ObjectType::kData, data);
  ASSERT_TRUE(Succeeds((*store)->Put(h, data)));
  const httpclient::Response r =
      Raw("GET", location + "/data/" + h.name.substr(0, 2) + "/" + h.name);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(SameBytes(r.body, data));
}

TEST(S3BlobStore, MultipartUploadsLeaveNothingOpen) {
  auto store = OpenFresh(SmallParts());
  ASSERT_TRUE(Succeeds(store->Create()));
  const Bytes data = RandomBytes((size_t{12} << 20) + 5, 3);
  const ObjectHandle h = ContentNamed(ObjectType::kData, data);
  ASSERT_TRUE(Succeeds(store->Put(h, data)));
  auto got = store->Get(h);
  ASSERT_TRUE(Succeeds(got));
  EXPECT_TRUE(SameBytes(*got, data));
  // A retried upload of the same content is acknowledged, and starts no new upload.
  EXPECT_TRUE(Succeeds(store->Put(h, data)));
  const httpclient::Response uploads =
      Raw("GET", Env("HALLEY_S3_ENDPOINT") + "/" + Env("HALLEY_S3_BUCKET") + "/?uploads");
  ASSERT_EQ(uploads.status, 200) << AsString(uploads.body);
  EXPECT_EQ(AsString(uploads.body).find("<Upload>"), std::string_view::npos)
      << AsString(uploads.body);
}

TEST(S3BlobStore, StaleUploadsAreAborted) {
  // An upload a killed process left behind, in this vault, and one in another vault.
  const std::string location = FreshLocation();
  auto store = S3BlobStore::Open(location, BaseOptions());
  ASSERT_TRUE(Succeeds(store));
  ASSERT_TRUE(Succeeds((*store)->Create()));
  const std::string other = FreshLocation();
  for (const std::string& base : {location, other}) {
    const httpclient::Response r =
        Raw("POST", base + "/data/ab/" + std::string(64, 'a') + "?uploads");
    ASSERT_EQ(r.status, 200) << AsString(r.body);
  }
  auto young = (*store)->RemoveStaleTemporaries(std::chrono::hours(1));
  ASSERT_TRUE(Succeeds(young));
  EXPECT_EQ(*young, 0u);
  auto removed = (*store)->RemoveStaleTemporaries(std::chrono::seconds(0));
  ASSERT_TRUE(Succeeds(removed));
  EXPECT_EQ(*removed, 1u);
  const httpclient::Response uploads =
      Raw("GET", Env("HALLEY_S3_ENDPOINT") + "/" + Env("HALLEY_S3_BUCKET") + "/?uploads");
  const std::string_view body = AsString(uploads.body);
  EXPECT_EQ(body.find(location.substr(location.find("/t"))), std::string_view::npos) << body;
  EXPECT_NE(body.find(other.substr(other.find("/t") + 1)), std::string_view::npos) << body;
  auto other_store = S3BlobStore::Open(other, BaseOptions());
  ASSERT_TRUE(Succeeds(other_store));
  auto cleaned = (*other_store)->RemoveStaleTemporaries(std::chrono::seconds(0));
  ASSERT_TRUE(Succeeds(cleaned));
  EXPECT_EQ(*cleaned, 1u);
}

TEST(S3BlobStore, RetriedUploadsOfTheSameContentAreAcknowledged) {
  auto store = OpenFresh();
  ASSERT_TRUE(Succeeds(store->Create()));
  const Bytes data = RandomBytes(5000, 9);
  const ObjectHandle h = ContentNamed(ObjectType::kIndex, data);
  ASSERT_TRUE(Succeeds(store->Put(h, data)));
  EXPECT_TRUE(Succeeds(store->Put(h, data)));
  // The config is not content-named: a second writer of it always loses.
  ASSERT_TRUE(Succeeds(store->Put(ObjectHandle::Config(), data)));
  EXPECT_TRUE(FailsWith(store->Put(ObjectHandle::Config(), data), ErrorCode::kAlreadyExists));
}

TEST(S3BlobStore, CreateMakesAMissingBucket) {
  const std::string bucket = "made-" + std::to_string(std::random_device{}() % 1'000'000);
  auto store = OpenFresh(BaseOptions(), bucket);
  EXPECT_TRUE(FailsWith(store->Stat(ObjectHandle::Config()), ErrorCode::kNotFound));
  ASSERT_TRUE(Succeeds(store->Create()));
  const Bytes data = RandomBytes(10, 1);
  ASSERT_TRUE(Succeeds(store->Put(ObjectHandle::Config(), data)));
  EXPECT_TRUE(FailsWith(store->Create(), ErrorCode::kAlreadyExists));
}

TEST(S3BlobStore, WrongCredentialsAreRefused) {
  S3Options o = BaseOptions();
  o.credentials.secret_access_key += "x";
  auto store = OpenFresh(o);
  auto stat = store->Stat(ObjectHandle::Config());
  // A HEAD answer has no body to name the error: 403 is all a server can say.
  ASSERT_FALSE(stat.has_value());
  EXPECT_TRUE(stat.error().Code() == ErrorCode::kUnauthenticated ||
              stat.error().Code() == ErrorCode::kPermissionDenied)
      << stat.error().Message();
  auto list =
      store->List(ObjectType::kSnapshot, [](const ObjectInfo&) -> Result<void> { return {}; });
  EXPECT_TRUE(FailsWith(list, ErrorCode::kUnauthenticated));
  EXPECT_NE(list.error().Message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos)
      << list.error().Message();
}

}  // namespace
}  // namespace halley::storage
