// SPDX-License-Identifier: Apache-2.0
//
// S3BlobStore against a real S3 server: the conformance suite (with single uploads, and with
// 5 MiB parts so that its 16 MiB objects go up in parts), pagination, multipart uploads that
// leave nothing open, acknowledged retries and errors; and Object Lock (the suite again in a
// locked bucket, retention kept and enforced). tests/integration/test_s3.py starts s3rver and
// Ceph's radosgw and runs this binary against each (the Object Lock tests on Ceph only), with
//   HALLEY_S3_ENDPOINT  http://127.0.0.1:PORT (a server with an empty bucket to use)
//   HALLEY_S3_BUCKET    that bucket
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION
// Every store gets its own prefix in the bucket; the Object Lock tests use the bucket
// "<HALLEY_S3_BUCKET>-locked", which the first of them makes.
#include "storage/s3_blob_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
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
  return testutil::RequiredEnv(name, "tests/integration/test_s3.py");
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

// `o` with every object but locks kept a day in governance mode.
S3Options Locked(S3Options o) {
  o.object_lock = S3ObjectLock::kGovernance;
  o.object_lock_days = 1;
  return o;
}

std::string LockedBucket() { return Env("HALLEY_S3_BUCKET") + "-locked"; }

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
    ::testing::Values(
        BlobStoreFactory{"Single", [] { return BlobStorePtr(OpenFresh()); }},
        BlobStoreFactory{"Multipart", [] { return BlobStorePtr(OpenFresh(SmallParts())); }},
        // Object Lock, in parts too: a locked vault behaves as any other.
        BlobStoreFactory{
            "Locked",
            [] { return BlobStorePtr(OpenFresh(Locked(SmallParts()), LockedBucket())); }}),
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

// The text of the first <tag> of `xml`, or "".
std::string XmlText(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const size_t start = xml.find(open);
  if (start == std::string_view::npos) return "";
  const size_t end = xml.find("</", start);
  return std::string(xml.substr(start + open.size(), end - start - open.size()));
}

// "2026-11-28T03:24:43.000000000Z" -> Unix seconds; 0 if it is not that form.
int64_t UnixTime(const std::string& iso) {
  struct tm tm {};
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

TEST(S3BlobStore, ObjectLockKeepsEveryVersionButLocks) {
  const std::string location = FreshLocation(LockedBucket());
  auto opened = S3BlobStore::Open(location, Locked(SmallParts()));
  ASSERT_TRUE(Succeeds(opened));
  S3BlobStore& store = **opened;
  ASSERT_TRUE(Succeeds(store.Create()));
  const httpclient::Response config =
      Raw("GET", Env("HALLEY_S3_ENDPOINT") + "/" + LockedBucket() + "/?object-lock");
  EXPECT_EQ(XmlText(AsString(config.body), "ObjectLockEnabled"), "Enabled")
      << AsString(config.body);
  auto url = [&](const ObjectHandle& h, const std::string& query = "") {
    return location + "/" + h.Path() + (query.empty() ? "" : "?" + query);
  };
  auto version_of = [&](const ObjectHandle& h) {
    return "versionId=" +
           httpclient::UriEncode(Raw("HEAD", url(h)).Header("x-amz-version-id"), true);
  };

  // Every object but a lock is kept a day from its upload, in one request or in parts.
  const Bytes data = RandomBytes(1000, 11);
  const Bytes big = RandomBytes((size_t{6} << 20) + 1, 12);
  const Bytes lock = RandomBytes(200, 13);
  const ObjectHandle h = ContentNamed(ObjectType::kData, data);
  const ObjectHandle big_h = ContentNamed(ObjectType::kData, big);
  const ObjectHandle lock_h = ContentNamed(ObjectType::kLock, lock);
  const int64_t start = UnixNow();
  ASSERT_TRUE(Succeeds(store.Put(h, data)));
  ASSERT_TRUE(Succeeds(store.Put(big_h, big)));
  ASSERT_TRUE(Succeeds(store.Put(lock_h, lock)));
  for (const ObjectHandle& kept : {h, big_h}) {
    const httpclient::Response r = Raw("GET", url(kept, "retention"));
    const std::string_view body = AsString(r.body);
    ASSERT_EQ(r.status, 200) << kept.Path() << ": " << body;
    EXPECT_EQ(XmlText(body, "Mode"), "GOVERNANCE") << body;
    const int64_t until = UnixTime(XmlText(body, "RetainUntilDate"));
    EXPECT_GE(until, start + 86400 - 5) << body;
    EXPECT_LE(until, UnixNow() + 86400 + 5) << body;
  }
  EXPECT_EQ(Raw("GET", url(lock_h, "retention")).status, 404);

  // The stored version cannot be deleted, not even by the vault's own credentials.
  const std::string version = version_of(h);
  const httpclient::Response refused = Raw("DELETE", url(h, version));
  EXPECT_EQ(refused.status, 403) << AsString(refused.body);

  // But the vault works on: Remove leaves a delete marker, and the object is gone from it...
  ASSERT_TRUE(Succeeds(store.Remove(h)));
  EXPECT_TRUE(FailsWith(store.Stat(h), ErrorCode::kNotFound));
  auto listed = testutil::ListAll(store, ObjectType::kData);
  ASSERT_TRUE(Succeeds(listed));
  EXPECT_EQ(*listed, (std::map<std::string, uint64_t>{{big_h.name, big.size()}}));
  // ...while its version stays, whole, and still refuses to go.
  const httpclient::Response kept = Raw("GET", url(h, version));
  EXPECT_EQ(kept.status, 200);
  EXPECT_TRUE(SameBytes(kept.body, data));
  EXPECT_EQ(Raw("DELETE", url(h, version)).status, 403);
  // New objects go in, the removed one too (a new version).
  const Bytes more = RandomBytes(500, 14);
  ASSERT_TRUE(Succeeds(store.Put(ContentNamed(ObjectType::kSnapshot, more), more)));
  ASSERT_TRUE(Succeeds(store.Put(h, data)));
  auto again = store.Get(h);
  ASSERT_TRUE(Succeeds(again));
  EXPECT_TRUE(SameBytes(*again, data));

  // A lock's version is kept by nothing: removed, it can also be deleted for good.
  const std::string lock_version = version_of(lock_h);
  ASSERT_TRUE(Succeeds(store.Remove(lock_h)));
  EXPECT_EQ(Raw("DELETE", url(lock_h, lock_version)).status, 204);
}

TEST(S3BlobStore, ObjectLockNeedsABucketWithIt) {
  // The conformance bucket was made without Object Lock.
  const std::string want = "does not have S3 Object Lock enabled";
  auto store = OpenFresh(Locked(SmallParts()));
  auto made = store->Create();
  ASSERT_TRUE(FailsWith(made, ErrorCode::kInvalidArgument));
  EXPECT_NE(made.error().Message().find(want), std::string::npos) << made.error().Message();
  // A store that skipped Create() learns it from its first upload, in one request or in parts.
  for (size_t size : {size_t{100}, (size_t{5} << 20) + 1}) {
    const Bytes data = RandomBytes(size, 15);
    auto put = store->Put(ContentNamed(ObjectType::kData, data), data);
    ASSERT_TRUE(FailsWith(put, ErrorCode::kInvalidArgument)) << size;
    EXPECT_NE(put.error().Message().find(want), std::string::npos) << put.error().Message();
  }
  // A retention is 1 to 36500 days.
  for (int days : {0, 36501}) {
    S3Options o = Locked(BaseOptions());
    o.object_lock_days = days;
    EXPECT_TRUE(FailsWith(S3BlobStore::Open(FreshLocation(), o), ErrorCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace halley::storage
