// SPDX-License-Identifier: Apache-2.0
#include "repo/pack.h"

#include <algorithm>

#include "crypto/hash.h"

namespace halley::repo {

std::string_view BlobTypeName(BlobType t) { return t == BlobType::kTree ? "tree" : "data"; }

uint64_t PackSize(const std::vector<PackedBlob>& blobs) {
  uint64_t size = crypto::kSealOverhead + 4;
  for (const auto& b : blobs) {
    size += b.length + (b.Compressed() ? kCompressedHeaderEntrySize : kHeaderEntrySize);
  }
  return size;
}

PackWriter::PackWriter(BlobType type, std::unique_ptr<storage::ObjectWriter> out)
    : type_(type), out_(std::move(out)) {}

Result<void> PackWriter::FlushBuffer() {
  if (buffer_.empty()) return {};
  HALLEY_RETURN_IF_ERROR(out_->Write(buffer_));
  buffer_.clear();
  return {};
}

Result<void> PackWriter::Write(ByteView data) {
  hash_.Update(data);
  if (buffer_.size() + data.size() > kWriteBuffer) HALLEY_RETURN_IF_ERROR(FlushBuffer());
  if (data.size() >= kWriteBuffer) return out_->Write(data);
  if (buffer_.capacity() < kWriteBuffer) buffer_.reserve(kWriteBuffer);
  Append(buffer_, data);
  return {};
}

Result<void> PackWriter::Add(const Id& id, ByteView sealed, uint32_t uncompressed_length) {
  if (size_ + sealed.size() > UINT32_MAX) {
    return Fail(ErrorCode::kInvalidArgument, "pack would exceed 4 GiB");
  }
  HALLEY_RETURN_IF_ERROR(Write(sealed));
  PackedBlob b;
  b.type = type_;
  b.id = id;
  b.offset = static_cast<uint32_t>(size_);
  b.length = static_cast<uint32_t>(sealed.size());
  b.uncompressed_length = uncompressed_length;
  size_ += sealed.size();
  blobs_.push_back(b);
  return {};
}

Result<PackWriter::Finished> PackWriter::Finish(const crypto::Key& key) {
  HALLEY_CHECK(!blobs_.empty());
  Bytes header;
  header.reserve(blobs_.size() * kCompressedHeaderEntrySize);
  for (const auto& b : blobs_) {
    uint8_t entry[kCompressedHeaderEntrySize];
    size_t n = 0;
    entry[n++] = static_cast<uint8_t>(static_cast<uint8_t>(b.type) + (b.Compressed() ? 2 : 0));
    PutU32Le(entry + n, b.length);
    n += 4;
    if (b.Compressed()) {
      PutU32Le(entry + n, b.uncompressed_length);
      n += 4;
    }
    std::copy(b.id.bytes.begin(), b.id.bytes.end(), entry + n);
    n += 32;
    header.insert(header.end(), entry, entry + n);
  }
  Bytes tail(header.size() + crypto::kSealOverhead + 4);
  crypto::SealTo(key, header, tail.data());
  // Verify before anyone can reference this pack (reliability.md: bad RAM happens).
  if (!crypto::OpensTo(key, ByteView(tail).first(tail.size() - 4), header)) {
    return Fail(ErrorCode::kCorruption, "detected data corruption while sealing a pack header");
  }
  PutU32Le(tail.data() + tail.size() - 4,
           static_cast<uint32_t>(header.size() + crypto::kSealOverhead));
  HALLEY_RETURN_IF_ERROR(Write(tail));
  HALLEY_RETURN_IF_ERROR(FlushBuffer());
  Finished f;
  f.id = hash_.Finish();
  f.size = size_ + tail.size();
  f.blobs = std::move(blobs_);
  f.out = std::move(out_);
  blobs_.clear();
  size_ = 0;
  return f;
}

Result<std::vector<PackedBlob>> ParsePackHeader(ByteView p) {
  std::vector<PackedBlob> blobs;
  uint64_t offset = 0;
  size_t i = 0;
  while (i < p.size()) {
    uint8_t t = p[i];
    if (t > 3) {
      return Fail(ErrorCode::kCorruption,
                  "invalid blob type " + std::to_string(t) + " in pack header");
    }
    bool compressed = t >= 2;
    size_t entry = compressed ? kCompressedHeaderEntrySize : kHeaderEntrySize;
    if (i + entry > p.size()) return Fail(ErrorCode::kCorruption, "truncated pack header entry");
    PackedBlob b;
    b.type = static_cast<BlobType>(t & 1);
    b.length = GetU32Le(&p[i + 1]);
    size_t id_at = i + 5;
    if (compressed) {
      b.uncompressed_length = GetU32Le(&p[i + 5]);
      id_at += 4;
    }
    b.id = Id::FromBytes(p.subspan(id_at, 32));
    if (offset > UINT32_MAX) return Fail(ErrorCode::kCorruption, "pack header offsets overflow");
    b.offset = static_cast<uint32_t>(offset);
    if (b.length < crypto::kSealOverhead) {
      return Fail(ErrorCode::kCorruption, "blob " + b.id.Short() + " in pack header is too short");
    }
    offset += b.length;
    blobs.push_back(b);
    i += entry;
  }
  if (blobs.empty()) return Fail(ErrorCode::kCorruption, "empty pack header");
  return blobs;
}

namespace {

Result<std::vector<PackedBlob>> OpenHeader(const crypto::Key& key, ByteView sealed_header,
                                           uint64_t pack_size) {
  HALLEY_ASSIGN_OR_RETURN(Bytes plain, crypto::Open(key, sealed_header));
  HALLEY_ASSIGN_OR_RETURN(auto blobs, ParsePackHeader(plain));
  uint64_t data_end = pack_size - 4 - sealed_header.size();
  const auto& last = blobs.back();
  if (static_cast<uint64_t>(last.offset) + last.length != data_end) {
    return Fail(ErrorCode::kCorruption,
                "pack header describes " + std::to_string(last.offset + uint64_t{last.length}) +
                    " bytes of blobs, pack holds " + std::to_string(data_end));
  }
  return blobs;
}

Result<uint32_t> HeaderLength(ByteView tail4, uint64_t pack_size) {
  uint32_t n = GetU32Le(tail4.data());
  if (n < crypto::kSealOverhead + kHeaderEntrySize || n > kMaxHeaderSize || n > pack_size - 4) {
    return Fail(ErrorCode::kCorruption, "invalid pack header length " + std::to_string(n));
  }
  return n;
}

constexpr uint64_t kMinPackSize = kHeaderEntrySize + crypto::kSealOverhead * 2 + 4;

}  // namespace

Result<std::vector<PackedBlob>> ParsePack(const crypto::Key& key, ByteView pack) {
  if (pack.size() < kMinPackSize) {
    return Fail(ErrorCode::kCorruption,
                "pack of " + std::to_string(pack.size()) + " bytes is too short");
  }
  HALLEY_ASSIGN_OR_RETURN(uint32_t n, HeaderLength(pack.last(4), pack.size()));
  return OpenHeader(key, pack.subspan(pack.size() - 4 - n, n), pack.size());
}

Result<std::vector<PackedBlob>> LoadPackHeader(storage::BlobStore& store, const crypto::Key& key,
                                               const Id& id, uint64_t size) {
  if (size < kMinPackSize) {
    return Fail(ErrorCode::kCorruption, "pack of " + std::to_string(size) + " bytes is too short");
  }
  storage::ObjectHandle h{storage::ObjectType::kData, id.Hex()};
  // One read usually covers the header of a small pack (restic reads 15*41+36 bytes first).
  uint64_t guess = std::min<uint64_t>(size, 15 * kCompressedHeaderEntrySize + 36);
  HALLEY_ASSIGN_OR_RETURN(Bytes tail, store.Get(h, size - guess, guess));
  HALLEY_ASSIGN_OR_RETURN(uint32_t n, HeaderLength(ByteView(tail).last(4), size));
  if (uint64_t{n} + 4 > tail.size()) {
    HALLEY_ASSIGN_OR_RETURN(tail, store.Get(h, size - 4 - n, uint64_t{n} + 4));
  }
  ByteView sealed = ByteView(tail).subspan(tail.size() - 4 - n, n);
  return OpenHeader(key, sealed, size);
}

}  // namespace halley::repo
