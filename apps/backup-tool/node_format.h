// SPDX-License-Identifier: Apache-2.0
//
// How ls, find and diff print nodes: restic's mode strings and `ls -l` lines, the JSON objects
// of `ls --json` and `find --json`, and Go's time.Time.String() for headers. Pure functions,
// except WriteLine/WriteJsonLine which append to stdout without flushing (for long listings).
#pragma once

#include <cstdint>
#include <string>

#include "base/json.h"
#include "base/time.h"
#include "snapshot/node.h"

namespace halley::cli {

// Go's fs.FileMode bits of a node: its stored mode with the type bits implied by its type.
uint32_t NodeGoMode(const snapshot::Node& n);
// Go's FileMode.String(): "drwxr-xr-x", "Lrwxrwxrwx", "prw-r--r--", "-rwsr-xr-x" is "urwxr-xr-x".
std::string GoModeString(uint32_t go_mode);

struct LongFormat {
  bool numeric = false;  // uid/gid numbers (restic's form) instead of user/group names
  bool human = false;    // sizes as "1.234 KiB"
};
// restic's `ls -l` line: mode, user, group, size, mtime (local time), path, " -> target".
std::string LongLine(const snapshot::Node& n, const std::string& path, const LongFormat& f);

// `ls --json` node line (restic's lsNode): name, type, path, uid, gid, size (files only), mode,
// permissions, mtime, atime, ctime, struct_type "node".
OrderedJson LsNodeJson(const snapshot::Node& n, const std::string& path);
// A `find --json` match: path, permissions, then the node's stored fields except name, inode,
// extended_attributes, device, content and subtree (as restic).
OrderedJson FindNodeJson(const snapshot::Node& n, const std::string& path);

// Go's time.Time.String() without the monotonic part: "2026-11-26 08:18:36.27768036 +0000 UTC".
std::string GoTimeString(const Time& t);

// Append to stdout (no flush; the caller flushes once at the end).
void WriteLine(const std::string& text);
void WriteJsonLine(const OrderedJson& j);
std::string DumpJson(const OrderedJson& j, int indent = -1);

}  // namespace halley::cli
