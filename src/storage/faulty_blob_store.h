// SPDX-License-Identifier: Apache-2.0
//
// FaultyBlobStore decorates another BlobStore with injected faults, for tests of the engine's
// error handling, verification and check. With no faults set it is a transparent pass-through
// (it runs the conformance suite as such).
//
// Faults may be added and cleared at any time, from any thread. A fault applies to the calls
// that match it: one method, optionally one ObjectType (for List, its type argument; Create
// has no type and matches only faults without one). `nth` counts matching calls made after the
// fault was added: 1 fires on the next one, 3 on the third; 0 fires on every matching call
// until ClearFaults(). A one-shot fault fires once and is gone. When several faults fire on
// the same call the one added first wins and the others stay armed for the next matching call.
//
// Ownership: constructed from a BlobStore& it does not own the inner store (which must then
// outlive it); constructed from a BlobStorePtr it owns it.
//
// Thread-safe: one mutex guards the faults, counters and random generators; it is never held
// while calling the inner store, so concurrency reaches the inner store unchanged.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "storage/blob_store.h"

namespace halley::storage {

class FaultyBlobStore final : public BlobStore {
 public:
  enum class Method { kCreate, kPut, kGet, kStat, kList, kRemove };
  static constexpr size_t kMethodCount = 6;

  struct CallFault {
    Method method = Method::kPut;
    uint64_t nth = 1;
    std::optional<ObjectType> type = std::nullopt;
    ErrorCode code = ErrorCode::kIoError;
    // false: the call fails without reaching the inner store (a Put stores nothing).
    // true: the call is made and only its answer is replaced by the error, as when a network
    // drops the reply to a Put that the server did store.
    bool lost_reply = false;
  };

  explicit FaultyBlobStore(BlobStore& inner) : inner_(inner) {}
  explicit FaultyBlobStore(BlobStorePtr inner);

  BlobStore& Inner() { return inner_; }

  // The matching call fails with fault.code (see CallFault).
  void AddFault(const CallFault& fault);

  // The matching Put "crashes" the process: it stores nothing and returns kCancelled, and so
  // does every later call of any method until Restart() or ClearFaults(). Models a backup
  // killed mid-upload; the test then inspects Inner() as the next run would find it.
  void CrashOnPut(uint64_t nth, std::optional<ObjectType> type = std::nullopt);
  bool Crashed() const;
  void Restart();

  // The matching non-empty Put stores the data with one bit flipped (position from a
  // generator seeded with a constant, so runs repeat) and reports success. Empty Puts do not
  // match: there is no bit to flip.
  void CorruptPut(uint64_t nth, std::optional<ObjectType> type = std::nullopt);
  // The handles stored corrupted so far, in order.
  std::vector<ObjectHandle> CorruptedObjects() const;

  // From now on each successful non-empty Get (of `type`, or of any type if unset) has one
  // random bit of its result flipped with `probability`, drawn from a generator seeded with
  // `seed`; the stored object stays intact. Probability 0 turns this off.
  void SetGetBitFlips(double probability, uint64_t seed,
                      std::optional<ObjectType> type = std::nullopt);
  // How many Get results have been flipped so far.
  uint64_t GetBitFlipCount() const;

  // Removes every fault (including Get bit flips) and restarts a crashed store. Counters
  // and CorruptedObjects() are kept.
  void ClearFaults();

  // Calls of `method` so far, whether they succeeded, failed or were refused.
  uint64_t Calls(Method method) const;
  void ResetCounters();

  // BlobStore
  std::string Location() const override;
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;
  Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) override;
  Result<uint64_t> Stat(const ObjectHandle& h) override;
  Result<void> List(ObjectType type, const ListCallback& fn) override;
  Result<void> Remove(const ObjectHandle& h) override;

 private:
  enum class Action { kNone, kFail, kCrash, kCorrupt };
  struct Fault {
    Action action;
    Method method;
    std::optional<ObjectType> type = std::nullopt;
    uint64_t nth;
    ErrorCode code;
    bool lost_reply;
    uint64_t seen = 0;  // matching calls since the fault was added
  };
  struct Decision {
    Action action = Action::kNone;
    ErrorCode code = ErrorCode::kUnknown;
    bool lost_reply = false;
    uint64_t flip_bit = 0;  // kCorrupt only
  };

  // Counts the call and decides which fault, if any, it meets. `size` is the Put's data size.
  Decision Decide(Method method, std::optional<ObjectType> type, uint64_t size = 0);
  static Error Injected(const Decision& d, Method method, const std::string& what);
  void MaybeFlipGet(ObjectType type, Bytes& data);

  BlobStorePtr owned_;  // set only when constructed from a BlobStorePtr
  BlobStore& inner_;

  mutable std::mutex mutex_;
  // Guarded by mutex_:
  std::vector<Fault> faults_;
  bool crashed_ = false;
  std::array<uint64_t, kMethodCount> calls_{};
  std::vector<ObjectHandle> corrupted_;
  std::mt19937_64 corrupt_rng_{0x5eed};
  double get_flip_probability_ = 0;
  std::optional<ObjectType> get_flip_type_;
  std::mt19937_64 get_flip_rng_;
  uint64_t get_flips_ = 0;
};

}  // namespace halley::storage
