// SPDX-License-Identifier: Apache-2.0
#include "storage/retrying_blob_store.h"

#include <algorithm>
#include <optional>
#include <random>
#include <thread>
#include <unordered_set>

namespace halley::storage {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string Seconds(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<milliseconds>(d).count();
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
}

}  // namespace

template <class T>
Result<T> RetryingBlobStore::Retry(const std::string& what, const std::function<Result<T>()>& op) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const Clock::time_point start = Clock::now();
  milliseconds backoff = policy_.first_delay;
  for (int attempt = 1;; ++attempt) {
    Result<T> r = op();
    if (r || r.error().Code() != ErrorCode::kUnavailable) return r;
    const Error error = r.error().WithContext(what);
    const auto left = std::chrono::ceil<milliseconds>(start + policy_.give_up_after - Clock::now());
    if (left <= milliseconds(0)) {
      return Fail(Error(ErrorCode::kUnavailable, error.Message() + " (gave up after " +
                                                     std::to_string(attempt) + " attempts in " +
                                                     Seconds(Clock::now() - start) + ")"));
    }
    // Half the backoff plus a random part of the other half: clients that failed together
    // do not come back together.
    milliseconds wait = backoff / 2 + milliseconds(std::uniform_int_distribution<int64_t>(
                                          0, std::max<int64_t>(backoff.count() / 2, 0))(rng));
    wait = std::min(std::max<milliseconds>(wait, error.RetryAfter()), left);
    backoff = std::min(backoff * 2, policy_.max_delay);
    if (policy_.on_retry) policy_.on_retry(error, wait);
    for (const Clock::time_point until = Clock::now() + wait; Clock::now() < until;) {
      if (policy_.cancelled && policy_.cancelled()) {
        return Fail(ErrorCode::kCancelled,
                    error.Message() + " (interrupted while waiting to retry)");
      }
      std::this_thread::sleep_for(
          std::min<Clock::duration>(milliseconds(100), until - Clock::now()));
    }
  }
}

Result<void> RetryingBlobStore::Create() {
  return Retry<void>("creating the vault", [&] { return inner_->Create(); });
}

Result<void> RetryingBlobStore::Put(const ObjectHandle& h, ByteView data) {
  return Retry<void>("uploading " + h.Path(), [&] { return inner_->Put(h, data); });
}

Result<Bytes> RetryingBlobStore::Get(const ObjectHandle& h, uint64_t offset, uint64_t length) {
  return Retry<Bytes>("reading " + h.Path(), [&] { return inner_->Get(h, offset, length); });
}

Result<void> RetryingBlobStore::ReadAt(const ObjectHandle& h, uint64_t offset,
                                       MutableByteView out) {
  return Retry<void>("reading " + h.Path(), [&] { return inner_->ReadAt(h, offset, out); });
}

Result<uint64_t> RetryingBlobStore::Stat(const ObjectHandle& h) {
  return Retry<uint64_t>("looking up " + h.Path(), [&] { return inner_->Stat(h); });
}

Result<void> RetryingBlobStore::List(ObjectType type, const ListCallback& fn) {
  std::unordered_set<std::string> delivered;
  std::optional<Error> callback_error;  // the caller's own failure is never retried
  auto r = Retry<void>("listing " + std::string(ObjectTypeDir(type)), [&]() -> Result<void> {
    auto listed = inner_->List(type, [&](const ObjectInfo& info) -> Result<void> {
      if (!delivered.insert(info.name).second) return {};
      auto result = fn(info);
      if (!result) callback_error = result.error();
      return result;
    });
    // Whatever its code, the callback's error ends the listing (returned below).
    if (!listed && callback_error) return Fail(ErrorCode::kCancelled, "");
    return listed;
  });
  if (callback_error) return Fail(*callback_error);
  return r;
}

Result<void> RetryingBlobStore::Remove(const ObjectHandle& h) {
  return Retry<void>("removing " + h.Path(), [&] { return inner_->Remove(h); });
}

Result<size_t> RetryingBlobStore::RemoveStaleTemporaries(std::chrono::seconds min_age) {
  return Retry<size_t>("removing stale temporary files",
                       [&] { return inner_->RemoveStaleTemporaries(min_age); });
}

}  // namespace halley::storage
