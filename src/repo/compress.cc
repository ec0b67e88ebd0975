// SPDX-License-Identifier: Apache-2.0
#include "repo/compress.h"

#include <zstd.h>

#include <cstring>
#include <memory>

namespace halley::repo {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  HALLEY_CHECK(ctx != nullptr);
  return ctx.get();
}

// This thread's context, set up for one frame as the format wants it.
ZSTD_CCtx* FrameCCtx(int level) {
  ZSTD_CCtx* c = ThreadCCtx();
  ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
  return c;
}

ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  HALLEY_CHECK(ctx != nullptr);
  return ctx.get();
}

Error ZstdError(const char* what, size_t code) {
  return Error(ErrorCode::kCorruption, std::string(what) + ": " + ZSTD_getErrorName(code));
}

}  // namespace

size_t CompressBound(size_t size) { return ZSTD_compressBound(size); }

size_t CompressInto(ByteView data, int level, MutableByteView out) {
  HALLEY_CHECK(out.size() >= ZSTD_compressBound(data.size()));
  ZSTD_CCtx* c = FrameCCtx(level);
  size_t n = ZSTD_compress2(c, out.data(), out.size(), data.data(), data.size());
  HALLEY_CHECK(!ZSTD_isError(n));  // cannot fail with a compressBound-sized buffer
  return n;
}

void CompressTo(ByteView data, int level, Bytes& out) {
  // Streamed into `out` as it grows. A CompressBound-sized buffer, which resize fills with
  // zeros, would be resident at the input's full size: for index files of tens of megabytes
  // of JSON that shrink to a fraction of it, that doubled what saving one held.
  ZSTD_CCtx* c = FrameCCtx(level);
  HALLEY_CHECK(!ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(c, data.size())));
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  const size_t slice = ZSTD_CStreamOutSize();
  size_t left;
  do {
    const size_t pos = out.size();
    out.resize(pos + slice);
    ZSTD_outBuffer o{out.data() + pos, slice, 0};
    left = ZSTD_compressStream2(c, &o, &in, ZSTD_e_end);
    HALLEY_CHECK(!ZSTD_isError(left));  // only misuse fails: the output always has room
    out.resize(pos + o.pos);
  } while (left != 0);
}

bool DecompressesTo(ByteView frame, ByteView expected) {
  ZSTD_DCtx* d = ThreadDCtx();
  ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
  uint8_t slice[64 << 10];
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  size_t done = 0;
  while (true) {
    ZSTD_outBuffer o{slice, sizeof slice, 0};
    size_t r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r)) return false;
    if (o.pos > expected.size() - done) return false;
    // memcmp must not see the null data() of an empty span, even for 0 bytes.
    if (o.pos > 0 && std::memcmp(slice, expected.data() + done, o.pos) != 0) return false;
    done += o.pos;
    if (r == 0) break;                                  // frame complete
    if (in.pos == in.size && o.pos == 0) return false;  // truncated
  }
  return done == expected.size() && in.pos == in.size;
}

Bytes Compress(ByteView data, int level) {
  Bytes out;
  CompressTo(data, level, out);
  return out;
}

Result<void> DecompressExactTo(ByteView frame, MutableByteView out) {
  size_t n = ZSTD_decompressDCtx(ThreadDCtx(), out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) return Fail(ZstdError("decompressing", n));
  if (n != out.size()) {
    return Fail(ErrorCode::kCorruption, "decompressed size " + std::to_string(n) +
                                            " differs from the expected " +
                                            std::to_string(out.size()));
  }
  return {};
}

Result<Bytes> DecompressExact(ByteView frame, size_t expected_size) {
  Bytes out(expected_size);
  HALLEY_RETURN_IF_ERROR(DecompressExactTo(frame, out));
  return out;
}

std::optional<uint64_t> FrameContentSize(ByteView frame) {
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return std::nullopt;
  return size;
}

Result<Bytes> DecompressBounded(ByteView frame, size_t max_size) {
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return Fail(ErrorCode::kCorruption, "not a zstd frame");
  if (size != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (size > max_size) return Fail(ErrorCode::kCorruption, "decompressed size exceeds the limit");
    return DecompressExact(frame, static_cast<size_t>(size));
  }
  // Streaming decode for frames without a recorded size, bounded by max_size.
  ZSTD_DCtx* d = ThreadDCtx();
  ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
  Bytes out;
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  while (true) {
    size_t old = out.size();
    if (old >= max_size) return Fail(ErrorCode::kCorruption, "decompressed size exceeds the limit");
    out.resize(std::min(max_size, old + (size_t{1} << 20)));
    ZSTD_outBuffer o{out.data(), out.size(), old};
    size_t r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r)) return Fail(ZstdError("decompressing", r));
    out.resize(o.pos);
    if (r == 0) break;
    if (in.pos == in.size && o.pos < o.size) {
      return Fail(ErrorCode::kCorruption, "truncated zstd frame");
    }
  }
  if (in.pos != in.size) return Fail(ErrorCode::kCorruption, "trailing data after zstd frame");
  return out;
}

}  // namespace halley::repo
