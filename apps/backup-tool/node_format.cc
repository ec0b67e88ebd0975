// SPDX-License-Identifier: Apache-2.0
#include "node_format.h"

#include <cstdio>
#include <iostream>

#include "cli.h"
#include "snapshot/mode.h"
#include "snapshot/tree.h"

namespace halley::cli {

using snapshot::NodeType;

uint32_t NodeGoMode(const snapshot::Node& n) {
  uint32_t type_bits = 0;
  switch (n.type) {
    case NodeType::kFile:
      break;
    case NodeType::kDir:
      type_bits = snapshot::kGoModeDir;
      break;
    case NodeType::kSymlink:
      type_bits = snapshot::kGoModeSymlink;
      break;
    case NodeType::kDev:
      type_bits = snapshot::kGoModeDevice;
      break;
    case NodeType::kCharDev:
      type_bits = snapshot::kGoModeDevice | snapshot::kGoModeCharDevice;
      break;
    case NodeType::kFifo:
      type_bits = snapshot::kGoModeNamedPipe;
      break;
    case NodeType::kSocket:
      type_bits = snapshot::kGoModeSocket;
      break;
    case NodeType::kIrregular:
      type_bits = snapshot::kGoModeIrregular;
      break;
  }
  return n.mode | type_bits;
}

std::string GoModeString(uint32_t m) {
  static constexpr char kTypes[] = "dalTLDpSugct?";
  std::string s;
  for (int i = 0; kTypes[i] != '\0'; ++i) {
    if (m & (1u << (31 - i))) s.push_back(kTypes[i]);
  }
  if (s.empty()) s.push_back('-');
  static constexpr char kRwx[] = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s.push_back(m & (1u << (8 - i)) ? kRwx[i] : '-');
  return s;
}

namespace {

std::string PadLeft(const std::string& s, size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

}  // namespace

std::string LongLine(const snapshot::Node& n, const std::string& path, const LongFormat& f) {
  std::string user = f.numeric || n.user.empty() ? std::to_string(n.uid) : n.user;
  std::string group = f.numeric || n.group.empty() ? std::to_string(n.gid) : n.group;
  std::string size = f.human ? FormatBytes(n.size) : std::to_string(n.size);
  std::string line = GoModeString(NodeGoMode(n)) + " " + PadLeft(user, 5) + " " +
                     PadLeft(group, 5) + " " + PadLeft(size, 6) + " " +
                     FormatHuman(Time::Local(n.mtime.seconds, n.mtime.nanos)) + " " + path;
  if (n.type == NodeType::kSymlink) line += " -> " + n.linktarget;
  return line;
}

OrderedJson LsNodeJson(const snapshot::Node& n, const std::string& path) {
  OrderedJson j;
  j["name"] = n.name;
  j["type"] = std::string(snapshot::NodeTypeName(n.type));
  j["path"] = path;
  j["uid"] = n.uid;
  j["gid"] = n.gid;
  if (n.type == NodeType::kFile) j["size"] = n.size;
  uint32_t mode = NodeGoMode(n);
  if (mode != 0) j["mode"] = mode;
  j["permissions"] = GoModeString(mode);
  j["mtime"] = FormatRfc3339Nano(n.mtime);
  j["atime"] = FormatRfc3339Nano(n.atime);
  j["ctime"] = FormatRfc3339Nano(n.ctime);
  j["struct_type"] = "node";
  return j;
}

OrderedJson FindNodeJson(const snapshot::Node& n, const std::string& path) {
  OrderedJson j;
  j["path"] = path;
  j["permissions"] = GoModeString(NodeGoMode(n));
  // The node's stored form, with restic's field order and omitempty rules.
  snapshot::Tree one;
  one.nodes.push_back(n);
  auto text = snapshot::EncodeTree(one);
  if (!text) return j;
  OrderedJson stored = OrderedJson::parse(*text, nullptr, false);
  if (stored.is_discarded() || !stored.contains("nodes") || stored["nodes"].empty()) return j;
  for (auto& [key, value] : stored["nodes"][0].items()) {
    if (key == "name" || key == "inode" || key == "extended_attributes" || key == "device" ||
        key == "content" || key == "subtree") {
      continue;
    }
    j[key] = value;
  }
  return j;
}

std::string GoTimeString(const Time& t) {
  CivilTime c = ToCivil(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  std::string s = buf;
  if (t.nanos != 0) {
    std::snprintf(buf, sizeof buf, ".%09d", t.nanos);
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    s += frac;
  }
  int off = t.utc_offset;
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  std::snprintf(buf, sizeof buf, " %c%02d%02d", sign, off / 3600, off / 60 % 60);
  s += buf;
  if (t.utc_offset == 0) s += " UTC";
  return s;
}

void WriteLine(const std::string& text) {
  std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
  std::cout.put('\n');
}

std::string DumpJson(const OrderedJson& j, int indent) {
  return j.dump(indent, ' ', false, OrderedJson::error_handler_t::replace);
}

void WriteJsonLine(const OrderedJson& j) { WriteLine(DumpJson(j)); }

}  // namespace halley::cli
