// SPDX-License-Identifier: Apache-2.0
#include "snapshot/tree.h"

#include <limits>
#include <utility>

#include "base/encoding.h"
#include "snapshot/go_json.h"
#include "snapshot/go_quote.h"

namespace halley::snapshot {
namespace {

using internal::AppendId;
using internal::AppendKey;
using internal::AppendTime;
using internal::AppendUint;
using internal::GoZeroTime;
using internal::ReadBase64;
using internal::ReadId;
using internal::ReadString;
using internal::ReadTime;
using internal::ReadUint;
using internal::ReadUint32;

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

// Go's utf8.ValidString: no overlong forms, surrogates or code points above U+10FFFF. (The
// thresholds are multiples of 64, so the last continuation byte need not take part.)
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xc0) == 0x80; };
  while (i < s.size()) {
    unsigned c = b(i);
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xc2 && c <= 0xdf && cont(i + 1)) {
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef && cont(i + 1) && cont(i + 2)) {
      unsigned cp = (c & 0x0f) << 12 | (b(i + 1) & 0x3f) << 6;
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return false;
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      unsigned cp = (c & 0x07) << 18 | (b(i + 1) & 0x3f) << 12;
      if (cp < 0x10000 || cp > 0x10ffff) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

Result<void> AppendNode(std::string& out, const Node& node) {
  out.push_back('{');
  AppendKey(out, "name", /*first=*/true);
  AppendGoJsonString(out, GoQuoteName(node.name));
  AppendKey(out, "type");
  out.push_back('"');
  out.append(NodeTypeName(node.type));
  out.push_back('"');
  if (node.mode != 0) {
    AppendKey(out, "mode");
    AppendUint(out, node.mode);
  }
  AppendKey(out, "mtime");
  AppendTime(out, node.mtime);
  AppendKey(out, "atime");
  AppendTime(out, node.atime);
  AppendKey(out, "ctime");
  AppendTime(out, node.ctime);
  AppendKey(out, "uid");
  AppendUint(out, node.uid);
  AppendKey(out, "gid");
  AppendUint(out, node.gid);
  auto optional_string = [&](std::string_view key, const std::string& v) {
    if (v.empty()) return;
    AppendKey(out, key);
    AppendGoJsonString(out, v);
  };
  auto optional_uint = [&](std::string_view key, uint64_t v) {
    if (v == 0) return;
    AppendKey(out, key);
    AppendUint(out, v);
  };
  optional_string("user", node.user);
  optional_string("group", node.group);
  optional_uint("inode", node.inode);
  optional_uint("device_id", node.device_id);
  optional_uint("size", node.size);
  optional_uint("links", node.links);
  optional_string("linktarget", node.linktarget);
  if (!IsValidUtf8(node.linktarget)) {
    // Since restic 0.16; "linktarget" above carries the lossy U+FFFD form for older readers.
    AppendKey(out, "linktarget_raw");
    out.push_back('"');
    out.append(Base64Encode(AsBytes(node.linktarget)));
    out.push_back('"');
  }
  if (!node.xattrs.empty()) {
    AppendKey(out, "extended_attributes");
    out.push_back('[');
    for (size_t i = 0; i < node.xattrs.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.push_back('{');
      AppendKey(out, "name", /*first=*/true);
      AppendGoJsonString(out, node.xattrs[i].name);
      AppendKey(out, "value");
      out.push_back('"');
      out.append(Base64Encode(node.xattrs[i].value));
      out.append("\"}");
    }
    out.push_back(']');
  }
  const OrderedJson& generic = node.generic_attributes;
  if (!generic.is_null() && !generic.is_object()) {
    return Fail(ErrorCode::kInvalidArgument,
                "generic_attributes of \"" + GoQuoteName(node.name) + "\" is not an object");
  }
  if (generic.is_object() && !generic.empty()) {
    AppendKey(out, "generic_attributes");
    HALLEY_RETURN_IF_ERROR(internal::AppendGoJsonValue(out, generic, /*sort_keys=*/true));
  }
  optional_uint("device", node.device);
  AppendKey(out, "content");
  if (!node.content) {
    out.append("null");
  } else {
    out.push_back('[');
    for (size_t i = 0; i < node.content->size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendId(out, (*node.content)[i]);
    }
    out.push_back(']');
  }
  if (node.subtree) {
    AppendKey(out, "subtree");
    AppendId(out, *node.subtree);
  }
  optional_string("error", node.error);
  out.push_back('}');
  return {};
}

Result<Node> DecodeNode(const OrderedJson& j) {
  if (!j.is_object()) return Fail(ErrorCode::kCorruption, "node is not an object");
  Node node;
  node.mtime = node.atime = node.ctime = GoZeroTime();
  std::string quoted_name, type_name;
  std::optional<Bytes> linktarget_raw;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const OrderedJson& v = it.value();
    if (key == "name") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "name", quoted_name));
    } else if (key == "type") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "type", type_name));
    } else if (key == "mode") {
      HALLEY_RETURN_IF_ERROR(ReadUint32(v, "mode", node.mode));
    } else if (key == "mtime") {
      HALLEY_RETURN_IF_ERROR(ReadTime(v, "mtime", node.mtime));
    } else if (key == "atime") {
      HALLEY_RETURN_IF_ERROR(ReadTime(v, "atime", node.atime));
    } else if (key == "ctime") {
      HALLEY_RETURN_IF_ERROR(ReadTime(v, "ctime", node.ctime));
    } else if (key == "uid") {
      HALLEY_RETURN_IF_ERROR(ReadUint32(v, "uid", node.uid));
    } else if (key == "gid") {
      HALLEY_RETURN_IF_ERROR(ReadUint32(v, "gid", node.gid));
    } else if (key == "user") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "user", node.user));
    } else if (key == "group") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "group", node.group));
    } else if (key == "inode") {
      HALLEY_RETURN_IF_ERROR(ReadUint(v, "inode", kMaxU64, node.inode));
    } else if (key == "device_id") {
      HALLEY_RETURN_IF_ERROR(ReadUint(v, "device_id", kMaxU64, node.device_id));
    } else if (key == "size") {
      HALLEY_RETURN_IF_ERROR(ReadUint(v, "size", kMaxU64, node.size));
    } else if (key == "links") {
      HALLEY_RETURN_IF_ERROR(ReadUint(v, "links", kMaxU64, node.links));
    } else if (key == "linktarget") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "linktarget", node.linktarget));
    } else if (key == "linktarget_raw") {
      if (!v.is_null()) {
        Bytes raw;
        HALLEY_RETURN_IF_ERROR(ReadBase64(v, "linktarget_raw", raw));
        linktarget_raw = std::move(raw);
      }
    } else if (key == "extended_attributes") {
      if (v.is_null()) continue;
      if (!v.is_array()) {
        return Fail(ErrorCode::kCorruption, "field \"extended_attributes\" is not an array");
      }
      node.xattrs.clear();
      node.xattrs.reserve(v.size());
      for (const auto& a : v) {
        if (!a.is_object()) {
          return Fail(ErrorCode::kCorruption, "extended attribute is not an object");
        }
        ExtendedAttribute attr;
        for (auto m = a.begin(); m != a.end(); ++m) {
          if (m.key() == "name") {
            HALLEY_RETURN_IF_ERROR(ReadString(m.value(), "extended_attributes.name", attr.name));
          } else if (m.key() == "value") {
            HALLEY_RETURN_IF_ERROR(ReadBase64(m.value(), "extended_attributes.value", attr.value));
          }
        }
        node.xattrs.push_back(std::move(attr));
      }
    } else if (key == "generic_attributes") {
      if (!v.is_null() && !v.is_object()) {
        return Fail(ErrorCode::kCorruption, "field \"generic_attributes\" is not an object");
      }
      node.generic_attributes = v;
    } else if (key == "device") {
      HALLEY_RETURN_IF_ERROR(ReadUint(v, "device", kMaxU64, node.device));
    } else if (key == "content") {
      if (v.is_null()) {
        node.content.reset();
        continue;
      }
      if (!v.is_array()) return Fail(ErrorCode::kCorruption, "field \"content\" is not an array");
      std::vector<Id> ids;
      ids.reserve(v.size());
      for (const auto& e : v) {
        std::optional<Id> id;
        HALLEY_RETURN_IF_ERROR(ReadId(e, "content", id));
        if (!id) return Fail(ErrorCode::kCorruption, "field \"content\" holds a null ID");
        ids.push_back(*id);
      }
      node.content = std::move(ids);
    } else if (key == "subtree") {
      if (v.is_null()) node.subtree.reset();
      HALLEY_RETURN_IF_ERROR(ReadId(v, "subtree", node.subtree));
    } else if (key == "error") {
      HALLEY_RETURN_IF_ERROR(ReadString(v, "error", node.error));
    }
    // Unknown members are ignored, as encoding/json does.
  }
  if (quoted_name.empty()) return Fail(ErrorCode::kCorruption, "node has no name");
  auto name = GoUnquoteName(quoted_name);
  if (!name) return Fail(name.error().WithContext("node name"));
  node.name = std::move(*name);
  auto type = ParseNodeType(type_name);
  if (!type) {
    return Fail(ErrorCode::kCorruption, "node \"" + quoted_name + "\" has unknown type \"" +
                                            type_name.substr(0, 32) + "\"");
  }
  node.type = *type;
  if (linktarget_raw) node.linktarget = ToString(*linktarget_raw);
  return node;
}

}  // namespace

Result<std::string> EncodeTree(const Tree& tree) {
  std::string out;
  out.reserve(16 + tree.nodes.size() * 400);
  out.append("{\"nodes\":[");
  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    const Node& node = tree.nodes[i];
    if (node.name.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "tree node " + std::to_string(i) + " has no name");
    }
    if (i > 0 && !(tree.nodes[i - 1].name < node.name)) {
      return Fail(ErrorCode::kInvalidArgument, "tree nodes are not ordered or duplicate: \"" +
                                                   GoQuoteName(node.name) + "\" after \"" +
                                                   GoQuoteName(tree.nodes[i - 1].name) + "\"");
    }
    if (i > 0) out.push_back(',');
    HALLEY_RETURN_IF_ERROR(AppendNode(out, node));
  }
  out.append("]}\n");
  return out;
}

Result<Tree> DecodeTree(std::string_view json) {
  HALLEY_ASSIGN_OR_RETURN(OrderedJson doc, internal::ParseOrderedJson(json));
  if (!doc.is_object()) return Fail(ErrorCode::kCorruption, "tree is not a JSON object");
  auto nodes = doc.find("nodes");
  if (nodes == doc.end() || !nodes->is_array()) {
    return Fail(ErrorCode::kCorruption, "tree has no \"nodes\" array");
  }
  Tree tree;
  tree.nodes.reserve(nodes->size());
  for (size_t i = 0; i < nodes->size(); ++i) {
    auto node = DecodeNode((*nodes)[i]);
    if (!node) return Fail(node.error().WithContext("tree node " + std::to_string(i)));
    if (!tree.nodes.empty() && !(tree.nodes.back().name < node->name)) {
      return Fail(ErrorCode::kCorruption, "tree nodes are not ordered or duplicate: \"" +
                                              GoQuoteName(node->name) + "\" after \"" +
                                              GoQuoteName(tree.nodes.back().name) + "\"");
    }
    tree.nodes.push_back(std::move(*node));
  }
  return tree;
}

namespace {

enum class TreeWhere { kRoot, kNodes, kNode, kContent };

class TreeBlobsReader : public SaxReader<TreeBlobsReader, TreeWhere> {
 public:
  Result<TreeBlobs> Read(std::string_view json) {
    HALLEY_RETURN_IF_ERROR(Parse(json));
    if (!nodes_seen_) return Fail(ErrorCode::kCorruption, "tree has no \"nodes\" array");
    return std::move(out_);
  }

  std::optional<TreeWhere> Place(SaxValue v) {
    if (Stack().empty()) {
      if (v == SaxValue::kObject) return TreeWhere::kRoot;
      Problem("tree is not a JSON object");
      return std::nullopt;
    }
    switch (Stack().back()) {
      case TreeWhere::kRoot:
        if (Key() != "nodes") return std::nullopt;
        nodes_seen_ = v == SaxValue::kArray;
        out_ = TreeBlobs{};
        if (nodes_seen_) return TreeWhere::kNodes;
        return std::nullopt;
      case TreeWhere::kNodes:
        if (v != SaxValue::kObject) {
          Problem("node is not an object");
          return std::nullopt;
        }
        named_ = false;
        type_.clear();
        subtree_.reset();
        content_.clear();
        return TreeWhere::kNode;
      case TreeWhere::kNode:
        if (Key() == "name") {
          named_ = v == SaxValue::kString && !text_.empty();
        } else if (Key() == "type") {
          type_ = v == SaxValue::kString ? text_ : std::string();
        } else if (Key() == "subtree") {
          if (v == SaxValue::kNull) subtree_.reset();
          if (v != SaxValue::kNull) subtree_ = ReadId(v, "subtree");
        } else if (Key() == "content") {
          content_.clear();
          if (v == SaxValue::kArray) return TreeWhere::kContent;
          if (v != SaxValue::kNull) Problem("field \"content\" is not an array");
        }
        return std::nullopt;
      case TreeWhere::kContent:
        if (auto id = ReadId(v, "content")) content_.push_back(*id);
        return std::nullopt;
    }
    return std::nullopt;
  }

  void Closed(TreeWhere w) {
    if (w != TreeWhere::kNode) return;
    if (!named_) return Problem("node has no name");
    auto type = ParseNodeType(type_);
    if (!type) return Problem("node has unknown type \"" + type_.substr(0, 32) + "\"");
    if (*type == NodeType::kDir && subtree_) out_.subtrees.push_back(*subtree_);
    out_.content.insert(out_.content.end(), content_.begin(), content_.end());
  }

 private:
  std::optional<Id> ReadId(SaxValue v, const char* field) {
    std::optional<Id> id;
    if (v == SaxValue::kString) {
      if (auto parsed = Id::FromHex(text_)) id = *parsed;
    }
    if (!id) Problem(std::string("field \"") + field + "\" is not an ID of 64 hex digits");
    return id;
  }

  TreeBlobs out_;
  bool nodes_seen_ = false;
  // The node being read.
  bool named_ = false;
  std::string type_;
  std::optional<Id> subtree_;
  std::vector<Id> content_;
};

}  // namespace

Result<TreeBlobs> DecodeTreeBlobs(std::string_view json) { return TreeBlobsReader().Read(json); }

}  // namespace halley::snapshot
