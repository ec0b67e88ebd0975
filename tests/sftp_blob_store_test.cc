// SPDX-License-Identifier: Apache-2.0
//
// SftpBlobStore against OpenSSH's sshd: the conformance suite (with one connection and with
// several), the layout restic expects, reconnecting after the server drops the connection,
// stale temporaries, and refused host keys and credentials. tests/integration/test_sftp.py
// starts sshd on loopback and runs this binary with
//   HOME                  a home whose .ssh/ holds the client key, config and known_hosts
//   HALLEY_SFTP_LOCATION  an sftp: location without the "sftp:" (user@127.0.0.1:PORT:/DIR)
//   HALLEY_SFTP_ROOT      that directory as this machine sees it (the server is local)
// Every store gets its own directory below it.
#include "storage/sftp_blob_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
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
  return testutil::RequiredEnv(name, "tests/integration/test_sftp.py");
}

std::string FreshDir() {
  static std::mt19937_64 rng{std::random_device{}()};
  return "/t" + std::to_string(rng() % 1'000'000'000) + "/vault";
}

struct Fresh {
  std::unique_ptr<SftpBlobStore> store;
  std::string local_root;  // the same directory, seen locally
};

Fresh OpenFresh(SftpOptions o = {}) {
  const std::string dir = FreshDir();
  auto store = SftpBlobStore::Open(Env("HALLEY_SFTP_LOCATION") + dir, std::move(o));
  HALLEY_CHECK(store.has_value());
  return {std::move(*store), Env("HALLEY_SFTP_ROOT") + dir};
}

SftpOptions Connections(int n) {
  SftpOptions o;
  o.connections = n;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Sftp, BlobStoreConformanceTest,
    ::testing::Values(
        BlobStoreFactory{"OneConnection",
                         [] { return BlobStorePtr(OpenFresh(Connections(1)).store); }},
        BlobStoreFactory{"FourConnections",
                         [] { return BlobStorePtr(OpenFresh(Connections(4)).store); }}),
    BlobStoreFactoryName);

ObjectHandle ContentNamed(ObjectType type, ByteView data) {
  return {type, httpclient::Sha256Hex(data)};
}

TEST(SftpBlobStore, TheLayoutIsRestics) {
  Fresh f = OpenFresh();
  ASSERT_TRUE(Succeeds(f.store->Create()));
  for (const char* dir : {"data/00", "data/ff", "keys", "locks", "snapshots", "index"}) {
    EXPECT_TRUE(std::filesystem::is_directory(f.local_root + "/" + dir)) << dir;
  }
  const Bytes data = RandomBytes(100000, 1);
  const ObjectHandle h = ContentNamed(ObjectType::kData, data);
  ASSERT_TRUE(Succeeds(f.store->Put(h, data)));
  const std::string path = f.local_root + "/data/" + h.name.substr(0, 2) + "/" + h.name;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_size, 100000);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  // Nothing but the object: the temporary file was renamed, not copied.
  int entries = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(f.local_root + "/data/" + h.name.substr(0, 2))) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(SftpBlobStore, MissingDirectoriesBelowTheRootAreMadeButNeverTheRoot) {
  Fresh f = OpenFresh();
  ASSERT_TRUE(Succeeds(f.store->Create()));
  std::filesystem::remove_all(f.local_root + "/data");
  std::filesystem::remove_all(f.local_root + "/snapshots");
  const Bytes data = RandomBytes(1000, 2);
  EXPECT_TRUE(Succeeds(f.store->Put(ContentNamed(ObjectType::kData, data), data)));
  EXPECT_TRUE(Succeeds(f.store->Put(ContentNamed(ObjectType::kSnapshot, data), data)));
  auto listed = testutil::ListAll(*f.store, ObjectType::kData);
  ASSERT_TRUE(Succeeds(listed));
  EXPECT_EQ(listed->size(), 1u);

  Fresh g = OpenFresh();  // never created
  EXPECT_TRUE(
      FailsWith(g.store->Put(ContentNamed(ObjectType::kKey, data), data), ErrorCode::kNotFound));
  EXPECT_FALSE(std::filesystem::exists(g.local_root));
}

TEST(SftpBlobStore, RetriedUploadsOfTheSameContentAreAcknowledged) {
  Fresh f = OpenFresh();
  ASSERT_TRUE(Succeeds(f.store->Create()));
  const Bytes data = RandomBytes(300000, 3);
  const ObjectHandle h = ContentNamed(ObjectType::kData, data);
  ASSERT_TRUE(Succeeds(f.store->Put(h, data)));
  EXPECT_TRUE(Succeeds(f.store->Put(h, data)));
  // A name whose stored bytes differ (damaged at rest) is never acknowledged.
  const std::string path = f.local_root + "/data/" + h.name.substr(0, 2) + "/" + h.name;
  ::chmod(path.c_str(), 0600);
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(1000);
    file.put(static_cast<char>(data[1000] ^ 1));
  }
  EXPECT_TRUE(FailsWith(f.store->Put(h, data), ErrorCode::kAlreadyExists));
}

TEST(SftpBlobStore, StaleTemporariesAreRemovedFreshOnesKept) {
  Fresh f = OpenFresh();
  ASSERT_TRUE(Succeeds(f.store->Create()));
  const std::string old_tmp = f.local_root + "/data/3f/.tmp-00112233445566aa";
  const std::string new_tmp = f.local_root + "/index/.tmp-00112233445566bb";
  std::ofstream(old_tmp) << "partial";
  std::ofstream(new_tmp) << "in flight";
  const utimbuf two_days_ago{std::time(nullptr) - 2 * 86400, std::time(nullptr) - 2 * 86400};
  ASSERT_EQ(::utime(old_tmp.c_str(), &two_days_ago), 0);
  auto removed = f.store->RemoveStaleTemporaries(kStaleTemporaryAge);
  ASSERT_TRUE(Succeeds(removed));
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(std::filesystem::exists(old_tmp));
  EXPECT_TRUE(std::filesystem::exists(new_tmp));
  // Never listed as objects either.
  auto listed = testutil::ListAll(*f.store, ObjectType::kIndex);
  ASSERT_TRUE(Succeeds(listed));
  EXPECT_TRUE(listed->empty());
}

TEST(SftpBlobStore, AnUnknownHostKeyIsRefused) {
  const std::string empty = std::filesystem::temp_directory_path() / "halley-empty-known-hosts";
  std::ofstream(empty).close();
  SftpOptions o;
  o.known_hosts = empty;
  Fresh f = OpenFresh(o);
  auto r = f.store->Create();
  ASSERT_TRUE(FailsWith(r, ErrorCode::kPermissionDenied));
  EXPECT_NE(r.error().Message().find("is unknown"), std::string::npos) << r.error().Message();
  EXPECT_NE(r.error().Message().find("SHA256:"), std::string::npos) << r.error().Message();
  EXPECT_NE(r.error().Message().find("ssh-keyscan -p "), std::string::npos) << r.error().Message();
}

TEST(SftpBlobStore, AWrongKeyIsRefused) {
  SftpOptions o;
  o.ssh_dir = "/nonexistent";  // no identity, no config; the test's known_hosts given
  o.known_hosts = Env("HOME") + "/.ssh/known_hosts";
  Fresh f = OpenFresh(o);
  auto r = f.store->Create();
  ASSERT_TRUE(FailsWith(r, ErrorCode::kUnauthenticated));
  EXPECT_NE(r.error().Message().find("refused user"), std::string::npos) << r.error().Message();
}

TEST(SftpBlobStore, AnUnreachableServerIsUnavailable) {
  auto store = SftpBlobStore::Open("127.0.0.1:1:/x", SftpOptions{});
  ASSERT_TRUE(store.has_value());
  EXPECT_TRUE(FailsWith((*store)->Stat(ObjectHandle::Config()), ErrorCode::kUnavailable));
}

}  // namespace
}  // namespace halley::storage
