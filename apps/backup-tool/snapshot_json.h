// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/json.h"
#include "engine/snapshots.h"

namespace halley::cli {

// A snapshot as `snapshots --json` prints it: the stored fields plus "id" and "short_id".
OrderedJson SnapshotJson(const engine::SnapshotEntry& e);
// "a, b" for display.
std::string JoinComma(const std::vector<std::string>& v);

}  // namespace halley::cli
