// SPDX-License-Identifier: Apache-2.0
#include "snapshot/node.h"

#include <array>
#include <tuple>
#include <utility>

namespace halley::snapshot {
namespace {

constexpr std::array<std::pair<NodeType, std::string_view>, 8> kTypeNames = {{
    {NodeType::kFile, "file"},
    {NodeType::kDir, "dir"},
    {NodeType::kSymlink, "symlink"},
    {NodeType::kDev, "dev"},
    {NodeType::kCharDev, "chardev"},
    {NodeType::kFifo, "fifo"},
    {NodeType::kSocket, "socket"},
    {NodeType::kIrregular, "irregular"},
}};

}  // namespace

std::string_view NodeTypeName(NodeType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  CheckFailed(__FILE__, __LINE__, "NodeType out of range");
}

bool operator==(const Node& a, const Node& b) {
  auto members = [](const Node& n) {
    return std::tie(n.name, n.type, n.mode, n.mtime, n.atime, n.ctime, n.uid, n.gid, n.user,
                    n.group, n.inode, n.device_id, n.size, n.links, n.linktarget, n.xattrs,
                    n.device, n.content, n.subtree, n.error);
  };
  if (members(a) != members(b)) return false;
  const OrderedJson& ga = a.generic_attributes;
  const OrderedJson& gb = b.generic_attributes;
  if (!ga.is_object() || !gb.is_object()) return ga == gb;
  if (ga.size() != gb.size()) return false;
  for (auto it = ga.begin(); it != ga.end(); ++it) {
    auto other = gb.find(it.key());
    if (other == gb.end() || *other != it.value()) return false;
  }
  return true;
}

std::optional<NodeType> ParseNodeType(std::string_view name) {
  for (const auto& [t, n] : kTypeNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

}  // namespace halley::snapshot
