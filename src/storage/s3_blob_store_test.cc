// SPDX-License-Identifier: Apache-2.0
//
// Location parsing, offline. The store's requests are tested against real S3 servers
// (s3rver and Ceph's radosgw) by tests/s3_blob_store_test.cc.
#include "storage/s3_blob_store.h"

#include <gtest/gtest.h>

#include "base/test_util.h"

namespace halley::storage {
namespace {

using testutil::FailsWith;
using testutil::Succeeds;

TEST(S3BlobStoreOpen, LocationForms) {
  const std::pair<const char*, const char*> cases[] = {
      {"http://127.0.0.1:9000/bucket", "s3:http://127.0.0.1:9000/bucket"},
      {"https://minio.example:9000/bucket/", "s3:https://minio.example:9000/bucket"},
      {"s3.amazonaws.com/bucket/a/b", "s3:https://s3.amazonaws.com/bucket/a/b"},
      {"http://host/bucket//prefix//", "s3:http://host/bucket/prefix"},
  };
  for (const auto& [location, want] : cases) {
    auto store = S3BlobStore::Open(location, {});
    ASSERT_TRUE(Succeeds(store)) << location;
    EXPECT_EQ((*store)->Location(), want);
  }
}

TEST(S3BlobStoreOpen, RefusesBadLocations) {
  for (const char* location :
       {"", "http://", "http://host", "http://host/", "ftp://host/bucket", "http://host/bu cket",
        "http://key:secret@host/bucket", "http://host/bucket?x=1", "http://host/bucket/../x",
        "http://host/bucket/a/./b", "http://host/bucket/a//b"}) {
    EXPECT_TRUE(FailsWith(S3BlobStore::Open(location, {}), ErrorCode::kInvalidArgument))
        << location;
  }
  // Credentials never appear in the message.
  auto r = S3BlobStore::Open("http://key:secret@host/bucket", {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().Message().find("secret"), std::string::npos) << r.error().Message();
}

TEST(S3BlobStoreOpen, RefusesBadOptions) {
  EXPECT_TRUE(FailsWith(S3BlobStore::Open("http://h/b", {.bucket_lookup = "virtual"}),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(S3BlobStore::Open("http://h/b", {.part_size = 1 << 20}),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(S3BlobStore::Open("http://h/b", {.list_page_size = 0}),
                        ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace halley::storage
