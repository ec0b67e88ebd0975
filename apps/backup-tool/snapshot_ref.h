// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace halley::cli {

// "latest", "1a2b3c4d" or "1a2b3c4d:/some/path" (restic's SNAPSHOT:PATH form).
struct SnapshotRef {
  std::string id;
  std::string path;  // empty if none given
};

inline SnapshotRef ParseSnapshotRef(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return {text, ""};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace halley::cli
