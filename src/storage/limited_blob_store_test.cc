// SPDX-License-Identifier: Apache-2.0
#include "storage/limited_blob_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "storage/mem_blob_store.h"
#include "storage/storage_test_util.h"

namespace halley::storage {
namespace {

// The conformance suite runs over it in blob_store_conformance_test.cc.

TEST(LimitedBlobStore, NeverMoreCallsInTheStoreThanTheLimit) {
  for (int limit : {1, 3}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    LimitedBlobStore store(MemBlobStore::Make(), limit);
    ASSERT_TRUE(testutil::Succeeds(store.Create()));
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 12; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<uint64_t>(t));
        for (int i = 0; i < 40; ++i) {
          const Bytes data = testutil::RandomBytes(20000, static_cast<uint64_t>(t * 100 + i));
          const ObjectHandle h{ObjectType::kData, testutil::RandomName(rng)};
          if (store.Put(h, data) && store.Get(h) && store.Remove(h)) ++done;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(done.load(), 12 * 40);
    EXPECT_GE(store.PeakInFlight(), 1);
    EXPECT_LE(store.PeakInFlight(), limit);
  }
}

}  // namespace
}  // namespace halley::storage
