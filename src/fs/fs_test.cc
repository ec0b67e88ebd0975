// SPDX-License-Identifier: Apache-2.0
#include "fs/fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace halley::fs {
namespace {

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "halley-fs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FsTest, ListDirectorySortsBytewise) {
  for (const char* n : {"b", "a", "B", "\xc3\xa9", "a.b"}) std::ofstream(dir_ + "/" + n) << "x";
  auto names = ListDirectory(dir_);
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"B", "a", "a.b", "b", "\xc3\xa9"}));
  EXPECT_EQ(ListDirectory(dir_ + "/missing").error().Code(), ErrorCode::kNotFound);
}

TEST_F(FsTest, ListDirectoryWithStatTakesLstatOfWhatItKeeps) {
  std::ofstream(dir_ + "/file") << "12345";
  std::filesystem::create_directory(dir_ + "/sub");
  ASSERT_EQ(::symlink("missing-target", (dir_ + "/link").c_str()), 0);
  std::ofstream(dir_ + "/skipped") << "x";
  std::vector<std::string> asked;
  auto entries = ListDirectoryWithStat(dir_, [&](const std::string& name) {
    asked.push_back(name);
    return name != "skipped";
  });
  ASSERT_TRUE(entries);
  EXPECT_EQ(asked, (std::vector<std::string>{"file", "link", "skipped", "sub"}));
  ASSERT_EQ(entries->size(), 3u);
  const auto& file = (*entries)[0];
  const auto& link = (*entries)[1];
  const auto& sub = (*entries)[2];
  EXPECT_EQ(file.name, "file");
  ASSERT_TRUE(file.st);
  EXPECT_TRUE(S_ISREG(file.st->st_mode));
  EXPECT_EQ(file.st->st_size, 5);
  EXPECT_EQ(link.name, "link");
  ASSERT_TRUE(link.st);
  EXPECT_TRUE(S_ISLNK(link.st->st_mode)) << "the link itself, not followed";
  EXPECT_EQ(sub.name, "sub");
  ASSERT_TRUE(sub.st);
  EXPECT_TRUE(S_ISDIR(sub.st->st_mode));
  EXPECT_EQ(ListDirectoryWithStat(dir_ + "/missing").error().Code(), ErrorCode::kNotFound);
  EXPECT_FALSE(ListDirectoryWithStat(dir_ + "/file")) << "not a directory";
}

TEST_F(FsTest, ReadLinkAndXattrs) {
  ASSERT_EQ(::symlink("../some/target", (dir_ + "/l").c_str()), 0);
  EXPECT_EQ(*ReadLink(dir_ + "/l"), "../some/target");
  std::string f = dir_ + "/f";
  std::ofstream(f) << "data";
  if (::setxattr(f.c_str(), "user.b", "2", 1, 0) != 0) GTEST_SKIP() << "no user xattrs here";
  ASSERT_EQ(::setxattr(f.c_str(), "user.a", "one", 3, 0), 0);
  auto fd = OpenForReading(f);
  ASSERT_TRUE(fd);
  for (auto x : {ReadXattrs(f), ReadXattrs(fd->Get(), f)}) {
    ASSERT_TRUE(x);
    ASSERT_EQ(x->size(), 2u);
    EXPECT_EQ((*x)[0].name, "user.a");
    EXPECT_EQ(ToString((*x)[0].value), "one");
    EXPECT_EQ((*x)[1].name, "user.b");
    EXPECT_EQ(ToString((*x)[1].value), "2");
  }
  EXPECT_FALSE(ReadXattrs(-1, f)) << "a bad descriptor is an error, not an empty list";
}

TEST_F(FsTest, OpenForReadingRefusesSymlinks) {
  std::ofstream(dir_ + "/f") << "hello";
  ASSERT_EQ(::symlink("f", (dir_ + "/l").c_str()), 0);
  auto fd = OpenForReading(dir_ + "/f");
  ASSERT_TRUE(fd);
  uint8_t buf[16];
  EXPECT_EQ(*ReadFull(fd->Get(), buf, sizeof buf), 5u);
  EXPECT_FALSE(OpenForReading(dir_ + "/l"));
}

TEST_F(FsTest, SafeNames) {
  EXPECT_TRUE(IsSafeName("a"));
  EXPECT_TRUE(IsSafeName("..."));
  EXPECT_TRUE(IsSafeName("a\\b"));
  for (std::string_view bad : {std::string_view(""), std::string_view("."), std::string_view(".."),
                               std::string_view("a/b"), std::string_view("a\0b", 3)}) {
    EXPECT_FALSE(IsSafeName(bad)) << bad;
  }
}

TEST_F(FsTest, OpenDirBeneathNeverFollowsSymlinks) {
  std::filesystem::create_directories(dir_ + "/root/a/b");
  std::filesystem::create_directories(dir_ + "/outside");
  ASSERT_EQ(::symlink((dir_ + "/outside").c_str(), (dir_ + "/root/evil").c_str()), 0);
  int root = ::open((dir_ + "/root").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(root, 0);
  Fd root_fd(root);
  EXPECT_TRUE(OpenDirBeneath(root, {"a", "b"}));
  EXPECT_EQ(OpenDirBeneath(root, {"evil"}).error().Code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenDirBeneath(root, {"a", ".."}).error().Code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenDirBeneath(root, {"missing"}).error().Code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace halley::fs
