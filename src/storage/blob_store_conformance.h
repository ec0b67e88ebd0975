// SPDX-License-Identifier: Apache-2.0
//
// The BlobStore conformance suite: the contract of blob_store.h as tests, run by every
// backend (local, mem, faulty-without-faults here; S3, SFTP and Halley server buckets in
// their own test binaries). Test-only: it includes gtest and defines the TEST_Ps, so include
// it from exactly one .cc file per test binary and instantiate it there:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Mem, BlobStoreConformanceTest,
//       testing::Values(BlobStoreFactory{"Mem", [] { return MemBlobStore::Make(); }}),
//       BlobStoreFactoryName);
//
// Each test gets a fresh store from the factory and calls Create() on it first. Sizes go up
// to 16 MiB + 1; the whole suite writes about 35 MiB per backend.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <latch>
#include <limits>
#include <map>
#include <mutex>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/blob_store.h"
#include "storage/storage_test_util.h"

namespace halley::storage {

struct BlobStoreFactory {
  std::string name;                    // the gtest parameter name: letters, digits, '_'
  std::function<BlobStorePtr()> make;  // a fresh, empty store; the fixture calls Create()
};

inline std::string BlobStoreFactoryName(const ::testing::TestParamInfo<BlobStoreFactory>& info) {
  return info.param.name;
}

// Keeps gtest from dumping the std::function's bytes in test names and failure messages.
inline void PrintTo(const BlobStoreFactory& factory, std::ostream* os) { *os << factory.name; }

class BlobStoreConformanceTest : public ::testing::TestWithParam<BlobStoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(testutil::Succeeds(store_->Create()));
  }

  BlobStore& Store() { return *store_; }
  ObjectHandle NewHandle(ObjectType type, std::string_view prefix = "") {
    return {type, testutil::RandomName(rng_, prefix)};
  }

  BlobStorePtr store_;
  std::mt19937_64 rng_{20260101};
};

namespace conformance_internal {

inline constexpr ObjectType kNamedTypes[] = {ObjectType::kData,  ObjectType::kKey,
                                             ObjectType::kLock,  ObjectType::kSnapshot,
                                             ObjectType::kIndex, ObjectType::kPackIndex};

}  // namespace conformance_internal

using testutil::FailsWith;
using testutil::ListAll;
using testutil::RandomBytes;
using testutil::SameBytes;
using testutil::Succeeds;

TEST_P(BlobStoreConformanceTest, PutGetStatRoundTrip) {
  const uint64_t sizes[] = {0, 1, uint64_t{1} << 20, (uint64_t{16} << 20) + 1};
  uint64_t seed = 1;
  for (uint64_t size : sizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    const Bytes data = RandomBytes(size, seed++);
    const ObjectHandle h = NewHandle(ObjectType::kData);
    ASSERT_TRUE(Succeeds(Store().Put(h, data)));
    auto stat = Store().Stat(h);
    ASSERT_TRUE(Succeeds(stat));
    EXPECT_EQ(*stat, size);
    auto got = Store().Get(h);
    ASSERT_TRUE(Succeeds(got));
    EXPECT_TRUE(SameBytes(*got, data));
  }
}

TEST_P(BlobStoreConformanceTest, RoundTripEveryType) {
  uint64_t seed = 100;
  for (ObjectType type : conformance_internal::kNamedTypes) {
    SCOPED_TRACE(std::string(ObjectTypeDir(type)));
    const Bytes data = RandomBytes(1000 + seed, seed);
    ++seed;
    const ObjectHandle h = NewHandle(type);
    ASSERT_TRUE(Succeeds(Store().Put(h, data)));
    auto got = Store().Get(h);
    ASSERT_TRUE(Succeeds(got));
    EXPECT_TRUE(SameBytes(*got, data));
    EXPECT_EQ(Store().Stat(h).value_or(0), data.size());
  }
}

TEST_P(BlobStoreConformanceTest, RandomRanges) {
  const Bytes data = RandomBytes(300'007, 7);
  const uint64_t size = data.size();
  const ObjectHandle h = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(Store().Put(h, data)));
  std::mt19937_64 rng(42);
  for (int i = 0; i < 50; ++i) {
    const uint64_t offset = std::uniform_int_distribution<uint64_t>(0, size)(rng);
    // Length 0 asks for the rest of the object.
    const uint64_t length = std::uniform_int_distribution<uint64_t>(0, size - offset)(rng);
    SCOPED_TRACE("offset " + std::to_string(offset) + " length " + std::to_string(length));
    auto got = Store().Get(h, offset, length);
    ASSERT_TRUE(Succeeds(got));
    const uint64_t want_length = length == 0 ? size - offset : length;
    EXPECT_TRUE(SameBytes(*got, ByteView(data).subspan(offset, want_length)));
  }
}

TEST_P(BlobStoreConformanceTest, LengthZeroMeansToTheEnd) {
  const Bytes data = RandomBytes(5000, 8);
  const ObjectHandle h = NewHandle(ObjectType::kIndex);
  ASSERT_TRUE(Succeeds(Store().Put(h, data)));
  auto tail = Store().Get(h, 4000, 0);
  ASSERT_TRUE(Succeeds(tail));
  EXPECT_TRUE(SameBytes(*tail, ByteView(data).subspan(4000)));
  auto last = Store().Get(h, 4999, 1);
  ASSERT_TRUE(Succeeds(last));
  EXPECT_TRUE(SameBytes(*last, ByteView(data).subspan(4999)));
  auto at_end = Store().Get(h, 5000, 0);
  ASSERT_TRUE(Succeeds(at_end));
  EXPECT_TRUE(at_end->empty());
}

TEST_P(BlobStoreConformanceTest, RangePastTheEndIsCorruption) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const Bytes data = RandomBytes(1000, 9);
  const ObjectHandle h = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(Store().Put(h, data)));
  const std::pair<uint64_t, uint64_t> bad[] = {{0, 1001},    {1000, 1},        {999, 2},
                                               {1001, 0},    {kMax, 1},        {1, kMax},
                                               {kMax, kMax}, {500, kMax - 400}};
  for (auto [offset, length] : bad) {
    SCOPED_TRACE("offset " + std::to_string(offset) + " length " + std::to_string(length));
    EXPECT_TRUE(FailsWith(Store().Get(h, offset, length), ErrorCode::kCorruption));
  }
  const ObjectHandle empty = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(Store().Put(empty, {})));
  EXPECT_TRUE(FailsWith(Store().Get(empty, 0, 1), ErrorCode::kCorruption));
  EXPECT_TRUE(FailsWith(Store().Get(empty, 1, 0), ErrorCode::kCorruption));
  auto whole = Store().Get(empty, 0, 0);
  ASSERT_TRUE(Succeeds(whole));
  EXPECT_TRUE(whole->empty());
}

TEST_P(BlobStoreConformanceTest, MissingObjects) {
  for (ObjectType type : conformance_internal::kNamedTypes) {
    SCOPED_TRACE(std::string(ObjectTypeDir(type)));
    const ObjectHandle h = NewHandle(type);
    EXPECT_TRUE(FailsWith(Store().Get(h), ErrorCode::kNotFound));
    EXPECT_TRUE(FailsWith(Store().Get(h, 10, 10), ErrorCode::kNotFound));
    EXPECT_TRUE(FailsWith(Store().Stat(h), ErrorCode::kNotFound));
    EXPECT_TRUE(Succeeds(Store().Remove(h)));
  }
  EXPECT_TRUE(FailsWith(Store().Get(ObjectHandle::Config()), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(Store().Stat(ObjectHandle::Config()), ErrorCode::kNotFound));
  EXPECT_TRUE(Succeeds(Store().Remove(ObjectHandle::Config())));
}

TEST_P(BlobStoreConformanceTest, PutNeverOverwrites) {
  const ObjectHandle handles[] = {NewHandle(ObjectType::kData), NewHandle(ObjectType::kKey),
                                  NewHandle(ObjectType::kLock), ObjectHandle::Config()};
  for (const ObjectHandle& h : handles) {
    SCOPED_TRACE(h.Path());
    const Bytes original = RandomBytes(3000, 10);
    ASSERT_TRUE(Succeeds(Store().Put(h, original)));
    EXPECT_TRUE(FailsWith(Store().Put(h, RandomBytes(5000, 11)), ErrorCode::kAlreadyExists));
    EXPECT_TRUE(FailsWith(Store().Put(h, original), ErrorCode::kAlreadyExists));
    EXPECT_TRUE(FailsWith(Store().Put(h, {}), ErrorCode::kAlreadyExists));
    auto got = Store().Get(h);
    ASSERT_TRUE(Succeeds(got));
    EXPECT_TRUE(SameBytes(*got, original));
    EXPECT_EQ(Store().Stat(h).value_or(0), original.size());
  }
  auto keys = ListAll(Store(), ObjectType::kKey);
  ASSERT_TRUE(Succeeds(keys));
  EXPECT_EQ(keys->size(), 1u);
}

TEST_P(BlobStoreConformanceTest, ReadAtFillsTheCallersBuffer) {
  const Bytes data = RandomBytes(1 << 20, 44);
  const ObjectHandle h = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(Store().Put(h, data)));
  Bytes buffer(data.size() + 10, 0xee);
  const std::pair<uint64_t, size_t> ranges[] = {
      {0, 1}, {0, 1 << 20}, {12345, 777}, {(1 << 20) - 3, 3}};
  for (auto [off, len] : ranges) {
    SCOPED_TRACE(std::to_string(off) + "+" + std::to_string(len));
    ASSERT_TRUE(Succeeds(Store().ReadAt(h, off, MutableByteView(buffer).first(len))));
    EXPECT_TRUE(SameBytes(ByteView(buffer).first(len), ByteView(data).subspan(off, len)));
  }
  EXPECT_EQ(buffer[1 << 20], 0xee);
  EXPECT_TRUE(FailsWith(Store().ReadAt(h, (1 << 20) - 3, MutableByteView(buffer).first(4)),
                        ErrorCode::kCorruption));
  EXPECT_TRUE(
      FailsWith(Store().ReadAt(NewHandle(ObjectType::kData), 0, MutableByteView(buffer).first(4)),
                ErrorCode::kNotFound));
}

TEST_P(BlobStoreConformanceTest, WriterPublishesOnlyAtCommit) {
  const Bytes data = RandomBytes(3 << 20, 40);
  const ObjectHandle h = NewHandle(ObjectType::kData);
  auto w = Store().NewWriter(ObjectType::kData);
  ASSERT_TRUE(Succeeds(w));
  // Written in uneven pieces, as a pack is assembled blob by blob.
  for (size_t off = 0; off < data.size();) {
    size_t n = std::min<size_t>(data.size() - off, 1 + off % 700001);
    ASSERT_TRUE(Succeeds((*w)->Write(ByteView(data).subspan(off, n))));
    off += n;
  }
  EXPECT_TRUE(FailsWith(Store().Stat(h), ErrorCode::kNotFound));
  auto before = ListAll(Store(), ObjectType::kData);
  ASSERT_TRUE(Succeeds(before));
  EXPECT_TRUE(before->empty());
  ASSERT_TRUE(Succeeds((*w)->Commit(h)));
  auto got = Store().Get(h);
  ASSERT_TRUE(Succeeds(got));
  EXPECT_TRUE(SameBytes(*got, data));
  auto after = ListAll(Store(), ObjectType::kData);
  ASSERT_TRUE(Succeeds(after));
  EXPECT_EQ(after->size(), 1u);
}

TEST_P(BlobStoreConformanceTest, WriterNeverOverwritesAndDiscardsWhenDropped) {
  const ObjectHandle h = NewHandle(ObjectType::kSnapshot);
  const Bytes original = RandomBytes(1000, 41);
  ASSERT_TRUE(Succeeds(Store().Put(h, original)));
  {
    auto w = Store().NewWriter(ObjectType::kSnapshot);
    ASSERT_TRUE(Succeeds(w));
    ASSERT_TRUE(Succeeds((*w)->Write(RandomBytes(2000, 42))));
    EXPECT_TRUE(FailsWith((*w)->Commit(h), ErrorCode::kAlreadyExists));
  }
  {
    auto w = Store().NewWriter(ObjectType::kSnapshot);
    ASSERT_TRUE(Succeeds(w));
    ASSERT_TRUE(Succeeds((*w)->Write(RandomBytes(2000, 43))));
    // Dropped without Commit(): nothing appears.
  }
  auto got = Store().Get(h);
  ASSERT_TRUE(Succeeds(got));
  EXPECT_TRUE(SameBytes(*got, original));
  auto all = ListAll(Store(), ObjectType::kSnapshot);
  ASSERT_TRUE(Succeeds(all));
  EXPECT_EQ(all->size(), 1u);
}

TEST_P(BlobStoreConformanceTest, InvalidNamesAreRejectedEverywhere) {
  const std::string hex64(64, 'a');
  const ObjectHandle bad[] = {
      {ObjectType::kData, "../x"},
      {ObjectType::kData, "../" + hex64.substr(3)},
      {ObjectType::kData, std::string(64, 'A')},
      {ObjectType::kData, "aB" + hex64.substr(2)},
      {ObjectType::kData, hex64.substr(1)},
      {ObjectType::kData, hex64 + "a"},
      {ObjectType::kData, ""},
      {ObjectType::kData, "config"},
      {ObjectType::kData, "aa/" + hex64.substr(3)},
      {ObjectType::kKey, "config"},
      {ObjectType::kLock, hex64.substr(0, 63) + "g"},
      {ObjectType::kSnapshot, ".tmp-" + hex64},
      {ObjectType::kIndex, std::string(64, '/')},
      {ObjectType::kPackIndex, hex64.substr(0, 32) + std::string(1, '\0') + hex64.substr(33)},
      {ObjectType::kConfig, hex64},
      {ObjectType::kConfig, ""},
      {ObjectType::kConfig, "../config"},
      {ObjectType::kConfig, "CONFIG"},
  };
  for (const ObjectHandle& h : bad) {
    SCOPED_TRACE(std::string(ObjectTypeDir(h.type)) + "/" + h.name);
    EXPECT_TRUE(FailsWith(Store().Put(h, RandomBytes(10, 1)), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(FailsWith(Store().Get(h), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(FailsWith(Store().Get(h, 1, 1), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(FailsWith(Store().Stat(h), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(FailsWith(Store().Remove(h), ErrorCode::kInvalidArgument));
  }
  for (ObjectType type : kAllObjectTypes) {
    auto listed = ListAll(Store(), type);
    ASSERT_TRUE(Succeeds(listed));
    EXPECT_TRUE(listed->empty()) << ObjectTypeDir(type);
  }
}

TEST_P(BlobStoreConformanceTest, EmptyStoreListsNothing) {
  for (ObjectType type : kAllObjectTypes) {
    int calls = 0;
    EXPECT_TRUE(Succeeds(Store().List(type, [&](const ObjectInfo&) -> Result<void> {
      ++calls;
      return {};
    })));
    EXPECT_EQ(calls, 0) << ObjectTypeDir(type);
  }
}

TEST_P(BlobStoreConformanceTest, ListReturnsExactlyWhatWasPut) {
  std::map<ObjectType, std::map<std::string, uint64_t>> want;
  uint64_t seed = 200;
  for (ObjectType type : conformance_internal::kNamedTypes) {
    const int count = type == ObjectType::kData ? 40 : 7;
    for (int i = 0; i < count; ++i) {
      // Several data objects share a shard, and one lands in each of "00" and "ff".
      std::string prefix;
      if (type == ObjectType::kData && i < 6) prefix = i < 2 ? "00" : i < 4 ? "ff" : "7c";
      const ObjectHandle h = NewHandle(type, prefix);
      const Bytes data = RandomBytes(static_cast<size_t>(seed % 97) * 13, seed);
      ++seed;
      ASSERT_TRUE(Succeeds(Store().Put(h, data)));
      want[type][h.name] = data.size();
    }
  }
  const Bytes config = RandomBytes(155, 3);
  ASSERT_TRUE(Succeeds(Store().Put(ObjectHandle::Config(), config)));
  want[ObjectType::kConfig]["config"] = config.size();

  for (ObjectType type : kAllObjectTypes) {
    SCOPED_TRACE(std::string(ObjectTypeDir(type)));
    auto listed = ListAll(Store(), type);
    ASSERT_TRUE(Succeeds(listed));
    EXPECT_EQ(*listed, want[type]);
  }
}

TEST_P(BlobStoreConformanceTest, ListCallbackErrorStopsTheListing) {
  for (ObjectType type : {ObjectType::kData, ObjectType::kSnapshot}) {
    SCOPED_TRACE(std::string(ObjectTypeDir(type)));
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(Succeeds(Store().Put(NewHandle(type), RandomBytes(10, i))));
    }
    int calls = 0;
    auto listed = Store().List(type, [&](const ObjectInfo&) -> Result<void> {
      if (++calls == 2) return Fail(ErrorCode::kCancelled, "stop here");
      return {};
    });
    ASSERT_TRUE(FailsWith(listed, ErrorCode::kCancelled));
    EXPECT_NE(listed.error().Message().find("stop here"), std::string::npos);
    EXPECT_EQ(calls, 2);
  }
}

TEST_P(BlobStoreConformanceTest, Config) {
  const Bytes config = RandomBytes(273, 12);
  ASSERT_TRUE(Succeeds(Store().Put(ObjectHandle::Config(), config)));
  auto got = Store().Get(ObjectHandle::Config());
  ASSERT_TRUE(Succeeds(got));
  EXPECT_TRUE(SameBytes(*got, config));
  auto part = Store().Get(ObjectHandle::Config(), 16, 32);
  ASSERT_TRUE(Succeeds(part));
  EXPECT_TRUE(SameBytes(*part, ByteView(config).subspan(16, 32)));
  EXPECT_EQ(Store().Stat(ObjectHandle::Config()).value_or(0), config.size());
  auto listed = ListAll(Store(), ObjectType::kConfig);
  ASSERT_TRUE(Succeeds(listed));
  EXPECT_EQ(*listed, (std::map<std::string, uint64_t>{{"config", config.size()}}));
  EXPECT_TRUE(FailsWith(Store().Create(), ErrorCode::kAlreadyExists));
  // Nothing else appears, whatever the backend keeps beside the config.
  for (ObjectType type : conformance_internal::kNamedTypes) {
    auto others = ListAll(Store(), type);
    ASSERT_TRUE(Succeeds(others));
    EXPECT_TRUE(others->empty()) << ObjectTypeDir(type);
  }
}

TEST_P(BlobStoreConformanceTest, CreateWithoutConfigIsIdempotent) {
  EXPECT_TRUE(Succeeds(Store().Create()));
  const ObjectHandle h = NewHandle(ObjectType::kSnapshot);
  ASSERT_TRUE(Succeeds(Store().Put(h, RandomBytes(10, 1))));
  EXPECT_TRUE(Succeeds(Store().Create()));
  EXPECT_TRUE(Succeeds(Store().Stat(h)));
}

TEST_P(BlobStoreConformanceTest, RemoveThenList) {
  std::vector<ObjectHandle> handles;
  for (int i = 0; i < 3; ++i) {
    handles.push_back(NewHandle(ObjectType::kSnapshot));
    ASSERT_TRUE(Succeeds(Store().Put(handles.back(), RandomBytes(100 + i, i))));
  }
  const ObjectHandle pack = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(Store().Put(pack, RandomBytes(100, 4))));

  ASSERT_TRUE(Succeeds(Store().Remove(handles[1])));
  ASSERT_TRUE(Succeeds(Store().Remove(pack)));
  auto snapshots = ListAll(Store(), ObjectType::kSnapshot);
  ASSERT_TRUE(Succeeds(snapshots));
  EXPECT_EQ(*snapshots,
            (std::map<std::string, uint64_t>{{handles[0].name, 100}, {handles[2].name, 102}}));
  auto packs = ListAll(Store(), ObjectType::kData);
  ASSERT_TRUE(Succeeds(packs));
  EXPECT_TRUE(packs->empty());
  EXPECT_TRUE(FailsWith(Store().Get(handles[1]), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(Store().Stat(pack), ErrorCode::kNotFound));
  EXPECT_TRUE(Succeeds(Store().Remove(handles[1])));

  // The name is free again.
  const Bytes again = RandomBytes(77, 5);
  ASSERT_TRUE(Succeeds(Store().Put(handles[1], again)));
  auto got = Store().Get(handles[1]);
  ASSERT_TRUE(Succeeds(got));
  EXPECT_TRUE(SameBytes(*got, again));

  ASSERT_TRUE(Succeeds(Store().Put(ObjectHandle::Config(), RandomBytes(10, 6))));
  ASSERT_TRUE(Succeeds(Store().Remove(ObjectHandle::Config())));
  auto config = ListAll(Store(), ObjectType::kConfig);
  ASSERT_TRUE(Succeeds(config));
  EXPECT_TRUE(config->empty());
}

TEST_P(BlobStoreConformanceTest, ConcurrentPutGetList) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 24;
  const ObjectType types[] = {ObjectType::kData, ObjectType::kData, ObjectType::kIndex,
                              ObjectType::kSnapshot};
  std::vector<std::vector<ObjectHandle>> handles(kThreads);
  std::vector<std::vector<Bytes>> contents(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      handles[t].push_back(NewHandle(types[i % 4]));
      contents[t].push_back(RandomBytes(static_cast<size_t>((t * 7919 + i * 104729) % 65536),
                                        static_cast<uint64_t>(t * 1000 + i)));
    }
  }
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        const ObjectHandle& h = handles[t][i];
        EXPECT_TRUE(Succeeds(Store().Put(h, contents[t][i])));
        auto got = Store().Get(h);  // read-after-write
        EXPECT_TRUE(got && SameBytes(*got, contents[t][i])) << h.Path();
        EXPECT_EQ(Store().Stat(h).value_or(~uint64_t{0}), contents[t][i].size());
        if (i % 6 == 5) {
          auto listed = ListAll(Store(), h.type);
          EXPECT_TRUE(Succeeds(listed));
          if (!listed) continue;
          for (int j = 0; j <= i; ++j) {
            if (handles[t][j].type != h.type) continue;
            EXPECT_EQ(listed->count(handles[t][j].name), 1u) << handles[t][j].Path();
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  std::map<ObjectType, std::map<std::string, uint64_t>> want;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      want[handles[t][i].type][handles[t][i].name] = contents[t][i].size();
    }
  }
  for (auto& [type, objects] : want) {
    auto listed = ListAll(Store(), type);
    ASSERT_TRUE(Succeeds(listed));
    EXPECT_EQ(*listed, objects) << ObjectTypeDir(type);
  }
}

TEST_P(BlobStoreConformanceTest, ConcurrentPutsOfOneNameHaveOneWinner) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const ObjectHandle h = round == 3 ? ObjectHandle::Config() : NewHandle(ObjectType::kData);
    std::vector<Bytes> contents;
    for (int t = 0; t < kThreads; ++t) {
      contents.push_back(RandomBytes(256 * 1024 + t, static_cast<uint64_t>(round * 100 + t)));
    }
    std::latch start(kThreads);
    std::atomic<int> winners{0};
    std::atomic<int> winner{-1};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        auto put = Store().Put(h, contents[t]);
        if (put) {
          ++winners;
          winner = t;
        } else {
          EXPECT_TRUE(FailsWith(put, ErrorCode::kAlreadyExists));
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(winners.load(), 1);
    // The object is the winner's bytes, whole: never a mix, never a loser's.
    auto got = Store().Get(h);
    ASSERT_TRUE(Succeeds(got));
    EXPECT_TRUE(SameBytes(*got, contents[winner.load()]));
  }
}

}  // namespace halley::storage
