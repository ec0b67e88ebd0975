// SPDX-License-Identifier: Apache-2.0
// Each fault does what it says; without faults the store passes the conformance suite.
#include "storage/faulty_blob_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/mem_blob_store.h"
#include "storage/storage_test_util.h"

namespace halley::storage {
namespace {

using Method = FaultyBlobStore::Method;
using testutil::FailsWith;
using testutil::RandomBytes;
using testutil::SameBytes;
using testutil::Succeeds;

// Number of differing bits; the buffers must have the same size.
int BitsDiffering(ByteView a, ByteView b) {
  int n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += std::popcount(static_cast<unsigned>(a[i] ^ b[i]));
  return n;
}

class FaultyBlobStoreTest : public ::testing::Test {
 protected:
  ObjectHandle NewHandle(ObjectType type) { return {type, testutil::RandomName(rng_)}; }

  MemBlobStore mem_;
  FaultyBlobStore store_{mem_};
  std::mt19937_64 rng_{5};
};

TEST_F(FaultyBlobStoreTest, FailsTheNthCallOnly) {
  const ObjectHandle h = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(store_.Put(h, RandomBytes(10, 1))));
  store_.AddFault({.method = Method::kGet, .nth = 2, .code = ErrorCode::kUnavailable});
  EXPECT_TRUE(Succeeds(store_.Get(h)));
  EXPECT_TRUE(FailsWith(store_.Get(h), ErrorCode::kUnavailable));
  EXPECT_TRUE(Succeeds(store_.Get(h)));
  EXPECT_TRUE(Succeeds(store_.Get(h)));
  EXPECT_TRUE(Succeeds(store_.Stat(h))) << "other methods are unaffected";
}

TEST_F(FaultyBlobStoreTest, FailsEveryCallOfOneTypeUntilCleared) {
  const ObjectHandle index = NewHandle(ObjectType::kIndex);
  const ObjectHandle pack = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(store_.Put(index, RandomBytes(10, 1))));
  ASSERT_TRUE(Succeeds(store_.Put(pack, RandomBytes(10, 2))));
  store_.AddFault({.method = Method::kStat,
                   .nth = 0,
                   .type = ObjectType::kIndex,
                   .code = ErrorCode::kPermissionDenied});
  store_.AddFault({.method = Method::kList, .nth = 0, .type = ObjectType::kIndex});
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(FailsWith(store_.Stat(index), ErrorCode::kPermissionDenied));
    EXPECT_TRUE(Succeeds(store_.Stat(pack)));
    EXPECT_TRUE(FailsWith(testutil::ListAll(store_, ObjectType::kIndex), ErrorCode::kIoError));
    EXPECT_TRUE(Succeeds(testutil::ListAll(store_, ObjectType::kData)));
  }
  store_.ClearFaults();
  EXPECT_TRUE(Succeeds(store_.Stat(index)));
  EXPECT_TRUE(Succeeds(testutil::ListAll(store_, ObjectType::kIndex)));
}

TEST_F(FaultyBlobStoreTest, FailedPutStoresNothingButALostReplyDoes) {
  const ObjectHandle failed = NewHandle(ObjectType::kSnapshot);
  const ObjectHandle lost = NewHandle(ObjectType::kSnapshot);
  store_.AddFault({.method = Method::kPut, .code = ErrorCode::kNoSpace});
  EXPECT_TRUE(FailsWith(store_.Put(failed, RandomBytes(10, 1)), ErrorCode::kNoSpace));
  EXPECT_TRUE(FailsWith(mem_.Stat(failed), ErrorCode::kNotFound));

  store_.AddFault({.method = Method::kPut, .code = ErrorCode::kUnavailable, .lost_reply = true});
  const Bytes data = RandomBytes(10, 2);
  EXPECT_TRUE(FailsWith(store_.Put(lost, data), ErrorCode::kUnavailable));
  auto stored = mem_.Get(lost);
  ASSERT_TRUE(Succeeds(stored));
  EXPECT_TRUE(SameBytes(*stored, data));
  // A retry of the lost Put now meets the stored object.
  EXPECT_TRUE(FailsWith(store_.Put(lost, data), ErrorCode::kAlreadyExists));

  // Lost reply to a Remove: the object is gone although the caller saw an error.
  store_.AddFault({.method = Method::kRemove, .lost_reply = true});
  EXPECT_TRUE(FailsWith(store_.Remove(lost), ErrorCode::kIoError));
  EXPECT_TRUE(FailsWith(mem_.Stat(lost), ErrorCode::kNotFound));
}

TEST_F(FaultyBlobStoreTest, CreateFaultsMatchOnlyUntypedFaults) {
  store_.AddFault({.method = Method::kCreate, .nth = 0, .type = ObjectType::kConfig});
  EXPECT_TRUE(Succeeds(store_.Create()));
  store_.AddFault({.method = Method::kCreate, .code = ErrorCode::kUnavailable});
  EXPECT_TRUE(FailsWith(store_.Create(), ErrorCode::kUnavailable));
  EXPECT_TRUE(Succeeds(store_.Create()));
}

TEST_F(FaultyBlobStoreTest, ShadowedOneShotFaultFiresOnTheNextCall) {
  const ObjectHandle h = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(store_.Put(h, RandomBytes(10, 1))));
  store_.AddFault({.method = Method::kGet, .code = ErrorCode::kUnavailable});
  store_.AddFault({.method = Method::kGet, .code = ErrorCode::kCorruption});
  EXPECT_TRUE(FailsWith(store_.Get(h), ErrorCode::kUnavailable));
  EXPECT_TRUE(FailsWith(store_.Get(h), ErrorCode::kCorruption));
  EXPECT_TRUE(Succeeds(store_.Get(h)));
}

TEST_F(FaultyBlobStoreTest, CrashStoresNothingAndKillsEveryLaterCall) {
  const ObjectHandle first = NewHandle(ObjectType::kData);
  const ObjectHandle second = NewHandle(ObjectType::kData);
  const ObjectHandle index = NewHandle(ObjectType::kIndex);
  store_.CrashOnPut(2, ObjectType::kData);
  ASSERT_TRUE(Succeeds(store_.Put(index, RandomBytes(10, 0))));  // other type: not counted
  ASSERT_TRUE(Succeeds(store_.Put(first, RandomBytes(10, 1))));
  EXPECT_FALSE(store_.Crashed());
  EXPECT_TRUE(FailsWith(store_.Put(second, RandomBytes(10, 2)), ErrorCode::kCancelled));
  EXPECT_TRUE(store_.Crashed());
  EXPECT_TRUE(FailsWith(mem_.Stat(second), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(store_.Get(first), ErrorCode::kCancelled));
  EXPECT_TRUE(FailsWith(store_.Stat(first), ErrorCode::kCancelled));
  EXPECT_TRUE(FailsWith(testutil::ListAll(store_, ObjectType::kData), ErrorCode::kCancelled));
  EXPECT_TRUE(FailsWith(store_.Remove(first), ErrorCode::kCancelled));
  EXPECT_TRUE(Succeeds(mem_.Stat(first))) << "a crashed Remove removes nothing";
  EXPECT_TRUE(FailsWith(store_.Put(second, RandomBytes(10, 2)), ErrorCode::kCancelled));

  store_.Restart();
  EXPECT_FALSE(store_.Crashed());
  EXPECT_TRUE(Succeeds(store_.Put(second, RandomBytes(10, 2))));
  EXPECT_TRUE(Succeeds(store_.Get(first)));
}

TEST_F(FaultyBlobStoreTest, CorruptPutFlipsOneBitOfTheNthPutOfAType) {
  store_.CorruptPut(2, ObjectType::kData);
  std::vector<ObjectHandle> handles;
  std::vector<Bytes> contents;
  const ObjectType types[] = {ObjectType::kData, ObjectType::kIndex, ObjectType::kData,
                              ObjectType::kData, ObjectType::kData};
  for (ObjectType type : types) {
    handles.push_back(NewHandle(type));
    contents.push_back(RandomBytes(1000, handles.size()));
    ASSERT_TRUE(Succeeds(store_.Put(handles.back(), contents.back())));
  }
  for (size_t i = 0; i < handles.size(); ++i) {
    auto stored = mem_.Get(handles[i]);
    ASSERT_TRUE(Succeeds(stored));
    ASSERT_EQ(stored->size(), contents[i].size());
    EXPECT_EQ(BitsDiffering(*stored, contents[i]), i == 2 ? 1 : 0) << "put " << i;
  }
  const std::vector<ObjectHandle> corrupted = store_.CorruptedObjects();
  ASSERT_EQ(corrupted.size(), 1u);
  EXPECT_EQ(corrupted[0].name, handles[2].name);
}

TEST_F(FaultyBlobStoreTest, CorruptPutSkipsEmptyPutsAndCanHitEveryPut) {
  store_.CorruptPut(1);
  const ObjectHandle empty = NewHandle(ObjectType::kLock);
  ASSERT_TRUE(Succeeds(store_.Put(empty, {})));
  const ObjectHandle lock = NewHandle(ObjectType::kLock);
  const Bytes data = RandomBytes(1, 3);
  ASSERT_TRUE(Succeeds(store_.Put(lock, data)));
  auto stored = mem_.Get(lock);
  ASSERT_TRUE(Succeeds(stored));
  EXPECT_EQ(BitsDiffering(*stored, data), 1);

  store_.CorruptPut(0, ObjectType::kSnapshot);
  for (int i = 0; i < 5; ++i) {
    const ObjectHandle h = NewHandle(ObjectType::kSnapshot);
    const Bytes content = RandomBytes(64, 10 + i);
    ASSERT_TRUE(Succeeds(store_.Put(h, content)));
    auto got = mem_.Get(h);
    ASSERT_TRUE(Succeeds(got));
    EXPECT_EQ(BitsDiffering(*got, content), 1);
  }
  EXPECT_EQ(store_.CorruptedObjects().size(), 6u);
}

TEST_F(FaultyBlobStoreTest, GetBitFlipsFollowTheProbabilityAndTheSeed) {
  const ObjectHandle h = NewHandle(ObjectType::kData);
  const Bytes data = RandomBytes(4096, 1);
  ASSERT_TRUE(Succeeds(store_.Put(h, data)));

  store_.SetGetBitFlips(1.0, 7);
  for (int i = 0; i < 10; ++i) {
    auto got = store_.Get(h, 100, 200);
    ASSERT_TRUE(Succeeds(got));
    EXPECT_EQ(BitsDiffering(*got, ByteView(data).subspan(100, 200)), 1);
  }
  EXPECT_EQ(store_.GetBitFlipCount(), 10u);
  auto stored = mem_.Get(h);
  ASSERT_TRUE(Succeeds(stored));
  EXPECT_TRUE(SameBytes(*stored, data)) << "the stored object stays intact";

  // Half the reads, and the same ones for the same seed.
  auto pattern = [&](uint64_t seed) {
    FaultyBlobStore faulty(mem_);
    faulty.SetGetBitFlips(0.5, seed);
    std::vector<bool> flipped;
    for (int i = 0; i < 200; ++i) {
      auto got = faulty.Get(h);
      EXPECT_TRUE(Succeeds(got));
      flipped.push_back(got && BitsDiffering(*got, data) == 1);
    }
    EXPECT_EQ(faulty.GetBitFlipCount(),
              static_cast<uint64_t>(std::count(flipped.begin(), flipped.end(), true)));
    return flipped;
  };
  const std::vector<bool> a = pattern(11);
  const auto flips = std::count(a.begin(), a.end(), true);
  EXPECT_GT(flips, 60);
  EXPECT_LT(flips, 140);
  EXPECT_EQ(pattern(11), a);
  EXPECT_NE(pattern(12), a);

  // Only the chosen type, and off again with probability 0.
  const ObjectHandle index = NewHandle(ObjectType::kIndex);
  ASSERT_TRUE(Succeeds(store_.Put(index, data)));
  store_.SetGetBitFlips(1.0, 7, ObjectType::kData);
  auto clean = store_.Get(index);
  ASSERT_TRUE(Succeeds(clean));
  EXPECT_TRUE(SameBytes(*clean, data));
  store_.SetGetBitFlips(0, 7);
  auto plain = store_.Get(h);
  ASSERT_TRUE(Succeeds(plain));
  EXPECT_TRUE(SameBytes(*plain, data));
}

TEST_F(FaultyBlobStoreTest, CountsEveryCallPerMethod) {
  const ObjectHandle h = NewHandle(ObjectType::kKey);
  ASSERT_TRUE(Succeeds(store_.Create()));
  ASSERT_TRUE(Succeeds(store_.Put(h, RandomBytes(5, 1))));
  EXPECT_FALSE(store_.Put(h, RandomBytes(5, 1)));
  store_.AddFault({.method = Method::kGet});
  EXPECT_FALSE(store_.Get(h));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Succeeds(store_.Get(h)));
  EXPECT_TRUE(Succeeds(store_.Stat(h)));
  EXPECT_TRUE(Succeeds(testutil::ListAll(store_, ObjectType::kKey)));
  EXPECT_TRUE(Succeeds(store_.Remove(h)));
  EXPECT_TRUE(Succeeds(store_.Remove(h)));
  EXPECT_EQ(store_.Calls(Method::kCreate), 1u);
  EXPECT_EQ(store_.Calls(Method::kPut), 2u);
  EXPECT_EQ(store_.Calls(Method::kGet), 4u);
  EXPECT_EQ(store_.Calls(Method::kStat), 1u);
  EXPECT_EQ(store_.Calls(Method::kList), 1u);
  EXPECT_EQ(store_.Calls(Method::kRemove), 2u);
  store_.ResetCounters();
  EXPECT_EQ(store_.Calls(Method::kGet), 0u);
}

TEST_F(FaultyBlobStoreTest, OwnsItsInnerStoreWhenGivenOne) {
  FaultyBlobStore owning(MemBlobStore::Make());
  const ObjectHandle h = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(owning.Put(h, RandomBytes(5, 1))));
  EXPECT_TRUE(Succeeds(owning.Inner().Stat(h)));
  EXPECT_EQ(owning.Location(), "faulty:mem:");
}

// Faults set while other threads call: every call either succeeds or fails with the fault.
TEST_F(FaultyBlobStoreTest, FaultsMayChangeWhileOtherThreadsCall) {
  const ObjectHandle h = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(store_.Put(h, RandomBytes(100, 1))));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        auto got = store_.Get(h);
        if (!got) {
          EXPECT_EQ(got.error().Code(), ErrorCode::kUnavailable);
        }
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    store_.AddFault({.method = Method::kGet, .nth = 3, .code = ErrorCode::kUnavailable});
    if (i % 50 == 0) store_.ClearFaults();
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_.Calls(Method::kGet), 2000u);
}

}  // namespace
}  // namespace halley::storage
