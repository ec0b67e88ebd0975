// SPDX-License-Identifier: Apache-2.0
#include "storage/mem_blob_store.h"

#include <string>
#include <utility>
#include <vector>

namespace halley::storage {
namespace {

size_t Index(ObjectType type) { return static_cast<size_t>(type); }

}  // namespace

Result<void> MemBlobStore::Create() {
  std::lock_guard lock(mutex_);
  if (objects_[Index(ObjectType::kConfig)].contains("config")) {
    return Fail(ErrorCode::kAlreadyExists, "mem: config exists: there is a vault here already");
  }
  return {};
}

Result<void> MemBlobStore::Put(const ObjectHandle& h, ByteView data) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  // Copy before taking the lock: a 16 MiB pack should not stall other threads.
  auto object = std::make_shared<const Bytes>(data.begin(), data.end());
  std::lock_guard lock(mutex_);
  auto [it, inserted] = objects_[Index(h.type)].try_emplace(h.name, std::move(object));
  if (!inserted) return Fail(ErrorCode::kAlreadyExists, "mem:" + h.Path() + ": already exists");
  return {};
}

Result<MemBlobStore::Object> MemBlobStore::Find(const ObjectHandle& h) const {
  std::lock_guard lock(mutex_);
  const auto& objects = objects_[Index(h.type)];
  auto it = objects.find(h.name);
  if (it == objects.end()) return Fail(ErrorCode::kNotFound, "mem:" + h.Path() + ": not found");
  return it->second;
}

Result<Bytes> MemBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(Object object, Find(h));
  const uint64_t size = object->size();
  if (offset > size || (length != 0 && length > size - offset)) {
    return Fail(ErrorCode::kCorruption, "mem:" + h.Path() + ": read of " + std::to_string(length) +
                                            " bytes at offset " + std::to_string(offset) +
                                            " beyond the end (size " + std::to_string(size) + ")");
  }
  if (length == 0) length = size - offset;
  const auto begin = object->begin() + static_cast<std::ptrdiff_t>(offset);
  return Bytes(begin, begin + static_cast<std::ptrdiff_t>(length));
}

Result<uint64_t> MemBlobStore::Stat(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  HALLEY_ASSIGN_OR_RETURN(Object object, Find(h));
  return static_cast<uint64_t>(object->size());
}

Result<void> MemBlobStore::List(ObjectType type, const ListCallback& fn) {
  std::vector<ObjectInfo> infos;
  {
    std::lock_guard lock(mutex_);
    const auto& objects = objects_[Index(type)];
    infos.reserve(objects.size());
    for (const auto& [name, object] : objects) infos.push_back({name, object->size()});
  }
  for (const ObjectInfo& info : infos) HALLEY_RETURN_IF_ERROR(fn(info));
  return {};
}

Result<void> MemBlobStore::Remove(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  std::lock_guard lock(mutex_);
  objects_[Index(h.type)].erase(h.name);
  return {};
}

}  // namespace halley::storage
