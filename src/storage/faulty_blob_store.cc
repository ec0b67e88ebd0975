// SPDX-License-Identifier: Apache-2.0
#include "storage/faulty_blob_store.h"

#include <utility>

namespace halley::storage {
namespace {

const char* MethodName(FaultyBlobStore::Method method) {
  switch (method) {
    case FaultyBlobStore::Method::kCreate:
      return "Create";
    case FaultyBlobStore::Method::kPut:
      return "Put";
    case FaultyBlobStore::Method::kGet:
      return "Get";
    case FaultyBlobStore::Method::kStat:
      return "Stat";
    case FaultyBlobStore::Method::kList:
      return "List";
    case FaultyBlobStore::Method::kRemove:
      return "Remove";
  }
  return "?";
}

BlobStore& NotNull(const BlobStorePtr& store) {
  HALLEY_CHECK(store != nullptr);
  return *store;
}

size_t Index(FaultyBlobStore::Method method) { return static_cast<size_t>(method); }

void FlipBit(Bytes& data, uint64_t bit) {
  data[static_cast<size_t>(bit / 8)] ^= static_cast<uint8_t>(1u << (bit % 8));
}

}  // namespace

FaultyBlobStore::FaultyBlobStore(BlobStorePtr inner)
    : owned_(std::move(inner)), inner_(NotNull(owned_)) {}

void FaultyBlobStore::AddFault(const CallFault& fault) {
  std::lock_guard lock(mutex_);
  faults_.push_back(
      Fault{Action::kFail, fault.method, fault.type, fault.nth, fault.code, fault.lost_reply});
}

void FaultyBlobStore::CrashOnPut(uint64_t nth, std::optional<ObjectType> type) {
  std::lock_guard lock(mutex_);
  faults_.push_back(Fault{Action::kCrash, Method::kPut, type, nth, ErrorCode::kCancelled, false});
}

bool FaultyBlobStore::Crashed() const {
  std::lock_guard lock(mutex_);
  return crashed_;
}

void FaultyBlobStore::Restart() {
  std::lock_guard lock(mutex_);
  crashed_ = false;
}

void FaultyBlobStore::CorruptPut(uint64_t nth, std::optional<ObjectType> type) {
  std::lock_guard lock(mutex_);
  faults_.push_back(Fault{Action::kCorrupt, Method::kPut, type, nth, ErrorCode::kUnknown, false});
}

std::vector<ObjectHandle> FaultyBlobStore::CorruptedObjects() const {
  std::lock_guard lock(mutex_);
  return corrupted_;
}

void FaultyBlobStore::SetGetBitFlips(double probability, uint64_t seed,
                                     std::optional<ObjectType> type) {
  std::lock_guard lock(mutex_);
  get_flip_probability_ = probability;
  get_flip_type_ = type;
  get_flip_rng_.seed(seed);
}

uint64_t FaultyBlobStore::GetBitFlipCount() const {
  std::lock_guard lock(mutex_);
  return get_flips_;
}

void FaultyBlobStore::ClearFaults() {
  std::lock_guard lock(mutex_);
  faults_.clear();
  crashed_ = false;
  get_flip_probability_ = 0;
}

uint64_t FaultyBlobStore::Calls(Method method) const {
  std::lock_guard lock(mutex_);
  return calls_[Index(method)];
}

void FaultyBlobStore::ResetCounters() {
  std::lock_guard lock(mutex_);
  calls_.fill(0);
}

FaultyBlobStore::Decision FaultyBlobStore::Decide(Method method, std::optional<ObjectType> type,
                                                  uint64_t size) {
  std::lock_guard lock(mutex_);
  ++calls_[Index(method)];
  Decision d;
  if (crashed_) {
    d.action = Action::kCrash;
    d.code = ErrorCode::kCancelled;
    return d;
  }
  auto fired = faults_.end();
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->method != method || (it->type && it->type != type)) continue;
    if (it->action == Action::kCorrupt && size == 0) continue;
    ++it->seen;
    // `>=` keeps a one-shot fault that lost to an earlier one armed for the next call.
    if (fired == faults_.end() && (it->nth == 0 || it->seen >= it->nth)) fired = it;
  }
  if (fired == faults_.end()) return d;
  d.action = fired->action;
  d.code = fired->code;
  d.lost_reply = fired->lost_reply;
  if (d.action == Action::kCrash) crashed_ = true;
  if (d.action == Action::kCorrupt) {
    d.flip_bit = std::uniform_int_distribution<uint64_t>(0, size * 8 - 1)(corrupt_rng_);
  }
  if (fired->nth != 0) faults_.erase(fired);
  return d;
}

Error FaultyBlobStore::Injected(const Decision& d, Method method, const std::string& what) {
  if (d.action == Action::kCrash) {
    return Error(ErrorCode::kCancelled,
                 std::string("simulated crash (") + MethodName(method) + " " + what + ")");
  }
  return Error(d.code, std::string("injected fault: ") + MethodName(method) + " " + what);
}

void FaultyBlobStore::MaybeFlipGet(ObjectType type, Bytes& data) {
  if (data.empty()) return;
  std::lock_guard lock(mutex_);
  if (get_flip_probability_ <= 0 || (get_flip_type_ && *get_flip_type_ != type)) return;
  if (std::uniform_real_distribution<double>(0, 1)(get_flip_rng_) >= get_flip_probability_) {
    return;
  }
  FlipBit(data, std::uniform_int_distribution<uint64_t>(0, data.size() * 8 - 1)(get_flip_rng_));
  ++get_flips_;
}

std::string FaultyBlobStore::Location() const { return "faulty:" + inner_.Location(); }

Result<void> FaultyBlobStore::Create() {
  const Decision d = Decide(Method::kCreate, std::nullopt);
  if (d.action == Action::kNone) return inner_.Create();
  if (d.lost_reply) (void)inner_.Create();
  return Fail(Injected(d, Method::kCreate, "store"));
}

Result<void> FaultyBlobStore::Put(const ObjectHandle& h, ByteView data) {
  const Decision d = Decide(Method::kPut, h.type, data.size());
  switch (d.action) {
    case Action::kNone:
      return inner_.Put(h, data);
    case Action::kCorrupt: {
      Bytes bad(data.begin(), data.end());
      FlipBit(bad, d.flip_bit);
      HALLEY_RETURN_IF_ERROR(inner_.Put(h, bad));
      std::lock_guard lock(mutex_);
      corrupted_.push_back(h);
      return {};
    }
    case Action::kFail:
      if (d.lost_reply) (void)inner_.Put(h, data);
      break;
    case Action::kCrash:
      break;
  }
  return Fail(Injected(d, Method::kPut, h.Path()));
}

Result<Bytes> FaultyBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  const Decision d = Decide(Method::kGet, h.type);
  if (d.action == Action::kNone) {
    HALLEY_ASSIGN_OR_RETURN(Bytes data, inner_.Get(h, offset, length));
    MaybeFlipGet(h.type, data);
    return data;
  }
  if (d.lost_reply) (void)inner_.Get(h, offset, length);
  return Fail(Injected(d, Method::kGet, h.Path()));
}

Result<uint64_t> FaultyBlobStore::Stat(const ObjectHandle& h) {
  const Decision d = Decide(Method::kStat, h.type);
  if (d.action == Action::kNone) return inner_.Stat(h);
  if (d.lost_reply) (void)inner_.Stat(h);
  return Fail(Injected(d, Method::kStat, h.Path()));
}

Result<void> FaultyBlobStore::List(ObjectType type, const ListCallback& fn) {
  const Decision d = Decide(Method::kList, type);
  if (d.action == Action::kNone) return inner_.List(type, fn);
  // A lost reply to a listing leaves nothing behind: there is nothing to do on the inner store.
  return Fail(Injected(d, Method::kList, std::string(ObjectTypeDir(type)) + "/"));
}

Result<void> FaultyBlobStore::Remove(const ObjectHandle& h) {
  const Decision d = Decide(Method::kRemove, h.type);
  if (d.action == Action::kNone) return inner_.Remove(h);
  if (d.lost_reply) (void)inner_.Remove(h);
  return Fail(Injected(d, Method::kRemove, h.Path()));
}

}  // namespace halley::storage
