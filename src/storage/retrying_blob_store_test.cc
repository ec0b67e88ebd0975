// SPDX-License-Identifier: Apache-2.0
#include "storage/retrying_blob_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <vector>

#include "storage/faulty_blob_store.h"
#include "storage/mem_blob_store.h"
#include "storage/storage_test_util.h"

namespace halley::storage {
namespace {

using std::chrono::milliseconds;
using testutil::FailsWith;
using testutil::RandomBytes;
using testutil::Succeeds;

RetryPolicy FastPolicy(std::vector<milliseconds>* waits = nullptr) {
  RetryPolicy p;
  p.first_delay = milliseconds(4);
  p.max_delay = milliseconds(20);
  p.give_up_after = milliseconds(300);
  if (waits) p.on_retry = [waits](const Error&, milliseconds wait) { waits->push_back(wait); };
  return p;
}

ObjectHandle Handle(char c) { return {ObjectType::kSnapshot, std::string(64, c)}; }

TEST(RetryingBlobStore, TransientFailuresAreRetried) {
  auto faulty = std::make_unique<FaultyBlobStore>(MemBlobStore::Make());
  FaultyBlobStore& f = *faulty;
  std::vector<milliseconds> waits;
  RetryingBlobStore store(std::move(faulty), FastPolicy(&waits));
  for (uint64_t n : {1, 1, 1}) {
    f.AddFault(
        {.method = FaultyBlobStore::Method::kPut, .nth = n, .code = ErrorCode::kUnavailable});
  }
  const Bytes data = RandomBytes(100, 1);
  ASSERT_TRUE(Succeeds(store.Put(Handle('a'), data)));
  EXPECT_EQ(waits.size(), 3u);
  // Backoff grows (half fixed, half random): 2-4, 4-8, 8-16 ms.
  EXPECT_GE(waits[0], milliseconds(2));
  EXPECT_LE(waits[0], milliseconds(4));
  EXPECT_GE(waits[2], milliseconds(8));
  f.AddFault({.method = FaultyBlobStore::Method::kGet, .nth = 1, .code = ErrorCode::kUnavailable});
  auto got = store.Get(Handle('a'));
  ASSERT_TRUE(Succeeds(got));
  EXPECT_EQ(*got, data);
}

TEST(RetryingBlobStore, OtherErrorsReturnAtOnce) {
  auto faulty = std::make_unique<FaultyBlobStore>(MemBlobStore::Make());
  FaultyBlobStore& f = *faulty;
  std::vector<milliseconds> waits;
  RetryingBlobStore store(std::move(faulty), FastPolicy(&waits));
  f.AddFault({.method = FaultyBlobStore::Method::kPut, .nth = 1, .code = ErrorCode::kIoError});
  EXPECT_TRUE(FailsWith(store.Put(Handle('a'), RandomBytes(10, 1)), ErrorCode::kIoError));
  EXPECT_TRUE(FailsWith(store.Stat(Handle('b')), ErrorCode::kNotFound));
  EXPECT_TRUE(waits.empty());
}

TEST(RetryingBlobStore, GivesUpAfterTheBound) {
  auto faulty = std::make_unique<FaultyBlobStore>(MemBlobStore::Make());
  faulty->AddFault(
      {.method = FaultyBlobStore::Method::kStat, .nth = 0, .code = ErrorCode::kUnavailable});
  RetryingBlobStore store(std::move(faulty), FastPolicy());
  const auto start = std::chrono::steady_clock::now();
  auto r = store.Stat(Handle('a'));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(FailsWith(r, ErrorCode::kUnavailable));
  EXPECT_NE(r.error().Message().find("looking up snapshots/"), std::string::npos)
      << r.error().Message();
  EXPECT_NE(r.error().Message().find("gave up after"), std::string::npos) << r.error().Message();
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(2000));
}

TEST(RetryingBlobStore, RetryAfterIsHonouredWithinTheBound) {
  // A store whose first Stat asks to come back in a second.
  class AsksToWait final : public BlobStore {
   public:
    std::string Location() const override { return "test"; }
    Result<void> Create() override { return {}; }
    Result<void> Put(const ObjectHandle&, ByteView) override { return {}; }
    Result<Bytes> Get(const ObjectHandle&, uint64_t, uint64_t) override { return Bytes(); }
    Result<uint64_t> Stat(const ObjectHandle&) override {
      if (calls++ == 0) {
        return Fail(
            Error(ErrorCode::kUnavailable, "slow down").WithRetryAfter(std::chrono::seconds(1)));
      }
      return uint64_t{7};
    }
    Result<void> List(ObjectType, const ListCallback&) override { return {}; }
    Result<void> Remove(const ObjectHandle&) override { return {}; }
    int calls = 0;
  };
  std::vector<milliseconds> waits;
  RetryPolicy p = FastPolicy(&waits);
  p.give_up_after = milliseconds(5000);
  RetryingBlobStore store(std::make_unique<AsksToWait>(), p);
  auto r = store.Stat(Handle('a'));
  ASSERT_TRUE(Succeeds(r));
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0], milliseconds(1000));
  // ...but never past the bound.
  waits.clear();
  p.give_up_after = milliseconds(200);
  RetryingBlobStore bounded(std::make_unique<AsksToWait>(), p);
  ASSERT_TRUE(Succeeds(bounded.Stat(Handle('a'))));
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_LE(waits[0], milliseconds(200));
}

TEST(RetryingBlobStore, AListingRetriedMidwayDeliversEachNameOnce) {
  // The first listing breaks after two names.
  class BreaksMidList final : public BlobStore {
   public:
    explicit BreaksMidList(BlobStorePtr inner) : inner_(std::move(inner)) {}
    std::string Location() const override { return "test"; }
    Result<void> Create() override { return {}; }
    Result<void> Put(const ObjectHandle& h, ByteView d) override { return inner_->Put(h, d); }
    Result<Bytes> Get(const ObjectHandle& h, uint64_t o, uint64_t l) override {
      return inner_->Get(h, o, l);
    }
    Result<uint64_t> Stat(const ObjectHandle& h) override { return inner_->Stat(h); }
    Result<void> List(ObjectType t, const ListCallback& fn) override {
      int n = 0;
      const bool breaks = lists++ == 0;
      return inner_->List(t, [&](const ObjectInfo& info) -> Result<void> {
        if (breaks && n++ == 2) return Fail(ErrorCode::kUnavailable, "connection reset");
        return fn(info);
      });
    }
    Result<void> Remove(const ObjectHandle& h) override { return inner_->Remove(h); }
    BlobStorePtr inner_;
    int lists = 0;
  };
  RetryingBlobStore store(std::make_unique<BreaksMidList>(MemBlobStore::Make()), FastPolicy());
  for (char c : {'a', 'b', 'c', 'd', 'e'}) {
    ASSERT_TRUE(Succeeds(store.Put(Handle(c), RandomBytes(10, c))));
  }
  std::map<std::string, int> seen;
  ASSERT_TRUE(Succeeds(store.List(ObjectType::kSnapshot, [&](const ObjectInfo& info) {
    ++seen[info.name];
    return Result<void>();
  })));
  EXPECT_EQ(seen.size(), 5u);
  for (const auto& [name, count] : seen) EXPECT_EQ(count, 1) << name;
}

TEST(RetryingBlobStore, TheCallbacksOwnErrorIsNotRetried) {
  RetryingBlobStore store(MemBlobStore::Make(), FastPolicy());
  ASSERT_TRUE(Succeeds(store.Put(Handle('a'), RandomBytes(10, 1))));
  int calls = 0;
  auto r = store.List(ObjectType::kSnapshot, [&](const ObjectInfo&) -> Result<void> {
    ++calls;
    return Fail(ErrorCode::kUnavailable, "the caller's own trouble");
  });
  ASSERT_TRUE(FailsWith(r, ErrorCode::kUnavailable));
  EXPECT_EQ(r.error().Message(), "the caller's own trouble");
  EXPECT_EQ(calls, 1);
}

TEST(RetryingBlobStore, WaitingStopsWhenCancelled) {
  auto faulty = std::make_unique<FaultyBlobStore>(MemBlobStore::Make());
  faulty->AddFault(
      {.method = FaultyBlobStore::Method::kStat, .nth = 0, .code = ErrorCode::kUnavailable});
  std::atomic<bool> stop{false};
  RetryPolicy p = FastPolicy();
  p.first_delay = milliseconds(60'000);
  p.max_delay = milliseconds(60'000);
  p.give_up_after = milliseconds(600'000);
  p.on_retry = [&](const Error&, milliseconds) { stop = true; };
  p.cancelled = [&] { return stop.load(); };
  RetryingBlobStore store(std::move(faulty), p);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(FailsWith(store.Stat(Handle('a')), ErrorCode::kCancelled));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5000));
}

}  // namespace
}  // namespace halley::storage
