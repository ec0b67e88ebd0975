// SPDX-License-Identifier: Apache-2.0
// The contract is covered by the conformance suite; these are MemBlobStore's own promises.
#include "storage/mem_blob_store.h"

#include <gtest/gtest.h>

#include <random>

#include "storage/storage_test_util.h"

namespace halley::storage {
namespace {

using testutil::FailsWith;
using testutil::RandomBytes;
using testutil::SameBytes;
using testutil::Succeeds;

TEST(MemBlobStoreTest, WorksWithoutCreate) {
  MemBlobStore store;
  std::mt19937_64 rng(1);
  const ObjectHandle h{ObjectType::kData, testutil::RandomName(rng)};
  ASSERT_TRUE(Succeeds(store.Put(h, RandomBytes(10, 1))));
  EXPECT_EQ(store.Stat(h).value_or(0), 10u);
  EXPECT_EQ(store.Location(), "mem:");
}

TEST(MemBlobStoreTest, StoresACopy) {
  MemBlobStore store;
  std::mt19937_64 rng(2);
  const ObjectHandle h{ObjectType::kIndex, testutil::RandomName(rng)};
  Bytes data = RandomBytes(100, 2);
  const Bytes original = data;
  ASSERT_TRUE(Succeeds(store.Put(h, data)));
  data[0] ^= 1;  // the caller reuses its buffer
  auto got = store.Get(h);
  ASSERT_TRUE(Succeeds(got));
  EXPECT_TRUE(SameBytes(*got, original));
  (*got)[1] ^= 1;  // and mutates what it got back
  auto again = store.Get(h);
  ASSERT_TRUE(Succeeds(again));
  EXPECT_TRUE(SameBytes(*again, original));
}

TEST(MemBlobStoreTest, ListCallbackMayCallBackIntoTheStore) {
  MemBlobStore store;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        Succeeds(store.Put({ObjectType::kLock, testutil::RandomName(rng)}, RandomBytes(5, i))));
  }
  int removed = 0;
  ASSERT_TRUE(Succeeds(store.List(ObjectType::kLock, [&](const ObjectInfo& info) {
    ++removed;
    return store.Remove({ObjectType::kLock, info.name});
  })));
  EXPECT_EQ(removed, 5);
  auto left = testutil::ListAll(store, ObjectType::kLock);
  ASSERT_TRUE(Succeeds(left));
  EXPECT_TRUE(left->empty());
  EXPECT_TRUE(
      FailsWith(store.Stat({ObjectType::kLock, std::string(64, '0')}), ErrorCode::kNotFound));
}

}  // namespace
}  // namespace halley::storage
