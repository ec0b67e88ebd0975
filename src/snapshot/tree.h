// SPDX-License-Identifier: Apache-2.0
//
// Tree blobs: a directory's nodes as restic's JSON, byte for byte. Tree blobs are named by the
// SHA-256 of these bytes, so identical directories deduplicate with restic only if EncodeTree
// produces exactly what restic 0.14+ would (compact encoding/json output in Go struct field
// order with its omitempty rules, HTML-safe strings, Go-quoted names, RFC3339Nano times, and a
// trailing newline), and restic 0.14 must read what we write.
//
// Decoding is as lenient as restic where restic is lenient (unknown keys, top-level or in a
// node, are ignored; null or absent members keep their zero value, absent times being Go's zero
// time 0001-01-01T00:00:00Z; a member given twice is read twice, in order) and strict where it
// matters to us: a node needs a non-empty name and a known type, and names must be strictly
// increasing. Member names are matched exactly (Go would also match them case-insensitively;
// restic never writes them so). Names are not checked for "/", "." or ".."; the restorer must
// treat them as hostile.
//
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "snapshot/node.h"

namespace halley::snapshot {

struct Tree {
  std::vector<Node> nodes;  // sorted by name, strictly increasing bytewise

  bool operator==(const Tree&) const = default;
};

// Returns `{"nodes":[...]}` + "\n". kInvalidArgument if a name is empty or the names are not
// strictly increasing, or if a node's generic_attributes is neither an object nor null.
Result<std::string> EncodeTree(const Tree& tree);

// Parses a tree blob. kCorruption for malformed JSON (or JSON over the base/json.h limits), a
// missing "nodes" array, a member of the wrong type or out of range, an unknown node type, a
// name that is empty or not a valid Go-quoted string, and names not strictly increasing.
Result<Tree> DecodeTree(std::string_view json);

// The blobs a tree references: all that walks over the tree graph (prune, copy, packindex
// files) need, read without decoding the nodes, several times faster than DecodeTree.
struct TreeBlobs {
  std::vector<Id> subtrees;  // of the directory nodes, in order
  std::vector<Id> content;   // the data blobs of every node, in order
};
// kCorruption for malformed JSON (or over the limits), a missing "nodes" array, a node that is
// not an object, has no name or an unknown type, and a "content" or "subtree" that is not IDs.
Result<TreeBlobs> DecodeTreeBlobs(std::string_view json);

}  // namespace halley::snapshot
