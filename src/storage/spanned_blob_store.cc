// SPDX-License-Identifier: Apache-2.0
#include "storage/spanned_blob_store.h"

#include <algorithm>
#include <set>

namespace halley::storage {

Result<BlobStorePtr> SpannedBlobStore::Open(std::vector<Member> members) {
  if (members.empty()) return Fail(ErrorCode::kInvalidArgument, "a spanned store needs members");
  return BlobStorePtr(new SpannedBlobStore(std::move(members)));
}

std::string SpannedBlobStore::Location() const {
  std::string out = "span:";
  for (size_t i = 0; i < members_.size(); ++i) {
    out += (i ? "," : "") + members_[i].store->Location();
  }
  return out;
}

Result<void> SpannedBlobStore::Create() {
  // The config lives on one member; the others still get their layout.
  bool exists = false;
  for (auto& m : members_) {
    auto r = m.store->Create();
    if (!r && r.error().Code() != ErrorCode::kAlreadyExists) return r;
    exists = exists || !r;
  }
  if (exists) return Fail(ErrorCode::kAlreadyExists, "the spanned store holds a config already");
  return {};
}

BlobStore& SpannedBlobStore::Emptiest() {
  std::vector<uint64_t> free(members_.size());
  uint64_t most = 0;
  for (size_t i = 0; i < members_.size(); ++i) {
    free[i] = members_[i].free_bytes ? members_[i].free_bytes() : 0;
    most = std::max(most, free[i]);
  }
  // Members within 1% of the most free space take new objects in turn, so volumes that share
  // a filesystem, or are equally empty, fill evenly instead of one after the other.
  const size_t start = next_.fetch_add(1, std::memory_order_relaxed);
  for (size_t k = 0; k < members_.size(); ++k) {
    const size_t i = (start + k) % members_.size();
    if (free[i] >= most - most / 100) return *members_[i].store;
  }
  return *members_[0].store;
}

Result<void> SpannedBlobStore::CheckAbsent(const ObjectHandle& h) {
  for (auto& m : members_) {
    auto size = m.store->Stat(h);
    if (size) return Fail(ErrorCode::kAlreadyExists, h.Path() + " already exists");
    if (size.error().Code() != ErrorCode::kNotFound) return Fail(size.error());
  }
  return {};
}

Result<void> SpannedBlobStore::Put(const ObjectHandle& h, ByteView data) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  std::lock_guard lock(CommitLock(h));
  HALLEY_RETURN_IF_ERROR(CheckAbsent(h));
  return Emptiest().Put(h, data);
}

namespace {

// Streams to the emptiest member and checks the other members at commit.
class SpannedWriter final : public ObjectWriter {
 public:
  using CommitFn = std::function<Result<void>(ObjectWriter&, const ObjectHandle&)>;
  SpannedWriter(std::unique_ptr<ObjectWriter> inner, CommitFn commit)
      : inner_(std::move(inner)), commit_(std::move(commit)) {}
  Result<void> Write(ByteView data) override { return inner_->Write(data); }
  Result<void> Commit(const ObjectHandle& h) override { return commit_(*inner_, h); }

 private:
  std::unique_ptr<ObjectWriter> inner_;
  CommitFn commit_;
};

}  // namespace

Result<std::unique_ptr<ObjectWriter>> SpannedBlobStore::NewWriter(ObjectType type,
                                                                  size_t size_hint) {
  HALLEY_ASSIGN_OR_RETURN(auto inner, Emptiest().NewWriter(type, size_hint));
  return std::unique_ptr<ObjectWriter>(std::make_unique<SpannedWriter>(
      std::move(inner), [this](ObjectWriter& w, const ObjectHandle& h) -> Result<void> {
        HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
        std::lock_guard lock(CommitLock(h));
        HALLEY_RETURN_IF_ERROR(CheckAbsent(h));
        return w.Commit(h);
      }));
}

template <class T, class Op>
Result<T> SpannedBlobStore::FirstFound(const ObjectHandle& h, Op op) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (auto& m : members_) {
      Result<T> r = op(*m.store);
      if (r || r.error().Code() != ErrorCode::kNotFound) return r;
    }
  }
  return Fail(ErrorCode::kNotFound,
              h.Path() + " not found on any of " + std::to_string(members_.size()) + " volumes");
}

Result<Bytes> SpannedBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  return FirstFound<Bytes>(h, [&](BlobStore& s) { return s.Get(h, offset, length); });
}

Result<void> SpannedBlobStore::ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) {
  return FirstFound<void>(h, [&](BlobStore& s) { return s.ReadAt(h, offset, out); });
}

Result<uint64_t> SpannedBlobStore::Stat(const ObjectHandle& h) {
  return FirstFound<uint64_t>(h, [&](BlobStore& s) { return s.Stat(h); });
}

Result<void> SpannedBlobStore::List(ObjectType type, const ListCallback& fn) {
  std::set<std::string> seen;
  for (auto& m : members_) {
    HALLEY_RETURN_IF_ERROR(m.store->List(type, [&](const ObjectInfo& info) -> Result<void> {
      if (!seen.insert(info.name).second) return {};
      return fn(info);
    }));
  }
  return {};
}

Result<void> SpannedBlobStore::Remove(const ObjectHandle& h) {
  HALLEY_RETURN_IF_ERROR(ValidateHandle(h));
  for (auto& m : members_) HALLEY_RETURN_IF_ERROR(m.store->Remove(h));
  return {};
}

Result<size_t> SpannedBlobStore::RemoveStaleTemporaries(std::chrono::seconds min_age) {
  size_t removed = 0;
  for (auto& m : members_) {
    HALLEY_ASSIGN_OR_RETURN(size_t n, m.store->RemoveStaleTemporaries(min_age));
    removed += n;
  }
  return removed;
}

}  // namespace halley::storage
