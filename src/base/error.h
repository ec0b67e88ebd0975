// SPDX-License-Identifier: Apache-2.0
//
// Error values. Expected failures (I/O, network, missing objects, corruption, wrong password,
// lock contention, bad input) travel as Result<T>; callers branch on Error::Code(), never on the
// message text. Broken invariants abort through HALLEY_CHECK.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace halley {

enum class ErrorCode {
  kUnknown,
  kNotFound,          // the object, file or snapshot does not exist
  kAlreadyExists,     // refusing to overwrite
  kInvalidArgument,   // bad user input or request
  kCorruption,        // MAC/hash mismatch, undecodable data; never retried
  kUnavailable,       // transient (network, 503, EAGAIN); the only retryable code
  kPermissionDenied,  // EACCES/EPERM, 403
  kUnauthenticated,   // wrong password, wrong key, 401
  kNotSupported,      // a feature or format version we do not handle
  kCancelled,         // stop requested (SIGINT, stop_token)
  kIoError,           // any other local I/O failure
  kLocked,            // the vault is locked by someone else
  kNoSpace,           // ENOSPC, 507, quota
};

// Returns a stable lower-case name for the code ("not_found", ...), used in JSON output.
std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode Code() const { return code_; }
  const std::string& Message() const { return message_; }

  // Returns the same error with "context: " prefixed to the message. Each layer adds its
  // context once ("loading index 3fa2c1d0: ciphertext verification failed").
  Error WithContext(std::string_view context) const;

  // For kUnavailable: how long the server asked us to wait before trying again (HTTP
  // Retry-After), or 0 if it did not say.
  std::chrono::seconds RetryAfter() const { return retry_after_; }
  Error WithRetryAfter(std::chrono::seconds wait) const {
    Error e = *this;
    e.retry_after_ = wait;
    return e;
  }

 private:
  ErrorCode code_;
  std::string message_;
  std::chrono::seconds retry_after_{0};
};

template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  Result(tl::expected<T, Error> other)  // NOLINT(google-explicit-constructor)
      : tl::expected<T, Error>(std::move(other)) {}
};

// `return Fail(ErrorCode::kNotFound, "no such snapshot");`
inline tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

// Maps an errno value to an Error whose message is "<what>: <strerror>".
Error ErrnoError(std::string_view what, int err);

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition);

}  // namespace halley

#define HALLEY_CHECK(cond)                                         \
  do {                                                             \
    if (!(cond)) ::halley::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#ifdef NDEBUG
#define HALLEY_DCHECK(cond) \
  do {                      \
  } while (0)
#else
#define HALLEY_DCHECK(cond) HALLEY_CHECK(cond)
#endif

#define HALLEY_CONCAT_INNER(a, b) a##b
#define HALLEY_CONCAT(a, b) HALLEY_CONCAT_INNER(a, b)

// Propagates the error of a Result-returning expression.
// The temporary's name is unique so that uses nest (a lambda inside `expr`).
#define HALLEY_RETURN_IF_ERROR(expr) \
  HALLEY_RETURN_IF_ERROR_IMPL(HALLEY_CONCAT(halley_status_, __COUNTER__), expr)
#define HALLEY_RETURN_IF_ERROR_IMPL(tmp, expr)                 \
  do {                                                         \
    auto tmp = (expr);                                         \
    if (!tmp) return ::tl::unexpected(std::move(tmp).error()); \
  } while (0)

// `HALLEY_ASSIGN_OR_RETURN(auto blob, store.Get(h));` declares or assigns lhs on success.
#define HALLEY_ASSIGN_OR_RETURN(lhs, expr) \
  HALLEY_ASSIGN_OR_RETURN_IMPL(HALLEY_CONCAT(halley_result_, __LINE__), lhs, expr)
#define HALLEY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)         \
  auto tmp = (expr);                                         \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)  // NOLINT(bugprone-macro-parentheses)
