// SPDX-License-Identifier: Apache-2.0
//
// Storage Templates (reference/comet.md §5.4): `AuthenticationRole.RemoteStorage[]` entries a
// vault request picks from. A "comet" template with an empty RemoteAddress is this server's own
// Storage Role; with a RemoteAddress, the bucket is registered on that server's Storage Role
// through its API (`admin/storage/register-bucket`) with the template's admin credentials. The
// device's key stays zero-knowledge either way: only its bcrypt hash travels.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/json.h"

namespace halley::server {

// What register-bucket asks for: a pre-hashed key (kPasswordFormatBcryptSha512) keeps the key
// on the device; an empty one makes the Storage Role generate it (returned in `key`).
struct BucketRequest {
  int key_format = 0;
  std::string key_hash;
  std::string organization;
  int64_t limit_bytes = 0;  // 0: none
};

struct RemoteBucket {
  std::string server;  // the Storage Role's URL, "http[s]://host:port/"
  std::string id;
  std::string key;  // "" when the key was pre-hashed
};

// Whether `tmpl` names another server's Storage Role (and not this one's).
bool IsRemoteTemplate(const Json& tmpl);

// Registers a bucket on the remote Storage Role of `tmpl`. kUnavailable when that server
// cannot be reached (or answers 5xx), kPermissionDenied/kUnauthenticated when it refuses the
// template's credentials; messages name the server, never the password.
Result<RemoteBucket> RegisterRemoteBucket(const Json& tmpl, const BucketRequest& request);

// Removes a bucket registered by RegisterRemoteBucket (the undo of a request that failed
// later).
Result<void> DeleteRemoteBucket(const Json& tmpl, const std::string& bucket_id);

// Logs in to the remote server of `tmpl` and reads its version and free space: what an admin
// wants to know before saving a template. Returns {"Version", "StorageRole", "FreeSpace"}.
Result<Json> TestRemoteTemplate(const Json& tmpl);

}  // namespace halley::server
