// SPDX-License-Identifier: Apache-2.0
#include "client/login_state.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/encoding.h"
#include "base/id.h"
#include "base/json.h"
#include "crypto/hash.h"
#include "crypto/login.h"
#include "fs/fs.h"

namespace halley::client {
namespace {

constexpr char kLoginFile[] = "login.json";
constexpr int kLoginFileVersion = 1;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool ConstantTimeEqual(const std::array<uint8_t, 24>& a, const std::array<uint8_t, 24>& b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

Result<std::array<uint8_t, 24>> Key24(const Json& j, const char* field) {
  HALLEY_ASSIGN_OR_RETURN(std::string hex, JsonString(j, field));
  auto bytes = HexDecode(hex);
  if (!bytes || bytes->size() != 24) {
    return Fail(ErrorCode::kCorruption, std::string(field) + " is not 48 hex digits");
  }
  std::array<uint8_t, 24> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace

Credentials LoginState::Creds() const { return {username, crypto::EncodeLoginSecret(l)}; }

bool LoginState::PasswordMatches(std::string_view password) const {
  return ConstantTimeEqual(crypto::DeriveLoginKeys(username, password).l, l);
}

std::string ConfigDir() {
  if (std::string d = Env("BACKUP_TOOL_CONFIG_DIR"); !d.empty()) return d;
  if (std::string x = Env("XDG_CONFIG_HOME"); !x.empty()) return x + "/backup-tool";
  return Env("HOME") + "/.config/backup-tool";
}

Result<std::optional<LoginState>> LoadLogin(const std::string& dir) {
  const std::string path = dir + "/" + kLoginFile;
  auto text = fs::ReadFileLimited(path, 1 << 20);
  if (!text) {
    if (text.error().Code() == ErrorCode::kNotFound) return std::optional<LoginState>();
    return Fail(text.error());
  }
  auto parsed = [&]() -> Result<LoginState> {
    HALLEY_ASSIGN_OR_RETURN(Json j, ParseJson(*text));
    if (!j.is_object()) return Fail(ErrorCode::kCorruption, "not a JSON object");
    HALLEY_ASSIGN_OR_RETURN(uint64_t version, JsonUint(j, "Version"));
    if (version != kLoginFileVersion) {
      return Fail(ErrorCode::kNotSupported, "version " + std::to_string(version));
    }
    LoginState s;
    HALLEY_ASSIGN_OR_RETURN(s.server, JsonString(j, "Server"));
    HALLEY_ASSIGN_OR_RETURN(s.username, JsonString(j, "Username"));
    HALLEY_ASSIGN_OR_RETURN(s.l, Key24(j, "LoginKey"));
    HALLEY_ASSIGN_OR_RETURN(s.r, Key24(j, "WrapKey"));
    HALLEY_ASSIGN_OR_RETURN(s.device_id, JsonString(j, "DeviceID"));
    HALLEY_ASSIGN_OR_RETURN(s.ca_file, OptionalJsonString(j, "CACertFile"));
    if (j.contains("UILocked")) {
      HALLEY_ASSIGN_OR_RETURN(s.ui_locked, JsonBool(j, "UILocked"));
    }
    return s;
  }();
  if (!parsed) {
    return Fail(ErrorCode::kCorruption, "the login file " + path + " is damaged (" +
                                            parsed.error().Message() +
                                            "): run `backup-tool login prompt` again");
  }
  return std::optional<LoginState>(std::move(*parsed));
}

Result<void> SaveLogin(const std::string& dir, const LoginState& s) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(ErrnoError("cannot create the configuration directory " + dir, errno));
  }
  Json j = {{"Version", kLoginFileVersion}, {"Server", s.server},        {"Username", s.username},
            {"LoginKey", HexEncode(s.l)},   {"WrapKey", HexEncode(s.r)}, {"DeviceID", s.device_id},
            {"CACertFile", s.ca_file},      {"UILocked", s.ui_locked}};
  std::string text = j.dump(2) + "\n";
  auto written = fs::WriteFileAtomic(dir + "/" + kLoginFile, text, 0600);
  SecureZero(text.data(), text.size());
  return written;
}

Result<bool> RemoveLogin(const std::string& dir) {
  const std::string path = dir + "/" + kLoginFile;
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return false;
    return Fail(ErrnoError("cannot remove " + path, errno));
  }
  return true;
}

Result<std::string> DeviceId(std::string_view entropy) {
  std::string machine_id;
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    auto text = fs::ReadFileLimited(path, 4096);
    if (!text) continue;
    machine_id = *text;
    while (!machine_id.empty() && std::isspace(static_cast<unsigned char>(machine_id.back()))) {
      machine_id.pop_back();
    }
    if (!machine_id.empty()) break;
  }
  if (machine_id.empty()) {
    return Fail(ErrorCode::kNotFound,
                "this machine has no machine ID (/etc/machine-id): run systemd-machine-id-setup");
  }
  const std::string input = "halley/device/v1/" + machine_id + "/" + std::string(entropy);
  return crypto::Sha256(AsBytes(input)).Hex().substr(0, 32);
}

}  // namespace halley::client
