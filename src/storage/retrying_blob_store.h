// SPDX-License-Identifier: Apache-2.0
//
// A decorator that retries what a retry may fix: every call that fails with kUnavailable (a
// dropped connection, a timeout, 5xx, throttling) is tried again after an exponential backoff
// with full jitter, or after the server's Retry-After if it asked for longer, until it
// succeeds, fails otherwise, or the time bound passes; then the last error is returned, still
// kUnavailable, saying how long it kept trying. Other errors return at once.
//
// Retrying is safe because every store call is idempotent: Put of a content-named object that
// was stored while its answer was lost is acknowledged by the remote stores, Remove of a
// missing object succeeds, and a listing retried after part of it was delivered skips the
// names already given to the callback. Objects written in pieces (NewWriter) are buffered
// and Put whole, so that a retry has all the bytes. Remote stores only: a local store needs no
// retries and loses its streaming writer here.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "storage/blob_store.h"

namespace halley::storage {

struct RetryPolicy {
  std::chrono::milliseconds first_delay{500};   // the first backoff; doubles each time
  std::chrono::milliseconds max_delay{30'000};  // no single wait is longer (Retry-After aside)
  // Once a call has been failing this long, the next failure is final. A wait never goes past
  // the bound.
  std::chrono::milliseconds give_up_after{std::chrono::minutes(5)};
  // Told before each wait: what failed (with its context), and the wait. For warnings.
  std::function<void(const Error& error, std::chrono::milliseconds wait)> on_retry = {};
  // True when the caller was asked to stop (SIGINT): waiting ends and kCancelled returns.
  std::function<bool()> cancelled = {};
};

class RetryingBlobStore final : public BlobStore {
 public:
  RetryingBlobStore(BlobStorePtr inner, RetryPolicy policy)
      : inner_(std::move(inner)), policy_(std::move(policy)) {}

  std::string Location() const override { return inner_->Location(); }
  Result<void> Create() override;
  Result<void> Put(const ObjectHandle& h, ByteView data) override;
  Result<Bytes> Get(const ObjectHandle& h, uint64_t offset = 0, uint64_t length = 0) override;
  Result<void> ReadAt(const ObjectHandle& h, uint64_t offset, MutableByteView out) override;
  Result<uint64_t> Stat(const ObjectHandle& h) override;
  Result<void> List(ObjectType type, const ListCallback& fn) override;
  Result<void> Remove(const ObjectHandle& h) override;
  Result<size_t> RemoveStaleTemporaries(std::chrono::seconds min_age) override;

 private:
  // Runs `op` under the policy; `what` names it in messages ("uploading data/3f/3fa2...").
  template <class T>
  Result<T> Retry(const std::string& what, const std::function<Result<T>()>& op);

  BlobStorePtr inner_;
  const RetryPolicy policy_;
};

}  // namespace halley::storage
