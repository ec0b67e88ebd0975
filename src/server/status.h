// SPDX-License-Identifier: Apache-2.0
//
// The one mapping from error kinds to HTTP status codes (DESIGN §3), shared by the API and
// the Storage Role.
#pragma once

#include "base/error.h"

namespace halley::server {

inline int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 403;  // restic's REST protocol: never overwrite
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kCorruption:
      return 400;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kNotSupported:
      return 501;
    case ErrorCode::kCancelled:
      return 503;
    case ErrorCode::kLocked:
      return 409;
    case ErrorCode::kNoSpace:
      return 507;
    case ErrorCode::kIoError:
    case ErrorCode::kUnknown:
      return 500;
  }
  return 500;
}

}  // namespace halley::server
