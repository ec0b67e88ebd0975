// SPDX-License-Identifier: Apache-2.0
// The contract is covered by the conformance suite; these tests pin the on-disk layout, the
// publish protocol and interoperability with restic.
#include "storage/local_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "storage/storage_test_util.h"

namespace halley::storage {
namespace {

namespace fs = std::filesystem;
using testutil::FailsWith;
using testutil::RandomBytes;
using testutil::SameBytes;
using testutil::Succeeds;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode;
}

bool IsDir(const std::string& path) { return S_ISDIR(ModeOf(path)); }
bool IsFile(const std::string& path) { return S_ISREG(ModeOf(path)); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// Every entry below `root` whose name starts with ".tmp-".
std::vector<std::string> TempFilesUnder(const std::string& root) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(".tmp-")) found.push_back(it->path());
  }
  return found;
}

class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.Sub("repo");
    auto store = LocalBlobStore::Open(root_);
    ASSERT_TRUE(Succeeds(store));
    store_ = std::move(*store);
  }

  ObjectHandle NewHandle(ObjectType type, std::string_view prefix = "") {
    return {type, testutil::RandomName(rng_, prefix)};
  }

  testutil::TempDir dir_;
  std::string root_;
  BlobStorePtr store_;
  std::mt19937_64 rng_{99};
};

TEST_F(LocalBlobStoreTest, OpenRejectsAnEmptyPathAndTrimsTrailingSlashes) {
  EXPECT_TRUE(FailsWith(LocalBlobStore::Open(""), ErrorCode::kInvalidArgument));
  auto store = LocalBlobStore::Open(root_ + "//");
  ASSERT_TRUE(Succeeds(store));
  EXPECT_EQ((*store)->Location(), root_);
  auto slash = LocalBlobStore::Open("/");
  ASSERT_TRUE(Succeeds(slash));
  EXPECT_EQ((*slash)->Location(), "/");
  EXPECT_FALSE(fs::exists(root_)) << "Open() must not touch the disk";
}

TEST_F(LocalBlobStoreTest, CreateMakesTheResticLayout) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  EXPECT_EQ(ModeOf(root_) & 07777, 0700u);
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(root_)) top.insert(e.path().filename());
  EXPECT_EQ(top,
            (std::set<std::string>{"data", "index", "keys", "locks", "packindex", "snapshots"}));
  for (const std::string& d : top) EXPECT_EQ(ModeOf(root_ + "/" + d), S_IFDIR | 0700) << d;
  std::set<std::string> shards;
  for (const auto& e : fs::directory_iterator(root_ + "/data")) {
    EXPECT_TRUE(e.is_directory());
    shards.insert(e.path().filename());
  }
  EXPECT_EQ(shards.size(), 256u);
  EXPECT_TRUE(shards.contains("00"));
  EXPECT_TRUE(shards.contains("9f"));
  EXPECT_TRUE(shards.contains("ff"));
}

TEST_F(LocalBlobStoreTest, CreateMakesParentsAndAcceptsAnEmptyDirectory) {
  auto deep = LocalBlobStore::Open(dir_.Sub("a/b/c"));
  ASSERT_TRUE(Succeeds(deep));
  ASSERT_TRUE(Succeeds((*deep)->Create()));
  EXPECT_TRUE(IsDir(dir_.Sub("a/b/c/data/ab")));

  ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
  ASSERT_TRUE(Succeeds(store_->Create()));
  EXPECT_TRUE(IsDir(root_ + "/data/00"));
  EXPECT_TRUE(IsDir(root_ + "/snapshots"));
}

TEST_F(LocalBlobStoreTest, CreateRefusesAnExistingConfigOrAFileInTheWay) {
  ASSERT_EQ(::mkdir(root_.c_str(), 0700), 0);
  WriteFile(root_ + "/config", "x");
  EXPECT_TRUE(FailsWith(store_->Create(), ErrorCode::kAlreadyExists));
  EXPECT_FALSE(fs::exists(root_ + "/data")) << "nothing created next to an existing vault";

  WriteFile(dir_.Sub("file"), "x");
  auto blocked = LocalBlobStore::Open(dir_.Sub("file"));
  ASSERT_TRUE(Succeeds(blocked));
  EXPECT_FALSE((*blocked)->Create());
}

TEST_F(LocalBlobStoreTest, ObjectsLandAtResticPathsReadOnly) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  const ObjectHandle handles[] = {NewHandle(ObjectType::kData, "ab"),
                                  NewHandle(ObjectType::kKey),
                                  NewHandle(ObjectType::kLock),
                                  NewHandle(ObjectType::kSnapshot),
                                  NewHandle(ObjectType::kIndex),
                                  NewHandle(ObjectType::kPackIndex),
                                  ObjectHandle::Config()};
  const char* dirs[] = {"data/ab/", "keys/", "locks/", "snapshots/", "index/", "packindex/", ""};
  for (size_t i = 0; i < std::size(handles); ++i) {
    const ObjectHandle& h = handles[i];
    const std::string content = "content of " + h.Path();
    ASSERT_TRUE(Succeeds(store_->Put(h, AsBytes(content))));
    const std::string path = root_ + "/" + dirs[i] + h.name;
    EXPECT_EQ(ModeOf(path), S_IFREG | 0400) << path;
    EXPECT_EQ(ReadFile(path), content) << path;
  }
  EXPECT_TRUE(TempFilesUnder(root_).empty());
}

TEST_F(LocalBlobStoreTest, NoTemporaryFileSurvivesAPut) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  const ObjectHandle h = NewHandle(ObjectType::kData, "cd");
  ASSERT_TRUE(Succeeds(store_->Put(h, RandomBytes(100000, 1))));
  EXPECT_TRUE(FailsWith(store_->Put(h, RandomBytes(10, 2)), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(Succeeds(store_->Put(ObjectHandle::Config(), RandomBytes(10, 3))));
  EXPECT_FALSE(store_->Put(ObjectHandle::Config(), RandomBytes(10, 3)));
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(root_ + "/data/cd")) {
    entries.push_back(e.path().filename());
  }
  EXPECT_EQ(entries, std::vector<std::string>{h.name});
  EXPECT_TRUE(TempFilesUnder(root_).empty());
}

TEST_F(LocalBlobStoreTest, AWriterStreamsToATemporaryFileUntilCommit) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  const ObjectHandle h = NewHandle(ObjectType::kData, "ab");
  const Bytes data = RandomBytes(200000, 6);
  {
    auto w = store_->NewWriter(ObjectType::kData);
    ASSERT_TRUE(Succeeds(w));
    ASSERT_TRUE(Succeeds((*w)->Write(ByteView(data).first(1000))));
    auto temps = TempFilesUnder(root_);
    ASSERT_EQ(temps.size(), 1u);
    EXPECT_EQ(fs::path(temps[0]).parent_path(), fs::path(root_ + "/data"));
    EXPECT_EQ(fs::file_size(temps[0]), 1000u) << "written through, not buffered";
    ASSERT_TRUE(Succeeds((*w)->Write(ByteView(data).subspan(1000))));
    EXPECT_TRUE(FailsWith((*w)->Commit({ObjectType::kKey, h.name}), ErrorCode::kInvalidArgument));
    ASSERT_TRUE(Succeeds((*w)->Commit(h)));
    EXPECT_FALSE((*w)->Write(data)) << "a committed writer takes no more data";
  }
  EXPECT_EQ(ModeOf(root_ + "/data/ab/" + h.name), S_IFREG | 0400);
  EXPECT_TRUE(TempFilesUnder(root_).empty());
  {
    auto w = store_->NewWriter(ObjectType::kData);
    ASSERT_TRUE(Succeeds(w));
    ASSERT_TRUE(Succeeds((*w)->Write(data)));
  }
  EXPECT_TRUE(TempFilesUnder(root_).empty()) << "a dropped writer removes its file";
}

TEST_F(LocalBlobStoreTest, LinkPublishFallbackKeepsTheContract) {
  auto store = LocalBlobStore::Open(root_, {.rename_noreplace = false});
  ASSERT_TRUE(Succeeds(store));
  ASSERT_TRUE(Succeeds((*store)->Create()));
  const ObjectHandle h = NewHandle(ObjectType::kData, "01");
  const Bytes data = RandomBytes(5000, 4);
  ASSERT_TRUE(Succeeds((*store)->Put(h, data)));
  EXPECT_TRUE(FailsWith((*store)->Put(h, RandomBytes(50, 5)), ErrorCode::kAlreadyExists));
  const std::string path = root_ + "/data/01/" + h.name;
  EXPECT_EQ(ModeOf(path), S_IFREG | 0400);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u) << "the temporary name must be gone";
  EXPECT_TRUE(TempFilesUnder(root_).empty());
  auto got = (*store)->Get(h);
  ASSERT_TRUE(Succeeds(got));
  EXPECT_TRUE(SameBytes(*got, data));
}

TEST_F(LocalBlobStoreTest, ListIgnoresEverythingButObjects) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  const ObjectHandle pack = NewHandle(ObjectType::kData, "ab");
  const ObjectHandle key = NewHandle(ObjectType::kKey);
  ASSERT_TRUE(Succeeds(store_->Put(pack, RandomBytes(33, 1))));
  ASSERT_TRUE(Succeeds(store_->Put(key, RandomBytes(44, 2))));

  const std::string shard = root_ + "/data/ab/";
  WriteFile(shard + ".tmp-" + pack.name + "-0123456789abcdef", "in-flight put");
  WriteFile(shard + NewHandle(ObjectType::kData, "ab").name + "-tmp-12345", "restic temp");
  WriteFile(shard + "README", "junk");
  WriteFile(shard + std::string(64, 'A'), "upper case");
  WriteFile(shard + NewHandle(ObjectType::kData, "cd").name, "wrong shard");
  ASSERT_EQ(::mkdir((shard + NewHandle(ObjectType::kData, "ab").name).c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((root_ + "/data/zz").c_str(), 0700), 0);
  WriteFile(root_ + "/data/zz/" + NewHandle(ObjectType::kData, "zz").name, "bad shard");
  WriteFile(root_ + "/data/" + NewHandle(ObjectType::kData).name, "unsharded");
  WriteFile(root_ + "/keys/.tmp-" + key.name + "-0000000000000000", "in-flight key");
  ASSERT_EQ(::mkdir((root_ + "/keys/" + NewHandle(ObjectType::kKey).name).c_str(), 0700), 0);
  ASSERT_EQ(::symlink("/nonexistent", (root_ + "/keys/" + std::string(64, '0')).c_str()), 0);

  auto packs = testutil::ListAll(*store_, ObjectType::kData);
  ASSERT_TRUE(Succeeds(packs));
  EXPECT_EQ(*packs, (std::map<std::string, uint64_t>{{pack.name, 33}}));
  auto keys = testutil::ListAll(*store_, ObjectType::kKey);
  ASSERT_TRUE(Succeeds(keys));
  EXPECT_EQ(*keys, (std::map<std::string, uint64_t>{{key.name, 44}}));
}

TEST_F(LocalBlobStoreTest, MissingShardAndTypeDirectoriesAreCreatedOnDemand) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  ASSERT_EQ(::rmdir((root_ + "/data/ab").c_str()), 0);
  ASSERT_EQ(::rmdir((root_ + "/packindex").c_str()), 0);
  auto empty = testutil::ListAll(*store_, ObjectType::kPackIndex);
  ASSERT_TRUE(Succeeds(empty));
  EXPECT_TRUE(empty->empty());

  const ObjectHandle pack = NewHandle(ObjectType::kData, "ab");
  const ObjectHandle packindex = NewHandle(ObjectType::kPackIndex);
  ASSERT_TRUE(Succeeds(store_->Put(pack, RandomBytes(10, 1))));
  ASSERT_TRUE(Succeeds(store_->Put(packindex, RandomBytes(10, 2))));
  EXPECT_EQ(ModeOf(root_ + "/data/ab"), S_IFDIR | 0700);
  EXPECT_EQ(ModeOf(root_ + "/packindex"), S_IFDIR | 0700);
  EXPECT_TRUE(IsFile(root_ + "/data/ab/" + pack.name));
  EXPECT_TRUE(IsFile(root_ + "/packindex/" + packindex.name));

  // Even the whole data/ directory may be missing.
  fs::remove_all(root_ + "/data");
  const ObjectHandle other = NewHandle(ObjectType::kData, "cd");
  ASSERT_TRUE(Succeeds(store_->Put(other, RandomBytes(10, 3))));
  EXPECT_TRUE(IsFile(root_ + "/data/cd/" + other.name));
}

TEST_F(LocalBlobStoreTest, AMissingRootIsNeverCreatedByPut) {
  const ObjectHandle h = NewHandle(ObjectType::kData);
  EXPECT_TRUE(FailsWith(store_->Put(h, RandomBytes(10, 1)), ErrorCode::kNotFound));
  EXPECT_TRUE(
      FailsWith(store_->Put(ObjectHandle::Config(), RandomBytes(10, 1)), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(store_->Get(h), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(store_->Stat(h), ErrorCode::kNotFound));
  EXPECT_TRUE(Succeeds(store_->Remove(h)));
  auto listed = testutil::ListAll(*store_, ObjectType::kData);
  ASSERT_TRUE(Succeeds(listed));
  EXPECT_TRUE(listed->empty());
  EXPECT_FALSE(fs::exists(root_));
}

TEST_F(LocalBlobStoreTest, DirectoryInPlaceOfAnObjectIsAnError) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  const ObjectHandle h = NewHandle(ObjectType::kIndex);
  ASSERT_EQ(::mkdir((root_ + "/index/" + h.name).c_str(), 0700), 0);
  EXPECT_TRUE(FailsWith(store_->Get(h), ErrorCode::kIoError));
  EXPECT_TRUE(FailsWith(store_->Stat(h), ErrorCode::kIoError));
  EXPECT_FALSE(store_->Put(h, RandomBytes(10, 1)));
  EXPECT_TRUE(TempFilesUnder(root_).empty());
}

// The Put runs where the target directory is not writable. Root bypasses permissions, so
// as root the Put runs in a child process that first drops to the "nobody" user.
TEST_F(LocalBlobStoreTest, UnwritableDirectoryIsPermissionDenied) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  const ObjectHandle h = NewHandle(ObjectType::kData, "ab");
  const std::string shard = root_ + "/data/ab";
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod(shard.c_str(), 0500), 0);
    EXPECT_TRUE(FailsWith(store_->Put(h, RandomBytes(10, 1)), ErrorCode::kPermissionDenied));
    ASSERT_EQ(::chmod(shard.c_str(), 0700), 0);
  } else {
    // Traversable by nobody, writable by no one but root.
    for (const std::string& d : {dir_.Path(), root_, root_ + "/data", shard}) {
      ASSERT_EQ(::chmod(d.c_str(), 0755), 0) << d;
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      constexpr uid_t kNobody = 65534;
      if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(2);
      auto put = store_->Put(h, RandomBytes(10, 1));
      ::_exit(!put && put.error().Code() == ErrorCode::kPermissionDenied ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "cannot switch to an unprivileged user";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "Put as nobody did not fail with permission_denied";
  }
  EXPECT_FALSE(fs::exists(shard + "/" + h.name));
  EXPECT_TRUE(TempFilesUnder(root_).empty());
}

bool HaveRestic() { return std::system("command -v restic >/dev/null 2>&1") == 0; }

int Restic(const std::string& repo, const std::string& args, std::string* output = nullptr) {
  const std::string out_file = repo + ".out";
  const std::string cmd = "RESTIC_PASSWORD=x restic --no-cache -q -r '" + repo + "' " + args +
                          " >'" + out_file + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  if (output != nullptr) *output = ReadFile(out_file);
  std::remove(out_file.c_str());
  return rc;
}

// Opening a vault made by `restic init`, and restic reading what we write into it.
TEST_F(LocalBlobStoreTest, RemovesOnlyStaleTemporaryFiles) {
  ASSERT_TRUE(Succeeds(store_->Create()));
  const ObjectHandle pack = NewHandle(ObjectType::kData);
  ASSERT_TRUE(Succeeds(store_->Put(pack, AsBytes("pack"))));
  // What a killed process leaves: temporaries in type directories, one a day old.
  const std::string stale_data = root_ + "/data/.tmp-00000000000000aa";
  const std::string stale_key = root_ + "/keys/.tmp-00000000000000bb";
  const std::string fresh = root_ + "/data/.tmp-00000000000000cc";
  for (const std::string& p : {stale_data, stale_key, fresh}) WriteFile(p, "partial");
  const struct timespec day_old[2] = {{::time(nullptr) - 86400, 0}, {::time(nullptr) - 86400, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, stale_data.c_str(), day_old, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, stale_key.c_str(), day_old, 0), 0);
  // An old object is never a temporary, whatever its age.
  ASSERT_EQ(::utimensat(AT_FDCWD, (root_ + "/" + pack.Path()).c_str(), day_old, 0), 0);

  auto removed = store_->RemoveStaleTemporaries(std::chrono::hours(1));
  ASSERT_TRUE(Succeeds(removed));
  EXPECT_EQ(*removed, 2u);
  EXPECT_FALSE(fs::exists(stale_data));
  EXPECT_FALSE(fs::exists(stale_key));
  EXPECT_TRUE(fs::exists(fresh));  // may belong to a write in flight
  EXPECT_TRUE(Succeeds(store_->Stat(pack)));
  removed = store_->RemoveStaleTemporaries(std::chrono::hours(1));
  ASSERT_TRUE(Succeeds(removed));
  EXPECT_EQ(*removed, 0u);
}

TEST_F(LocalBlobStoreTest, InteroperatesWithResticInit) {
  if (!HaveRestic()) GTEST_SKIP() << "restic is not installed";
  std::string out;
  ASSERT_EQ(Restic(root_, "init", &out), 0) << out;

  auto keys = testutil::ListAll(*store_, ObjectType::kKey);
  ASSERT_TRUE(Succeeds(keys));
  ASSERT_EQ(keys->size(), 1u);
  const std::string key_name = keys->begin()->first;
  const std::string key_path = root_ + "/keys/" + key_name;
  EXPECT_EQ(keys->begin()->second, fs::file_size(key_path));

  auto config = store_->Get(ObjectHandle::Config());
  ASSERT_TRUE(Succeeds(config));
  EXPECT_EQ(ToString(*config), ReadFile(root_ + "/config"));
  EXPECT_GT(config->size(), 32u);  // IV + MAC at least
  EXPECT_TRUE(FailsWith(store_->Create(), ErrorCode::kAlreadyExists));
  for (ObjectType type : {ObjectType::kData, ObjectType::kSnapshot, ObjectType::kIndex,
                          ObjectType::kLock, ObjectType::kPackIndex}) {
    auto listed = testutil::ListAll(*store_, type);
    ASSERT_TRUE(Succeeds(listed));
    EXPECT_TRUE(listed->empty()) << ObjectTypeDir(type);
  }

  // Rewrite restic's key file through our Put: restic must still open the vault with it.
  auto key = store_->Get({ObjectType::kKey, key_name});
  ASSERT_TRUE(Succeeds(key));
  ASSERT_TRUE(Succeeds(store_->Remove({ObjectType::kKey, key_name})));
  EXPECT_FALSE(fs::exists(key_path));
  ASSERT_TRUE(Succeeds(store_->Put({ObjectType::kKey, key_name}, *key)));
  EXPECT_EQ(ModeOf(key_path), S_IFREG | 0400);
  ASSERT_EQ(Restic(root_, "list keys", &out), 0) << out;
  EXPECT_NE(out.find(key_name), std::string::npos) << out;
  ASSERT_EQ(Restic(root_, "cat config", &out), 0) << out;
  EXPECT_NE(out.find("\"version\": 2"), std::string::npos) << out;

  // packindex/ is ours; restic's init does not make it and must not mind it.
  ASSERT_TRUE(Succeeds(store_->Put(NewHandle(ObjectType::kPackIndex), RandomBytes(10, 1))));
  ASSERT_EQ(Restic(root_, "list snapshots", &out), 0) << out;
}

}  // namespace
}  // namespace halley::storage
