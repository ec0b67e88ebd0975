// SPDX-License-Identifier: Apache-2.0
//
// File modes. Tree nodes store Go's fs.FileMode bits, not POSIX st_mode: the type is one high
// bit (dir = 1<<31, symlink = 1<<27, ...), setuid/setgid/sticky are 1<<23/1<<22/1<<20, and only
// the nine permission bits sit where POSIX has them. restic stores the mode masked to
// type | setuid | setgid | sticky | permissions, and so do these functions.
//
// Pure functions, thread-safe.
#pragma once

#include <cstdint>

#include "snapshot/node.h"

namespace halley::snapshot {

// Go fs.FileMode bits.
inline constexpr uint32_t kGoModeDir = 1u << 31;
inline constexpr uint32_t kGoModeSymlink = 1u << 27;
inline constexpr uint32_t kGoModeDevice = 1u << 26;
inline constexpr uint32_t kGoModeNamedPipe = 1u << 25;
inline constexpr uint32_t kGoModeSocket = 1u << 24;
inline constexpr uint32_t kGoModeSetuid = 1u << 23;
inline constexpr uint32_t kGoModeSetgid = 1u << 22;
inline constexpr uint32_t kGoModeCharDevice = 1u << 21;
inline constexpr uint32_t kGoModeSticky = 1u << 20;
inline constexpr uint32_t kGoModeIrregular = 1u << 19;
inline constexpr uint32_t kGoModeType = kGoModeDir | kGoModeSymlink | kGoModeNamedPipe |
                                        kGoModeSocket | kGoModeDevice | kGoModeCharDevice |
                                        kGoModeIrregular;
inline constexpr uint32_t kGoModePerm = 0777;

// What os.Lstat reports for st_mode, masked as restic masks it: e.g. a 0755 directory gives
// 2147484141 and a 0777 symlink 134218239. Go leaves the type bits empty for an unknown S_IFMT
// (it would look like a regular file); we set ModeIrregular instead.
uint32_t GoModeFromPosix(uint32_t st_mode);

// The inverse: S_IFMT type bits, S_ISUID/S_ISGID/S_ISVTX and the permission bits. Block vs
// character device follows ModeCharDevice; no type bit means a regular file; ModeIrregular
// (which has no POSIX type) gives S_IFMT = 0. Other Go bits (append, exclusive, ...) are dropped.
uint32_t PosixModeFromGo(uint32_t go_mode);

// The node type of an st_mode (kIrregular for an unknown S_IFMT).
NodeType NodeTypeFromPosix(uint32_t st_mode);

}  // namespace halley::snapshot
