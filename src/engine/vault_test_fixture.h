// SPDX-License-Identifier: Apache-2.0
//
// Test-only: a vault in memory plus a source directory on disk, for engine tests that back up,
// damage, repair and restore.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "engine/archiver.h"
#include "engine/packindexes.h"
#include "engine/restorer.h"
#include "engine/snapshots.h"
#include "storage/mem_blob_store.h"

namespace halley::engine::testing {

namespace stdfs = std::filesystem;
using storage::ObjectType;

inline std::string RandomData(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "halley-vault-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    src_ = dir_ + "/src";
    stdfs::create_directories(src_);
    repo::InitOptions init;
    init.kdf = {1024, 8, 1};
    ASSERT_TRUE(repo::Repository::Init(mem_, "pw", init));
    Reopen();
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  // A fresh Repository object over `store` (as the next process would see the vault).
  void Reopen(storage::BlobStore* store = nullptr) {
    repo::RepositoryOptions o;
    o.pack_size = 4 << 20;
    repo_.reset();
    auto r = repo::Repository::Open(store ? *store : mem_, "pw", o);
    ASSERT_TRUE(r) << r.error().Message();
    repo_ = std::move(*r);
    ASSERT_TRUE(repo_->LoadIndex());
  }
  void Write(const std::string& name, const std::string& data) {
    std::ofstream(src_ + "/" + name, std::ios::binary) << data;
  }
  Id Snap() {
    BackupOptions o;
    o.paths = {src_};
    auto b = Backup(*repo_, o);
    EXPECT_TRUE(b) << b.error().Message();
    contents_[b->snapshot_id] = ReadAll();
    return b->snapshot_id;
  }
  std::map<std::string, std::string> ReadAll() {
    std::map<std::string, std::string> m;
    for (auto& e : stdfs::directory_iterator(src_)) {
      m[e.path().filename().string()] = ReadFile(e.path().string());
    }
    return m;
  }
  // Restores every snapshot and compares it with what it captured.
  void ExpectAllRestore() {
    auto snaps = ListSnapshots(*repo_);
    ASSERT_TRUE(snaps);
    for (const auto& s : *snaps) {
      std::string out = dir_ + "/out-" + s.id.Short();
      stdfs::remove_all(out);
      RestoreOptions o;
      o.target = out;
      o.path = src_;
      auto r = Restore(*repo_, s.snapshot.tree, o);
      ASSERT_TRUE(r) << r.error().Message();
      EXPECT_TRUE(r->errors.empty()) << s.id.Short() << ": " << r->errors[0].second.Message();
      std::map<std::string, std::string> got;
      for (auto& e : stdfs::directory_iterator(out)) {
        got[e.path().filename().string()] = ReadFile(e.path().string());
      }
      EXPECT_EQ(got, contents_[s.id]) << "snapshot " << s.id.Short();
    }
  }
  size_t Count(storage::BlobStore& store, ObjectType t) {
    size_t n = 0;
    EXPECT_TRUE(store.List(t, [&](const auto&) {
      ++n;
      return Result<void>{};
    }));
    return n;
  }
  uint64_t StoredBytes(ObjectType t) {
    uint64_t n = 0;
    EXPECT_TRUE(mem_.List(t, [&](const storage::ObjectInfo& i) {
      n += i.size;
      return Result<void>{};
    }));
    return n;
  }
  // The pack holding the first data blob of `file` in snapshot `snap`.
  Id PackOf(const Id& snap, const std::string& file) {
    auto entry = FindSnapshot(*repo_, snap.Hex());
    EXPECT_TRUE(entry);
    auto node = FindNode(*repo_, entry->snapshot.tree, src_ + "/" + file);
    EXPECT_TRUE(node) << file;
    return repo_->GetIndex().Lookup(repo::BlobType::kData, node->content->front())->pack;
  }
  // The packindex of every snapshot lists only packs the index knows...
  void ExpectPackIndexesConsistent() {
    auto pi = LoadPackIndexes(*repo_);
    ASSERT_TRUE(pi);
    auto sizes = repo_->GetIndex().PackSizes();
    auto snaps = ListSnapshots(*repo_);
    for (const auto& s : *snaps) {
      ASSERT_TRUE(pi->packs.count(s.id)) << "snapshot " << s.id.Short() << " has no packindex";
      for (const Id& p : pi->packs.at(s.id)) EXPECT_TRUE(sizes.count(p)) << p.Short();
      // ...and every pack the snapshot needs (the retention pass trusts it).
      auto needed = PacksOfTree(*repo_, s.snapshot.tree);
      ASSERT_TRUE(needed);
      for (const Id& p : *needed) {
        EXPECT_TRUE(pi->packs.at(s.id).count(p))
            << "the packindex of " << s.id.Short() << " lacks pack " << p.Short();
      }
    }
    EXPECT_EQ(pi->packs.size(), snaps->size()) << "packindex of a forgotten snapshot remains";
  }

  std::string dir_, src_;
  storage::MemBlobStore mem_;
  std::unique_ptr<repo::Repository> repo_;
  std::map<Id, std::map<std::string, std::string>> contents_;
};

}  // namespace halley::engine::testing
