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

namespace {

enum class NodeWhere { kRoot, kNodes, kNode, kContent, kXattrs, kXattr };

// Decodes a tree as it is scanned, member by member in the order given, as encoding/json
// fills a struct: a member given twice is read twice.
class TreeReader : public SaxReader<TreeReader, NodeWhere> {
 public:
  Result<Tree> Read(std::string_view json) {
    HALLEY_RETURN_IF_ERROR(Parse(json));
    if (!nodes_seen_) return Fail(ErrorCode::kCorruption, "tree has no \"nodes\" array");
    return std::move(tree_);
  }

  std::optional<NodeWhere> Place(SaxValue v) {
    if (Stack().empty()) {
      if (v == SaxValue::kObject) return NodeWhere::kRoot;
      Problem("tree is not a JSON object");
      return std::nullopt;
    }
    switch (Stack().back()) {
      case NodeWhere::kRoot:
        if (Key() != "nodes") return std::nullopt;
        nodes_seen_ = v == SaxValue::kArray;
        tree_.nodes.clear();
        if (nodes_seen_) return NodeWhere::kNodes;
        return std::nullopt;
      case NodeWhere::kNodes:
        if (v != SaxValue::kObject) {
          NodeProblem(Error(ErrorCode::kCorruption, "node is not an object"));
          return std::nullopt;
        }
        node_ = Node{};
        node_.mtime = node_.atime = node_.ctime = GoZeroTime();
        quoted_name_.clear();
        type_name_.clear();
        linktarget_raw_.reset();
        generic_pending_ = false;
        return NodeWhere::kNode;
      case NodeWhere::kNode:
        return Member(v);
      case NodeWhere::kContent:
        if (v == SaxValue::kNull) {
          NodeProblem(Error(ErrorCode::kCorruption, "field \"content\" holds a null ID"));
        } else if (auto id = ReadId(v, "content")) {
          node_.content->push_back(*id);
        }
        return std::nullopt;
      case NodeWhere::kXattrs:
        if (v != SaxValue::kObject) {
          NodeProblem(Error(ErrorCode::kCorruption, "extended attribute is not an object"));
          return std::nullopt;
        }
        node_.xattrs.emplace_back();
        return NodeWhere::kXattr;
      case NodeWhere::kXattr:
        if (Key() == "name") {
          ReadString(v, "extended_attributes.name", node_.xattrs.back().name);
        } else if (Key() == "value") {
          ReadBase64(v, "extended_attributes.value", node_.xattrs.back().value);
        }
        return std::nullopt;
    }
    return std::nullopt;
  }

  void Skipped(std::string_view raw) {
    if (!generic_pending_) return;
    generic_pending_ = false;
    // Rare (restic on Windows), and kept as a document: parse its text on its own.
    auto doc = internal::ParseOrderedJson(raw);
    if (!doc) return NodeProblem(doc.error());
    node_.generic_attributes = std::move(*doc);
  }

  void Closed(NodeWhere w) {
    if (w != NodeWhere::kNode) return;
    if (quoted_name_.empty()) return NodeProblem(Error(ErrorCode::kCorruption, "node has no name"));
    auto name = GoUnquoteName(quoted_name_);
    if (!name) return NodeProblem(name.error().WithContext("node name"));
    node_.name = std::move(*name);
    auto type = ParseNodeType(type_name_);
    if (!type) {
      return NodeProblem(Error(
          ErrorCode::kCorruption,
          "node \"" + quoted_name_ + "\" has unknown type \"" + type_name_.substr(0, 32) + "\""));
    }
    node_.type = *type;
    if (linktarget_raw_) node_.linktarget = ToString(*linktarget_raw_);
    if (!tree_.nodes.empty() && !(tree_.nodes.back().name < node_.name)) {
      return Problem("tree nodes are not ordered or duplicate: \"" + GoQuoteName(node_.name) +
                     "\" after \"" + GoQuoteName(tree_.nodes.back().name) + "\"");
    }
    tree_.nodes.push_back(std::move(node_));
  }

 private:
  // A member of the node being read.
  std::optional<NodeWhere> Member(SaxValue v) {
    const std::string_view key = Key();
    if (key == "name") {
      ReadString(v, "name", quoted_name_);
    } else if (key == "type") {
      ReadString(v, "type", type_name_);
    } else if (key == "mode") {
      ReadUint32(v, "mode", node_.mode);
    } else if (key == "mtime") {
      ReadTime(v, "mtime", node_.mtime);
    } else if (key == "atime") {
      ReadTime(v, "atime", node_.atime);
    } else if (key == "ctime") {
      ReadTime(v, "ctime", node_.ctime);
    } else if (key == "uid") {
      ReadUint32(v, "uid", node_.uid);
    } else if (key == "gid") {
      ReadUint32(v, "gid", node_.gid);
    } else if (key == "user") {
      ReadString(v, "user", node_.user);
    } else if (key == "group") {
      ReadString(v, "group", node_.group);
    } else if (key == "inode") {
      ReadUint(v, "inode", node_.inode);
    } else if (key == "device_id") {
      ReadUint(v, "device_id", node_.device_id);
    } else if (key == "size") {
      ReadUint(v, "size", node_.size);
    } else if (key == "links") {
      ReadUint(v, "links", node_.links);
    } else if (key == "linktarget") {
      ReadString(v, "linktarget", node_.linktarget);
    } else if (key == "linktarget_raw") {
      if (v != SaxValue::kNull) {
        Bytes raw;
        ReadBase64(v, "linktarget_raw", raw);
        linktarget_raw_ = std::move(raw);
      }
    } else if (key == "extended_attributes") {
      if (v == SaxValue::kArray) {
        node_.xattrs.clear();
        return NodeWhere::kXattrs;
      }
      if (v != SaxValue::kNull) {
        NodeProblem(Error(ErrorCode::kCorruption, "field \"extended_attributes\" is not an array"));
      }
    } else if (key == "generic_attributes") {
      if (v == SaxValue::kObject) {
        generic_pending_ = true;  // its text comes to Skipped
      } else if (v == SaxValue::kNull) {
        node_.generic_attributes = nullptr;
      } else {
        NodeProblem(Error(ErrorCode::kCorruption, "field \"generic_attributes\" is not an object"));
      }
    } else if (key == "device") {
      ReadUint(v, "device", node_.device);
    } else if (key == "content") {
      if (v == SaxValue::kArray) {
        node_.content.emplace();
        return NodeWhere::kContent;
      }
      if (v == SaxValue::kNull) {
        node_.content.reset();
      } else {
        NodeProblem(Error(ErrorCode::kCorruption, "field \"content\" is not an array"));
      }
    } else if (key == "subtree") {
      if (v == SaxValue::kNull) {
        node_.subtree.reset();
      } else if (auto id = ReadId(v, "subtree")) {
        node_.subtree = *id;
      }
    } else if (key == "error") {
      ReadString(v, "error", node_.error);
    }
    // Unknown members are ignored, as encoding/json does.
    return std::nullopt;
  }

  // The readers follow encoding/json: null leaves the field as it is; a value of another type
  // or out of range is corruption naming the field.
  void FieldProblem(const char* field, const char* want) {
    NodeProblem(
        Error(ErrorCode::kCorruption, std::string("field \"") + field + "\" is not " + want));
  }
  void ReadString(SaxValue v, const char* field, std::string& out) {
    if (v == SaxValue::kString) {
      out = text_;
    } else if (v != SaxValue::kNull) {
      FieldProblem(field, "a string");
    }
  }
  void ReadUint(SaxValue v, const char* field, uint64_t& out) {
    if (v == SaxValue::kUnsigned) {
      out = number_;
    } else if (v != SaxValue::kNull) {
      FieldProblem(field, "an unsigned integer in range");
    }
  }
  void ReadUint32(SaxValue v, const char* field, uint32_t& out) {
    if (v == SaxValue::kUnsigned && number_ <= std::numeric_limits<uint32_t>::max()) {
      out = static_cast<uint32_t>(number_);
    } else if (v != SaxValue::kNull) {
      FieldProblem(field, "an unsigned integer in range");
    }
  }
  void ReadTime(SaxValue v, const char* field, Time& out) {
    if (v == SaxValue::kNull) return;
    if (v != SaxValue::kString) return FieldProblem(field, "an RFC 3339 time");
    auto t = ParseRfc3339(text_);
    if (!t) return FieldProblem(field, "an RFC 3339 time");
    out = *t;
  }
  void ReadBase64(SaxValue v, const char* field, Bytes& out) {
    if (v == SaxValue::kNull) return;
    if (v != SaxValue::kString) return FieldProblem(field, "a base64 string");
    auto bytes = Base64Decode(text_);
    if (!bytes) return FieldProblem(field, "valid base64");
    out = std::move(*bytes);
  }
  std::optional<Id> ReadId(SaxValue v, const char* field) {
    if (v != SaxValue::kString) {
      FieldProblem(field, "an ID");
      return std::nullopt;
    }
    auto id = Id::FromHex(text_);
    if (!id) {
      FieldProblem(field, "an ID of 64 hex digits");
      return std::nullopt;
    }
    return *id;
  }

  // A problem with the node being read, named by its place in the tree.
  void NodeProblem(const Error& e) {
    Problem(e.WithContext("tree node " + std::to_string(tree_.nodes.size())).Message());
  }

  Tree tree_;
  bool nodes_seen_ = false;
  // The node being read.
  Node node_;
  std::string quoted_name_, type_name_;
  std::optional<Bytes> linktarget_raw_;
  bool generic_pending_ = false;
};

}  // namespace

Result<Tree> DecodeTree(std::string_view json) { return TreeReader().Read(json); }

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
