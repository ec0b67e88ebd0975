// SPDX-License-Identifier: Apache-2.0
#include "storage/blob_store.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "base/encoding.h"

namespace halley::storage {

std::string_view ObjectTypeDir(ObjectType type) {
  switch (type) {
    case ObjectType::kConfig:
      return "";
    case ObjectType::kData:
      return "data";
    case ObjectType::kKey:
      return "keys";
    case ObjectType::kLock:
      return "locks";
    case ObjectType::kSnapshot:
      return "snapshots";
    case ObjectType::kIndex:
      return "index";
    case ObjectType::kPackIndex:
      return "packindex";
  }
  return "";
}

std::string ObjectHandle::Path() const {
  if (type == ObjectType::kConfig) return "config";
  std::string p(ObjectTypeDir(type));
  p.push_back('/');
  if (type == ObjectType::kData && name.size() >= 2) p.append(name, 0, 2).push_back('/');
  p.append(name);
  return p;
}

namespace {
bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
}  // namespace

bool IsObjectName(std::string_view s) { return s.size() == 64 && IsLowerHex(s); }
bool IsShardName(std::string_view s) { return s.size() == 2 && IsLowerHex(s); }

std::string TempName() {
  static std::atomic<uint64_t> counter{0};
  uint64_t r = 0;
  if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r)) {
    // Exclusive creation makes uniqueness a matter of retries, not correctness; any varying
    // value will do.
    r = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (counter.fetch_add(1) << 40) ^ static_cast<uint64_t>(::getpid());
  }
  uint8_t bytes[sizeof r];
  for (size_t i = 0; i < sizeof r; ++i) bytes[i] = static_cast<uint8_t>(r >> (8 * i));
  return ".tmp-" + HexEncode(bytes);
}

Result<void> ValidateHandle(const ObjectHandle& h) {
  if (h.type == ObjectType::kConfig) {
    if (h.name != "config") return Fail(ErrorCode::kInvalidArgument, "config must be named config");
    return {};
  }
  if (!IsObjectName(h.name)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid object name \"" + h.name.substr(0, 80) +
                                                 "\" in " + std::string(ObjectTypeDir(h.type)) +
                                                 "/");
  }
  return {};
}

Result<void> BufferedObjectWriter::Write(ByteView data) {
  Append(data_, data);
  return {};
}

Result<void> BufferedObjectWriter::Commit(const ObjectHandle& h) { return store_.Put(h, data_); }

Result<void> BlobStore::ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) {
  if (out.empty()) return {};
  HALLEY_ASSIGN_OR_RETURN(Bytes data, Get(h, offset, out.size()));
  if (data.size() != out.size()) return Fail(ErrorCode::kCorruption, h.Path() + ": short read");
  std::copy(data.begin(), data.end(), out.begin());
  return {};
}

Result<size_t> BlobStore::RemoveStaleTemporaries(std::chrono::seconds) { return size_t{0}; }

Result<std::unique_ptr<ObjectWriter>> BlobStore::NewWriter(ObjectType, size_t size_hint) {
  return std::unique_ptr<ObjectWriter>(new BufferedObjectWriter(*this, size_hint));
}

}  // namespace halley::storage
