// SPDX-License-Identifier: Apache-2.0
#include "repo/repository.h"

#include <gtest/gtest.h>

#include <thread>

#include "crypto/hash.h"
#include "storage/faulty_blob_store.h"
#include "storage/mem_blob_store.h"

namespace halley::repo {
namespace {

using storage::ObjectType;

InitOptions FastInit() {
  InitOptions i;
  i.kdf = {1024, 8, 1};
  i.username = "tester";
  i.hostname = "testhost";
  return i;
}

Bytes PseudoRandom(size_t n, uint64_t seed) {
  Bytes b(n);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (auto& v : b) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v = static_cast<uint8_t>(x);
  }
  return b;
}

size_t CountObjects(storage::BlobStore& store, ObjectType type) {
  size_t n = 0;
  EXPECT_TRUE(store.List(type, [&](const storage::ObjectInfo&) {
    ++n;
    return Result<void>{};
  }));
  return n;
}

TEST(RepositoryTest, InitOpenAndPasswords) {
  storage::MemBlobStore store;
  auto r = Repository::Init(store, "secret", FastInit());
  ASSERT_TRUE(r) << r.error().Message();
  std::string id = (*r)->GetConfig().id;
  EXPECT_EQ(Repository::Init(store, "x", FastInit()).error().Code(), ErrorCode::kAlreadyExists);
  auto o = Repository::Open(store, "secret");
  ASSERT_TRUE(o);
  EXPECT_EQ((*o)->GetConfig().id, id);
  EXPECT_EQ((*o)->KeyId(), (*r)->KeyId());
  EXPECT_EQ(Repository::Open(store, "wrong").error().Code(), ErrorCode::kUnauthenticated);
  auto added = (*o)->AddKey("second", {1024, 8, 1}, "u", "h");
  ASSERT_TRUE(added);
  auto o2 = Repository::Open(store, "second");
  ASSERT_TRUE(o2);
  EXPECT_EQ((*o2)->KeyId(), *added);
  EXPECT_EQ((*o2)->MasterKey().encrypt, (*r)->MasterKey().encrypt);
  storage::MemBlobStore empty;
  auto none = Repository::Open(empty, "secret");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().Code(), ErrorCode::kNotFound);
}

// Forwards to a MemBlobStore; before the first key file is stored, another Init completes
// on the same store, as when two devices create one vault at the same moment.
class RacingStore final : public storage::BlobStore {
 public:
  storage::MemBlobStore inner;
  std::string Location() const override { return inner.Location(); }
  Result<void> Create() override { return inner.Create(); }
  Result<void> Put(const storage::ObjectHandle& h, ByteView data) override {
    if (h.type == ObjectType::kKey && !raced_) {
      raced_ = true;
      EXPECT_TRUE(Repository::Init(inner, "pw", FastInit()));
    }
    return inner.Put(h, data);
  }
  Result<Bytes> Get(const storage::ObjectHandle& h, uint64_t offset, uint64_t length) override {
    return inner.Get(h, offset, length);
  }
  Result<uint64_t> Stat(const storage::ObjectHandle& h) override { return inner.Stat(h); }
  Result<void> List(ObjectType type, const storage::ListCallback& fn) override {
    return inner.List(type, fn);
  }
  Result<void> Remove(const storage::ObjectHandle& h) override { return inner.Remove(h); }

 private:
  bool raced_ = false;
};

TEST(RepositoryTest, TheLoserOfAnInitRaceLeavesNoKeyBehind) {
  RacingStore store;
  auto lost = Repository::Init(store, "pw", FastInit());
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().Code(), ErrorCode::kAlreadyExists);
  // Only the winner's key file is left, so the password opens the vault that exists.
  EXPECT_EQ(CountObjects(store.inner, ObjectType::kKey), 1u);
  EXPECT_TRUE(Repository::Open(store.inner, "pw"));
}

TEST(RepositoryTest, UnpackedRoundTripAndHashCheck) {
  storage::MemBlobStore store;
  auto repo = std::move(*Repository::Init(store, "pw", FastInit()));
  std::string json = R"({"hello":"world"})";
  auto id = repo->SaveUnpacked(ObjectType::kSnapshot, json);
  ASSERT_TRUE(id);
  auto raw = store.Get({ObjectType::kSnapshot, id->Hex()});
  ASSERT_TRUE(raw);
  EXPECT_EQ(crypto::Sha256(*raw), *id) << "file name is the SHA-256 of the stored bytes";
  auto plain = crypto::Open(repo->MasterKey(), *raw);
  ASSERT_TRUE(plain);
  EXPECT_EQ((*plain)[0], 2) << "v2 unpacked files start with the zstd marker";
  auto back = repo->LoadUnpacked(ObjectType::kSnapshot, *id);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, json);

  // Replace the file with different bytes under the same name: the hash check catches it.
  ASSERT_TRUE(store.Remove({ObjectType::kSnapshot, id->Hex()}));
  Bytes tampered = *raw;
  tampered[40] ^= 1;
  ASSERT_TRUE(store.Put({ObjectType::kSnapshot, id->Hex()}, tampered));
  auto bad = repo->LoadUnpacked(ObjectType::kSnapshot, *id);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().Code(), ErrorCode::kCorruption);
  EXPECT_NE(bad.error().Message().find("Load(<snapshots/" + id->Hex().substr(0, 10) + ">)"),
            std::string::npos)
      << bad.error().Message();
}

TEST(RepositoryTest, LegacyRawJsonUnpackedFilesAreRead) {
  storage::MemBlobStore store;
  auto repo = std::move(*Repository::Init(store, "pw", FastInit()));
  Bytes sealed = crypto::Seal(repo->MasterKey(), AsBytes(R"({"packs":[]})"));
  Id id = crypto::Sha256(sealed);
  ASSERT_TRUE(store.Put({ObjectType::kIndex, id.Hex()}, sealed));
  auto text = repo->LoadUnpacked(ObjectType::kIndex, id);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, R"({"packs":[]})");
  EXPECT_TRUE(repo->LoadIndex());
}

TEST(RepositoryTest, BlobsDeduplicatePackAndSurviveReopen) {
  storage::MemBlobStore store;
  RepositoryOptions opts;
  opts.pack_size = 256 * 1024;
  opts.index_flush_blobs = 20;  // several index files
  auto repo = std::move(*Repository::Init(store, "pw", FastInit(), opts));
  std::vector<std::pair<Id, Bytes>> blobs;
  for (int i = 0; i < 60; ++i) {
    Bytes b = i % 3 == 0 ? Bytes(50000, static_cast<uint8_t>(i)) : PseudoRandom(40000, i);
    blobs.emplace_back(crypto::Sha256(b), b);
  }
  // Save from four threads, each blob twice: exactly one save per blob reports "new".
  std::atomic<int> new_count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t) % 2; i < blobs.size(); i += 1) {
        auto r = repo->SaveBlob(BlobType::kData, blobs[i].first, blobs[i].second);
        ASSERT_TRUE(r) << r.error().Message();
        if (*r) ++new_count;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(new_count.load(), 60);
  Bytes tree = ToBytes(R"({"nodes":[]})"
                       "\n");
  EXPECT_TRUE(*repo->SaveBlob(BlobType::kTree, crypto::Sha256(tree), tree));
  ASSERT_TRUE(repo->Flush());
  EXPECT_EQ(repo->Stats().data_blobs, 60u);
  EXPECT_GE(CountObjects(store, ObjectType::kData), 5u);
  EXPECT_GE(CountObjects(store, ObjectType::kIndex), 2u);

  auto reopened = std::move(*Repository::Open(store, "pw"));
  ASSERT_TRUE(reopened->LoadIndex());
  EXPECT_EQ(reopened->GetIndex().BlobCount(BlobType::kData), 60u);
  for (const auto& [id, data] : blobs) {
    auto back = reopened->LoadBlob(BlobType::kData, id);
    ASSERT_TRUE(back) << back.error().Message();
    EXPECT_EQ(*back, data);
  }
  auto t = reopened->LoadBlob(BlobType::kTree, crypto::Sha256(tree));
  ASSERT_TRUE(t);
  EXPECT_FALSE(*reopened->SaveBlob(BlobType::kData, blobs[0].first, blobs[0].second))
      << "known blobs are not saved again";
  EXPECT_EQ(reopened->LoadBlob(BlobType::kTree, blobs[0].first).error().Code(),
            ErrorCode::kNotFound);
}

TEST(RepositoryTest, PacksAndIndexFilesHoldAtMostAnIndexFileOfBlobs) {
  // Tiny blobs fill a pack by count long before its size: it closes at kIndexFileBlobs, so
  // that its entries fit one index file of that many.
  storage::MemBlobStore store;
  RepositoryOptions opts;
  opts.open_data_packs = 1;
  opts.index_flush_blobs = kIndexFileBlobs + kIndexFileBlobs / 2;  // two packs per flush
  auto repo = std::move(*Repository::Init(store, "pw", FastInit(), opts));
  const size_t n = 2 * kIndexFileBlobs + 10;
  for (size_t i = 0; i < n; ++i) {
    Bytes b = ToBytes("blob " + std::to_string(i));
    ASSERT_TRUE(repo->SaveBlob(BlobType::kData, crypto::Sha256(b), b));
  }
  ASSERT_TRUE(repo->Flush());
  EXPECT_EQ(CountObjects(store, ObjectType::kData), 3u);
  size_t listed = 0;
  ASSERT_TRUE(repo->LoadIndex([&](const Id&, IndexFile file) {
    size_t blobs = 0;
    for (const auto& p : file.packs) blobs += p.blobs.size();
    EXPECT_LE(blobs, kIndexFileBlobs);
    listed += blobs;
  }));
  EXPECT_EQ(listed, n);
  EXPECT_EQ(CountObjects(store, ObjectType::kIndex), 3u);
}

TEST(RepositoryTest, CompressibleBlobsAreCompressedIncompressibleAreNot) {
  storage::MemBlobStore store;
  auto repo = std::move(*Repository::Init(store, "pw", FastInit()));
  Bytes zeros(100000, 0);
  Bytes noise = PseudoRandom(100000, 7);
  ASSERT_TRUE(repo->SaveBlob(BlobType::kData, crypto::Sha256(zeros), zeros));
  ASSERT_TRUE(repo->SaveBlob(BlobType::kData, crypto::Sha256(noise), noise));
  ASSERT_TRUE(repo->Flush());
  auto z = repo->GetIndex().Lookup(BlobType::kData, crypto::Sha256(zeros));
  auto n = repo->GetIndex().Lookup(BlobType::kData, crypto::Sha256(noise));
  ASSERT_TRUE(z && n);
  EXPECT_EQ(z->uncompressed_length, 100000u);
  EXPECT_LT(z->length, 1000u);
  EXPECT_EQ(n->uncompressed_length, 0u);
  EXPECT_EQ(n->length, 100000u + 32u);
}

// "auto" samples large blobs before compressing them (LooksIncompressible): compressible
// quarters that cover a sampled slice are found, a short run between the slices is not, and
// "max" compresses regardless.
TEST(RepositoryTest, AutoCompressionSamplesLargeBlobs) {
  constexpr size_t kSize = 1 << 20;
  auto with_zeros = [](size_t from, size_t length) {
    Bytes b = PseudoRandom(kSize, from + length);
    std::fill_n(b.begin() + static_cast<ptrdiff_t>(from), length, uint8_t{0});
    return b;
  };
  // A quarter-long zero run wherever it starts, and a short one between the samples.
  const Bytes quarters[] = {with_zeros(0, kSize / 4), with_zeros(kSize / 3, kSize / 4),
                            with_zeros(kSize - kSize / 4, kSize / 4)};
  const Bytes between = with_zeros(kSize / 8, kSize / 16);
  for (Compression c : {Compression::kAuto, Compression::kMax}) {
    storage::MemBlobStore store;
    RepositoryOptions options;
    options.compression = c;
    auto repo = std::move(*Repository::Init(store, "pw", FastInit(), options));
    for (const Bytes& b : quarters)
      ASSERT_TRUE(repo->SaveBlob(BlobType::kData, crypto::Sha256(b), b));
    ASSERT_TRUE(repo->SaveBlob(BlobType::kData, crypto::Sha256(between), between));
    ASSERT_TRUE(repo->Flush());
    for (const Bytes& b : quarters) {
      auto loc = repo->GetIndex().Lookup(BlobType::kData, crypto::Sha256(b));
      ASSERT_TRUE(loc);
      EXPECT_EQ(loc->uncompressed_length, kSize);
      EXPECT_LT(loc->length, kSize - kSize / 5);
    }
    auto loc = repo->GetIndex().Lookup(BlobType::kData, crypto::Sha256(between));
    ASSERT_TRUE(loc);
    EXPECT_EQ(loc->uncompressed_length, c == Compression::kMax ? kSize : 0u);
    auto back = repo->LoadBlob(BlobType::kData, crypto::Sha256(between));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, between);
  }
}

TEST(RepositoryTest, CorruptionAtRestIsDetectedOnLoad) {
  storage::MemBlobStore mem;
  storage::FaultyBlobStore faulty(mem);
  auto repo = std::move(*Repository::Init(faulty, "pw", FastInit()));
  Bytes b = PseudoRandom(5000, 1);
  faulty.CorruptPut(1, storage::ObjectType::kData);
  ASSERT_TRUE(repo->SaveBlob(BlobType::kData, crypto::Sha256(b), b));
  ASSERT_TRUE(repo->Flush());
  auto back = repo->LoadBlob(BlobType::kData, crypto::Sha256(b));
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().Code(), ErrorCode::kCorruption);
}

TEST(RepositoryTest, UploadFailureIsReportedAndNothingIsIndexed) {
  storage::MemBlobStore mem;
  storage::FaultyBlobStore faulty(mem);
  auto repo = std::move(*Repository::Init(faulty, "pw", FastInit()));
  faulty.AddFault({storage::FaultyBlobStore::Method::kPut, 1, storage::ObjectType::kData,
                   ErrorCode::kIoError, false});
  Bytes b = PseudoRandom(5000, 2);
  ASSERT_TRUE(repo->SaveBlob(BlobType::kData, crypto::Sha256(b), b));
  auto f = repo->Flush();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().Code(), ErrorCode::kIoError);
  EXPECT_EQ(CountObjects(mem, ObjectType::kIndex), 0u);
  EXPECT_FALSE(repo->SaveBlob(BlobType::kData, crypto::Sha256(b), b));
}

}  // namespace
}  // namespace halley::repo
