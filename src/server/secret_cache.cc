// SPDX-License-Identifier: Apache-2.0
#include "server/secret_cache.h"

#include "base/bytes.h"
#include "crypto/hash.h"

namespace halley::server {

bool SecretCache::Check(const std::string& who, const std::string& stored_hash,
                        std::string_view secret, const std::function<bool()>& verify) {
  const Id digest_id = crypto::Sha256(AsBytes(secret));
  const std::string digest(reinterpret_cast<const char*>(digest_id.bytes.data()),
                           digest_id.bytes.size());
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(who);
    if (it != entries_.end() && it->second.stored_hash == stored_hash &&
        crypto::ConstantTimeEqual(AsBytes(it->second.digest), AsBytes(digest))) {
      return true;
    }
  }
  if (!verify()) return false;
  std::lock_guard lock(mu_);
  entries_[who] = {stored_hash, digest};
  return true;
}

}  // namespace halley::server
