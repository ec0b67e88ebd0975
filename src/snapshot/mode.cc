// SPDX-License-Identifier: Apache-2.0
#include "snapshot/mode.h"

#include <sys/stat.h>

namespace halley::snapshot {

uint32_t GoModeFromPosix(uint32_t st_mode) {
  uint32_t mode = st_mode & kGoModePerm;
  switch (st_mode & S_IFMT) {
    case S_IFREG:
      break;
    case S_IFDIR:
      mode |= kGoModeDir;
      break;
    case S_IFLNK:
      mode |= kGoModeSymlink;
      break;
    case S_IFBLK:
      mode |= kGoModeDevice;
      break;
    case S_IFCHR:
      mode |= kGoModeDevice | kGoModeCharDevice;
      break;
    case S_IFIFO:
      mode |= kGoModeNamedPipe;
      break;
    case S_IFSOCK:
      mode |= kGoModeSocket;
      break;
    default:
      mode |= kGoModeIrregular;
      break;
  }
  if (st_mode & S_ISUID) mode |= kGoModeSetuid;
  if (st_mode & S_ISGID) mode |= kGoModeSetgid;
  if (st_mode & S_ISVTX) mode |= kGoModeSticky;
  return mode;
}

uint32_t PosixModeFromGo(uint32_t go_mode) {
  uint32_t mode = go_mode & kGoModePerm;
  if (go_mode & kGoModeDir) {
    mode |= S_IFDIR;
  } else if (go_mode & kGoModeSymlink) {
    mode |= S_IFLNK;
  } else if (go_mode & kGoModeDevice) {
    mode |= (go_mode & kGoModeCharDevice) ? S_IFCHR : S_IFBLK;
  } else if (go_mode & kGoModeCharDevice) {
    mode |= S_IFCHR;  // Go never sets ModeCharDevice alone; treat it as a character device
  } else if (go_mode & kGoModeNamedPipe) {
    mode |= S_IFIFO;
  } else if (go_mode & kGoModeSocket) {
    mode |= S_IFSOCK;
  } else if ((go_mode & kGoModeIrregular) == 0) {
    mode |= S_IFREG;
  }
  if (go_mode & kGoModeSetuid) mode |= S_ISUID;
  if (go_mode & kGoModeSetgid) mode |= S_ISGID;
  if (go_mode & kGoModeSticky) mode |= S_ISVTX;
  return mode;
}

NodeType NodeTypeFromPosix(uint32_t st_mode) {
  switch (st_mode & S_IFMT) {
    case S_IFREG:
      return NodeType::kFile;
    case S_IFDIR:
      return NodeType::kDir;
    case S_IFLNK:
      return NodeType::kSymlink;
    case S_IFBLK:
      return NodeType::kDev;
    case S_IFCHR:
      return NodeType::kCharDev;
    case S_IFIFO:
      return NodeType::kFifo;
    case S_IFSOCK:
      return NodeType::kSocket;
    default:
      return NodeType::kIrregular;
  }
}

}  // namespace halley::snapshot
