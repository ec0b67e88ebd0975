// SPDX-License-Identifier: Apache-2.0
//
// What a logged-in device keeps (docs/client.md "The login file"): the server, the username,
// the L secret it logs in with, the R key that unwraps its vault keys, and its device ID. Never
// the password. The file is `login.json` (mode 0600) in the client's configuration directory,
// replaced atomically; background jobs run from it without asking anyone for a password.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "httpclient/server_api.h"

namespace halley::client {

// The device speaks halleyd's API through the shared API client.
using httpclient::Credentials;
using httpclient::Form;
using httpclient::NormalizeServerUrl;
using httpclient::ServerApi;

struct LoginState {
  std::string server;  // as NormalizeServerUrl returns it
  std::string username;
  std::array<uint8_t, 24> l{};
  std::array<uint8_t, 24> r{};
  std::string device_id;
  std::string ca_file;     // "" = the system's trust store
  bool ui_locked = false;  // commands that show vault contents ask for the password first

  Credentials Creds() const;
  // True if `password` is this account's password (its L matches, compared in constant time).
  bool PasswordMatches(std::string_view password) const;
};

// BACKUP_TOOL_CONFIG_DIR, else $XDG_CONFIG_HOME/backup-tool, else ~/.config/backup-tool.
std::string ConfigDir();

// nullopt if the directory holds no login; kCorruption for a file that does not parse (the
// message says how to log in again), kIoError if it cannot be read.
Result<std::optional<LoginState>> LoadLogin(const std::string& dir);
// Creates `dir` (0700) if needed and replaces the login file (0600, fsynced).
Result<void> SaveLogin(const std::string& dir, const LoginState& state);
// Removes the login file; false if there was none.
Result<bool> RemoveLogin(const std::string& dir);

// This machine's device ID: 32 hex digits derived from /etc/machine-id (or D-Bus's copy),
// so that it survives restarts and a reinstalled configuration, and from `entropy` (the spec's
// DeviceIdentificationEntropy; env BACKUP_TOOL_DEVICE_ENTROPY), which tells apart clones of
// one system image. kNotFound if the machine has no machine ID.
Result<std::string> DeviceId(std::string_view entropy);

}  // namespace halley::client
