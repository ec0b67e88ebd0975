// SPDX-License-Identifier: Apache-2.0
#include "repo/key_file.h"

#include <cstdlib>

#include "base/encoding.h"
#include "base/json.h"
#include "crypto/kdf.h"
#include "crypto/random.h"

namespace halley::repo {

ScryptParams PasswordScryptParams() {
  // 2^15 * 8 * 128 B = 32 MiB per lane; p = 4 puts it near restic's calibrated cost here.
  // BACKUP_TOOL_INSECURE_TEST_KDF makes test suites fast; it is never set in production.
  if (const char* v = std::getenv("BACKUP_TOOL_INSECURE_TEST_KDF"); v != nullptr && *v == '1') {
    return {1024, 8, 1};
  }
  return {32768, 8, 4};
}

std::string EncodeKeyFile(const KeyFile& k) {
  // Go's field order for restic's Key struct.
  std::string out = "{\"created\":";
  AppendGoJsonString(out, FormatRfc3339Nano(k.created));
  out += ",\"username\":";
  AppendGoJsonString(out, k.username);
  out += ",\"hostname\":";
  AppendGoJsonString(out, k.hostname);
  out += ",\"kdf\":";
  AppendGoJsonString(out, k.kdf);
  out += ",\"N\":" + std::to_string(k.params.n) + ",\"r\":" + std::to_string(k.params.r) +
         ",\"p\":" + std::to_string(k.params.p) + ",\"salt\":\"" + Base64Encode(k.salt) +
         "\",\"data\":\"" + Base64Encode(k.data) + "\"}";
  return out;
}

Result<KeyFile> DecodeKeyFile(std::string_view json) {
  HALLEY_ASSIGN_OR_RETURN(Json j, ParseJson(json, JsonLimits{.max_bytes = 1 << 20}));
  if (!j.is_object()) return Fail(ErrorCode::kCorruption, "key file is not a JSON object");
  KeyFile k;
  HALLEY_ASSIGN_OR_RETURN(std::string created, OptionalJsonString(j, "created"));
  if (!created.empty()) {
    auto t = ParseRfc3339(created);
    if (t) k.created = *t;
  }
  HALLEY_ASSIGN_OR_RETURN(k.username, OptionalJsonString(j, "username"));
  HALLEY_ASSIGN_OR_RETURN(k.hostname, OptionalJsonString(j, "hostname"));
  HALLEY_ASSIGN_OR_RETURN(k.kdf, JsonString(j, "kdf"));
  if (k.kdf != "scrypt") {
    return Fail(ErrorCode::kNotSupported, "only supported KDF is scrypt(), not \"" + k.kdf + "\"");
  }
  HALLEY_ASSIGN_OR_RETURN(k.params.n, JsonUint(j, "N"));
  HALLEY_ASSIGN_OR_RETURN(uint64_t r, JsonUint(j, "r"));
  HALLEY_ASSIGN_OR_RETURN(uint64_t p, JsonUint(j, "p"));
  if (r == 0 || p == 0 || r > (1u << 30) || p > (1u << 30)) {
    return Fail(ErrorCode::kCorruption, "invalid scrypt parameters");
  }
  k.params.r = static_cast<uint32_t>(r);
  k.params.p = static_cast<uint32_t>(p);
  HALLEY_ASSIGN_OR_RETURN(std::string salt, JsonString(j, "salt"));
  HALLEY_ASSIGN_OR_RETURN(std::string data, JsonString(j, "data"));
  auto s = Base64Decode(salt);
  auto d = Base64Decode(data);
  if (!s || !d) return Fail(ErrorCode::kCorruption, "key file salt or data is not base64");
  if (s->size() != 64) {
    return Fail(ErrorCode::kCorruption,
                "key file salt has " + std::to_string(s->size()) + " bytes, want 64");
  }
  k.salt = std::move(*s);
  k.data = std::move(*d);
  return k;
}

KeyFile NewKeyFile(const crypto::Key& master, std::string_view password, ScryptParams params,
                   Time created, std::string username, std::string hostname) {
  KeyFile k;
  k.created = created;
  k.username = std::move(username);
  k.hostname = std::move(hostname);
  k.params = params;
  k.salt = crypto::RandomBytes(64);
  auto derived = crypto::Scrypt(password, k.salt, params.n, params.r, params.p, 64);
  HALLEY_CHECK(derived.has_value());  // our own parameters are valid
  crypto::Key user = crypto::KeyFromScrypt(*derived);
  SecureZero(derived->data(), derived->size());
  std::string json = crypto::EncodeMasterKeyJson(master);
  k.data = crypto::Seal(user, AsBytes(json));
  SecureZero(json.data(), json.size());
  return k;
}

Result<crypto::Key> OpenKeyFile(const KeyFile& k, std::string_view password) {
  // Bound the work a hostile key file can demand: restic's calibration stays far below this.
  const uint64_t n = k.params.n, r = k.params.r, p = k.params.p;
  if (n > (uint64_t{1} << 24) || n * r > (uint64_t{1} << 23) || n * r * p > (uint64_t{1} << 28)) {
    return Fail(ErrorCode::kCorruption, "key file asks for excessive scrypt parameters");
  }
  auto derived = crypto::Scrypt(password, k.salt, k.params.n, k.params.r, k.params.p, 64);
  if (!derived) return Fail(derived.error().WithContext("key file"));
  crypto::Key user = crypto::KeyFromScrypt(*derived);
  SecureZero(derived->data(), derived->size());
  auto plain = crypto::Open(user, k.data);
  if (!plain) return Fail(ErrorCode::kUnauthenticated, "wrong password or no key found");
  auto master = crypto::DecodeMasterKeyJson(AsString(*plain));
  SecureZero(plain->data(), plain->size());
  return master;
}

}  // namespace halley::repo
