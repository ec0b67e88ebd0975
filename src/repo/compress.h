// SPDX-License-Identifier: Apache-2.0
//
// zstd compression as repository format v2 uses it: one frame per blob or unpacked file, no
// checksum (the MAC and the blob ID already authenticate the plaintext), frame content size
// recorded. Thread-safe: each thread keeps its own (de)compression context.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/error.h"

namespace halley::repo {

inline constexpr int kDefaultCompressionLevel = 3;  // what restic's "auto" corresponds to

// Appends the compressed form of `data` to `out`.
void CompressTo(ByteView data, int level, Bytes& out);
// Writes the compressed form of `data` into `out`, which must hold at least
// CompressBound(data.size()) bytes; returns its length. Allocates nothing (hot path).
size_t CompressBound(size_t size);
size_t CompressInto(ByteView data, int level, MutableByteView out);
Bytes Compress(ByteView data, int level = kDefaultCompressionLevel);

// Decompresses a frame whose plaintext is exactly `expected_size` bytes (a blob's
// uncompressed_length). kCorruption if the frame is invalid or the size differs.
Result<Bytes> DecompressExact(ByteView frame, size_t expected_size);
Result<void> DecompressExactTo(ByteView frame, MutableByteView out);

// Whether `frame` decompresses to exactly `expected`, checked in small slices without
// materialising the plaintext (verification before upload).
bool DecompressesTo(ByteView frame, ByteView expected);

// The plaintext size a frame records in its header, if it does.
std::optional<uint64_t> FrameContentSize(ByteView frame);

// Decompresses a frame of unknown size (unpacked files), refusing more than `max_size` bytes.
Result<Bytes> DecompressBounded(ByteView frame, size_t max_size);

}  // namespace halley::repo
