// SPDX-License-Identifier: Apache-2.0
//
// The device's end of the live connection (docs/live.md): a WebSocket from the daemon to
// halleyd's Authentication Role, over TLS for https servers and through an http:// proxy
// (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, NO_PROXY) with CONNECT, as the API calls go. The
// server sends requests ({"RequestID","Action","Params"}); the device answers each. Boost.Beast
// stays inside live_link.cc.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "base/error.h"
#include "base/json.h"

namespace halley::client {

struct LiveLinkOptions {
  std::string server;   // "http[s]://host[:port]/" (NormalizeServerUrl)
  std::string ca_file;  // "" = the system's trust store
  // Credentials; both empty for the registration lobby.
  std::string username, secret;
  std::string device_id;
  std::string friendly_name;  // shown to the admin in the lobby
  std::string version;
  bool allows_filenames = false;
};

// Answers one request; may be called from any thread, at most once. An answer for a
// connection that has ended since is dropped (the server has told the admin it failed).
using LiveReply = std::function<void(Json answer)>;
// Called on the link's thread for every request; must not block: start the work and reply
// when it is done. `action` is the dispatcher action ("run-backup", ...).
using LiveRequestHandler =
    std::function<void(const std::string& action, const Json& params, LiveReply reply)>;

enum class LiveState { kConnecting, kConnected, kDisconnected };

class LiveLink {
 public:
  // `on_state` (may be empty) hears every change, with a message for kDisconnected.
  LiveLink(LiveLinkOptions options, LiveRequestHandler on_request,
           std::function<void(LiveState, const std::string&)> on_state = {});
  ~LiveLink();

  // Connects and serves requests until `stop` is requested, reconnecting after any failure
  // with a backoff of 1 s doubling to 60 s (with jitter; reset once a connection has lasted a
  // minute). Returns kUnauthenticated or kPermissionDenied at once if the server refuses the
  // credentials or the device (the caller decides whether to try again), kInvalidArgument for
  // an unusable server URL or proxy.
  Result<void> Run(std::stop_token stop);

  // Closes the current connection (if any); Run() reconnects. Thread-safe.
  void Reconnect();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace halley::client
