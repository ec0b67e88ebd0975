// SPDX-License-Identifier: Apache-2.0
//
// Packindex files (`packindex/<id>`, a Halley addition restic ignores): for one snapshot, the
// set of packs holding its blobs, so that a retention pass finds deletable packs without walking
// every tree. Written after the snapshot it describes; a missing packindex only makes retention
// slower (the spec: "not a significant problem").
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "base/id.h"

namespace halley::repo {

struct PackIndex {
  Id snapshot;
  std::vector<Id> packs;  // sorted, unique
};

std::string EncodePackIndex(const PackIndex& p);
Result<PackIndex> DecodePackIndex(std::string_view json);

}  // namespace halley::repo
