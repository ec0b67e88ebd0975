// SPDX-License-Identifier: Apache-2.0
//
// Live connections (DESIGN §6, docs/live.md): every logged-in device's daemon keeps a WebSocket
// to the Authentication Role, and an unregistered device may wait in the registration lobby.
// Administrators' dispatcher calls travel over them as JSON requests with IDs; the device
// answers each. Each connection has its own GUID (the API's TargetID), separate from the
// DeviceID. Nothing here survives a restart: devices reconnect. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/error.h"
#include "base/json.h"
#include "httpd/http.h"

namespace halley::server {

// What a device reported when it connected (the API's LiveUserConnection).
struct LiveDevice {
  std::string username;  // "" in the lobby
  std::string device_id;
  std::string version, platform, platform_version, time_zone;
  std::string ip;
  std::string friendly_name;  // lobby only: the machine's name, shown to the admin
  int64_t connection_time = 0;
  bool allows_filenames = false;
};

class LiveHub {
 public:
  explicit LiveHub(Clock& clock) : clock_(clock) {}

  // The handler for a device connection the server accepts; the connection is listed from
  // its OnOpen to its OnClose. A lobby connection is listed apart (ListLobby).
  std::shared_ptr<httpd::WebSocketHandler> Accept(LiveDevice device, bool lobby);

  // {connectionGUID: LiveUserConnection}, optionally only `username`'s.
  Json ListActive(const std::string& username_filter) const;
  // {connectionGUID: {DeviceID, FriendlyName, ReportedVersion, ..., IPAddress, ConnectionTime}}.
  Json ListLobby() const;
  std::optional<LiveDevice> Find(const std::string& id) const;
  // The connection GUID of a lobby device, or of `username`'s device `device_id`.
  std::optional<std::string> FindDevice(const std::string& username,
                                        const std::string& device_id) const;

  // Sends `action` with `params` to connection `id` and waits up to `timeout` for the answer,
  // which is the device's reply object ({"Status":200,"Message":"OK",...}). kNotFound: no
  // such connection; kUnavailable: it closed, or did not answer in time.
  Result<Json> Call(const std::string& id, const std::string& action, const Json& params,
                    std::chrono::milliseconds timeout);

  // Sends `action` (no parameters) to every connection of `username` without waiting for
  // answers: a notice such as "refetch-profile" after the profile changed.
  void Notify(const std::string& username, const std::string& action);

  // Closes connection `id` (false if there is none). The device reconnects by itself.
  bool Drop(const std::string& id);
  // Closes every connection of `username` (and of only `device_id` if it is not empty): after
  // a revoke or a deleted user, the device must not keep a session.
  void DropDevices(const std::string& username, const std::string& device_id = "");

 private:
  class Link;
  struct Waiter;
  struct Conn {
    LiveDevice device;
    bool lobby = false;
    std::shared_ptr<httpd::WebSocket> ws;
  };

  void Opened(const std::string& id, Conn conn);
  void Received(const std::string& id, const std::string& text);
  void Closed(const std::string& id);

  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Conn> conns_;                       // by connection GUID
  std::map<std::string, std::shared_ptr<Waiter>> waiting_;  // by request ID
};

}  // namespace halley::server
