// SPDX-License-Identifier: Apache-2.0
#include "snapshot/mode.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace halley::snapshot {
namespace {

struct ModeCase {
  uint32_t st_mode;
  uint32_t go_mode;  // as restic stores it (values observed in restic 0.14 trees)
  NodeType type;
};

TEST(ModeTest, KnownAnswersAndInverse) {
  const ModeCase cases[] = {
      {S_IFREG | 0644, 420, NodeType::kFile},
      {S_IFREG | 0, 0, NodeType::kFile},
      {S_IFDIR | 0755, 2147484141u, NodeType::kDir},
      {S_IFLNK | 0777, 134218239, NodeType::kSymlink},
      {S_IFIFO | 0644, 33554852, NodeType::kFifo},
      {S_IFCHR | 0666, 69206454, NodeType::kCharDev},           // (1<<26)|(1<<21)|0666
      {S_IFCHR | 0644, 69206436, NodeType::kCharDev},           // seen in golden tree "null"
      {S_IFBLK | 0640, 67109280, NodeType::kDev},               // (1<<26)|0640
      {S_IFSOCK | 0755, 16777709, NodeType::kSocket},           // (1<<24)|0755
      {S_IFREG | S_ISUID | 0755, 8389101, NodeType::kFile},     // setuid
      {S_IFREG | S_ISGID | 0750, 4194792, NodeType::kFile},     // setgid
      {S_IFDIR | S_ISVTX | 0777, 2148532735u, NodeType::kDir},  // sticky /tmp
      {S_IFDIR | S_ISUID | S_ISGID | S_ISVTX | 0700,
       (1u << 31) | (1u << 23) | (1u << 22) | (1u << 20) | 0700, NodeType::kDir},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(GoModeFromPosix(c.st_mode), c.go_mode) << std::oct << c.st_mode;
    EXPECT_EQ(PosixModeFromGo(c.go_mode), c.st_mode) << c.go_mode;
    EXPECT_EQ(NodeTypeFromPosix(c.st_mode), c.type) << std::oct << c.st_mode;
  }
}

TEST(ModeTest, EveryTypeAndSpecialBitRoundTrips) {
  const uint32_t types[] = {S_IFREG, S_IFDIR, S_IFLNK, S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK};
  for (uint32_t type : types) {
    for (uint32_t low = 0; low <= 07777; ++low) {
      uint32_t st_mode = type | low;
      uint32_t go = GoModeFromPosix(st_mode);
      EXPECT_EQ(go & kGoModePerm, low & 0777);
      ASSERT_EQ(PosixModeFromGo(go), st_mode) << std::oct << st_mode;
    }
  }
}

TEST(ModeTest, UnknownPosixTypeIsIrregular) {
  const uint32_t weird = 0170000 | 0644;  // no such S_IFMT
  EXPECT_EQ(NodeTypeFromPosix(weird), NodeType::kIrregular);
  EXPECT_EQ(GoModeFromPosix(weird), kGoModeIrregular | 0644);
  EXPECT_EQ(PosixModeFromGo(kGoModeIrregular | 0644), 0644u);
}

TEST(ModeTest, OtherGoBitsAreDropped) {
  // ModeAppend, ModeExclusive, ModeTemporary have no POSIX counterpart.
  EXPECT_EQ(PosixModeFromGo((1u << 30) | (1u << 29) | (1u << 28) | 0600), S_IFREG | 0600u);
}

TEST(NodeTypeTest, NamesRoundTrip) {
  const NodeType all[] = {NodeType::kFile,   NodeType::kDir,      NodeType::kSymlink,
                          NodeType::kDev,    NodeType::kCharDev,  NodeType::kFifo,
                          NodeType::kSocket, NodeType::kIrregular};
  const char* names[] = {"file", "dir", "symlink", "dev", "chardev", "fifo", "socket", "irregular"};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(NodeTypeName(all[i]), names[i]);
    EXPECT_EQ(ParseNodeType(names[i]), all[i]);
  }
  EXPECT_EQ(ParseNodeType(""), std::nullopt);
  EXPECT_EQ(ParseNodeType("File"), std::nullopt);
}

}  // namespace
}  // namespace halley::snapshot
