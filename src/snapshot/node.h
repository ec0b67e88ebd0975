// SPDX-License-Identifier: Apache-2.0
//
// Node: one file, directory or other item in a tree, as restic stores it (internal/data/node.go).
// Plain data; the JSON form is written and read by tree.h. Field comments give the JSON key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/id.h"
#include "base/json.h"
#include "base/time.h"

namespace halley::snapshot {

enum class NodeType { kFile, kDir, kSymlink, kDev, kCharDev, kFifo, kSocket, kIrregular };

// The JSON "type" value: "file", "dir", "symlink", "dev" (block device), "chardev", "fifo",
// "socket", "irregular".
std::string_view NodeTypeName(NodeType type);
// The inverse of NodeTypeName; nullopt for any other string.
std::optional<NodeType> ParseNodeType(std::string_view name);

struct ExtendedAttribute {
  std::string name;
  Bytes value;  // base64 in JSON

  bool operator==(const ExtendedAttribute&) const = default;
};

struct Node {
  std::string name;  // raw bytes of the file name (may be invalid UTF-8); Go-quoted in JSON
  NodeType type = NodeType::kFile;
  uint32_t mode = 0;  // Go fs.FileMode bits (see mode.h); "mode", omitted when 0
  Time mtime, atime, ctime;
  uint32_t uid = 0, gid = 0;
  std::string user, group;
  uint64_t inode = 0;
  uint64_t device_id = 0;  // st_dev
  uint64_t size = 0;
  uint64_t links = 0;
  // Raw bytes. Written as "linktarget" (invalid UTF-8 replaced by U+FFFD, as encoding/json
  // does) and, when not valid UTF-8, also as "linktarget_raw" (base64), which wins on reading.
  std::string linktarget;
  std::vector<ExtendedAttribute> xattrs;  // "extended_attributes"
  // "generic_attributes": a JSON object (or null) of OS-specific attributes such as
  // "windows.creation_time". Ordered so that nested values keep the member order they were
  // read with (restic copies them as raw JSON); the top-level keys are written sorted, as Go
  // writes a map.
  OrderedJson generic_attributes;
  uint64_t device = 0;  // st_rdev for dev/chardev
  // Blob IDs of the file's chunks in order: nullopt ("content":null) for non-files, an empty
  // list for an empty file.
  std::optional<std::vector<Id>> content;
  std::optional<Id> subtree;  // dirs
  std::string error;          // why the archiver could not read the item, if it could not

  // Member-wise, except that generic_attributes compares as a map at the top level (it is
  // written sorted, so insertion order does not matter) and exactly below it. Times compare
  // as instants. Keep in step with the members above.
  friend bool operator==(const Node& a, const Node& b);
};

}  // namespace halley::snapshot
