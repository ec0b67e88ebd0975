// SPDX-License-Identifier: Apache-2.0
#include "chunker/chunker.h"

#include "base/error.h"

namespace halley::chunker {

std::vector<size_t> SplitAll(Chunker& chunker, ByteView data) {
  chunker.Reset();
  std::vector<size_t> lengths;
  while (!data.empty()) {
    const std::optional<size_t> cut = chunker.FindBoundary(data);
    const size_t length = cut.value_or(data.size());
    HALLEY_CHECK(length >= 1 && length <= data.size());
    lengths.push_back(length);
    data = data.subspan(length);
  }
  chunker.Reset();
  return lengths;
}

}  // namespace halley::chunker
