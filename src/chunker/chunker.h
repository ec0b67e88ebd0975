// SPDX-License-Identifier: Apache-2.0
//
// Content-defined chunking: a Chunker finds where one chunk ends and the next begins, from the
// content alone, so that an insertion in a file moves only the boundaries next to it and every
// other chunk deduplicates against the previous backup. Two algorithms implement it:
// RabinChunker (rabin.h, restic's chunker, for vaults restic created) and GearChunker (gear.h,
// Halley's faster keyed chunker for new vaults). docs/chunker.md specifies both bit for bit.
//
// A Chunker is a small state machine over a stream of bytes: the caller reads a file in buffers
// of any size and feeds them to FindBoundary() in order; the cuts do not depend on how the file
// was split into buffers. Nothing here fails: every byte sequence has a chunking. A Chunker is
// not thread-safe (it carries the state of one stream); use one per concurrently chunked file.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "base/bytes.h"

namespace halley::chunker {

class Chunker {
 public:
  virtual ~Chunker() = default;

  // Starts a new file (a chunk never spans files).
  virtual void Reset() = 0;

  // Scans `data`, the bytes that follow everything scanned since the last boundary. Returns the
  // number of leading bytes of `data` that complete the current chunk (the chunker then starts a
  // new chunk right after them), or std::nullopt if all of `data` belongs to the current chunk.
  // A returned count is in [1, data.size()]; the caller passes the rest of `data` next.
  // At end of file the caller emits whatever is left as the last chunk.
  virtual std::optional<size_t> FindBoundary(ByteView data) = 0;

  // Every chunk but the last of a file is at least MinSize() and at most MaxSize() bytes; the
  // last one is at most MaxSize() bytes.
  virtual size_t MinSize() const = 0;
  virtual size_t MaxSize() const = 0;
};

// Convenience for tests and small inputs: Reset()s `chunker`, then returns the lengths of the
// chunks of the whole buffer `data`, the last chunk included (none for an empty buffer). The
// lengths sum to data.size().
std::vector<size_t> SplitAll(Chunker& chunker, ByteView data);

}  // namespace halley::chunker
