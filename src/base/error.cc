// SPDX-License-Identifier: Apache-2.0
#include "base/error.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace halley {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknown:
      return "unknown";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kNotSupported:
      return "not_supported";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kIoError:
      return "io_error";
    case ErrorCode::kLocked:
      return "locked";
    case ErrorCode::kNoSpace:
      return "no_space";
  }
  return "unknown";
}

Error Error::WithContext(std::string_view context) const {
  std::string m;
  m.reserve(context.size() + 2 + message_.size());
  m.append(context).append(": ").append(message_);
  return Error(code_, std::move(m)).WithRetryAfter(retry_after_);
}

Error ErrnoError(std::string_view what, int err) {
  ErrorCode code = ErrorCode::kIoError;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      code = ErrorCode::kNotFound;
      break;
    case EEXIST:
    case ENOTEMPTY:
      code = ErrorCode::kAlreadyExists;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = ErrorCode::kPermissionDenied;
      break;
    case ENOSPC:
    case EDQUOT:
      code = ErrorCode::kNoSpace;
      break;
    case EAGAIN:
    case EINTR:
    case ETIMEDOUT:
      code = ErrorCode::kUnavailable;
      break;
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
      code = ErrorCode::kInvalidArgument;
      break;
    default:
      break;
  }
  char buf[256];
  const char* text = strerror_r(err, buf, sizeof buf);
  std::string m(what);
  m.append(": ").append(text);
  return Error(code, std::move(m));
}

void CheckFailed(const char* file, int line, const char* condition) {
  std::fprintf(stderr, "internal error: check failed at %s:%d: %s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace halley
