// SPDX-License-Identifier: Apache-2.0
#include "server/live.h"

#include <future>

#include "base/encoding.h"
#include "base/log.h"
#include "crypto/random.h"

namespace halley::server {

// One request in flight: the caller waits on the future, the device's answer (or the
// connection's end) fulfils it once.
struct LiveHub::Waiter {
  std::string conn_id;
  std::promise<Result<Json>> answer;
};

// The WebSocket side of one connection. Its calls come from the server's WebSocket thread and
// only touch the hub's maps, so they never block.
class LiveHub::Link final : public httpd::WebSocketHandler {
 public:
  Link(LiveHub& hub, std::string id, Conn conn)
      : hub_(hub), id_(std::move(id)), conn_(std::move(conn)) {}

  void OnOpen(std::shared_ptr<httpd::WebSocket> ws) override {
    ws->Send(Json{{"Type", "hello"}, {"ConnectionID", id_}}.dump());
    conn_.ws = std::move(ws);
    hub_.Opened(id_, std::move(conn_));
  }
  void OnMessage(std::string text) override { hub_.Received(id_, text); }
  void OnClose() override { hub_.Closed(id_); }

 private:
  LiveHub& hub_;
  const std::string id_;
  Conn conn_;
};

std::shared_ptr<httpd::WebSocketHandler> LiveHub::Accept(LiveDevice device, bool lobby) {
  device.connection_time =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  return std::make_shared<Link>(*this, crypto::NewUuid(), Conn{std::move(device), lobby, nullptr});
}

void LiveHub::Opened(const std::string& id, Conn conn) {
  LogLine(LogLevel::kInfo, conn.lobby ? "lobby_connected" : "live_connected",
          {{"connection", id},
           {"user", conn.device.username},
           {"device", conn.device.device_id},
           {"client", conn.device.ip}});
  std::lock_guard lock(mu_);
  conns_[id] = std::move(conn);
}

void LiveHub::Received(const std::string& id, const std::string& text) {
  auto j = ParseJson(text, JsonLimits{1 << 20, 64});
  if (!j || !j->is_object() || !(*j)["RequestID"].is_string()) {
    LogLine(LogLevel::kWarning, "live_bad_message", {{"connection", id}});
    return;
  }
  std::shared_ptr<Waiter> w;
  {
    std::lock_guard lock(mu_);
    auto it = waiting_.find((*j)["RequestID"].get<std::string>());
    // Only the connection the request went to may answer it.
    if (it == waiting_.end() || it->second->conn_id != id) return;
    w = std::move(it->second);
    waiting_.erase(it);
  }
  j->erase("RequestID");
  w->answer.set_value(std::move(*j));
}

void LiveHub::Closed(const std::string& id) {
  std::vector<std::shared_ptr<Waiter>> orphaned;
  {
    std::lock_guard lock(mu_);
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    LogLine(LogLevel::kInfo, it->second.lobby ? "lobby_disconnected" : "live_disconnected",
            {{"connection", id},
             {"user", it->second.device.username},
             {"device", it->second.device.device_id}});
    conns_.erase(it);
    std::erase_if(waiting_, [&](auto& entry) {
      if (entry.second->conn_id != id) return false;
      orphaned.push_back(std::move(entry.second));
      return true;
    });
  }
  for (auto& w : orphaned) {
    w->answer.set_value(Fail(ErrorCode::kUnavailable, "the device disconnected"));
  }
}

namespace {

Json Describe(const LiveDevice& d) {
  return {{"Username", d.username},
          {"DeviceID", d.device_id},
          {"ReportedVersion", d.version},
          {"ReportedPlatform", d.platform},
          {"ReportedPlatformVersion", d.platform_version},
          {"DeviceTimeZone", d.time_zone},
          {"IPAddress", d.ip},
          {"ConnectionTime", d.connection_time},
          {"AllowsFilenames", d.allows_filenames}};
}

}  // namespace

Json LiveHub::ListActive(const std::string& username_filter) const {
  Json out = Json::object();
  std::lock_guard lock(mu_);
  for (const auto& [id, c] : conns_) {
    if (c.lobby || (!username_filter.empty() && c.device.username != username_filter)) continue;
    out[id] = Describe(c.device);
  }
  return out;
}

Json LiveHub::ListLobby() const {
  Json out = Json::object();
  std::lock_guard lock(mu_);
  for (const auto& [id, c] : conns_) {
    if (!c.lobby) continue;
    Json j = Describe(c.device);
    j.erase("Username");
    j.erase("AllowsFilenames");
    j["FriendlyName"] = c.device.friendly_name;
    out[id] = std::move(j);
  }
  return out;
}

std::optional<LiveDevice> LiveHub::Find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = conns_.find(id);
  if (it == conns_.end()) return std::nullopt;
  return it->second.device;
}

std::optional<std::string> LiveHub::FindDevice(const std::string& username,
                                               const std::string& device_id) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, c] : conns_) {
    if (c.device.username == username && c.device.device_id == device_id) return id;
  }
  return std::nullopt;
}

Result<Json> LiveHub::Call(const std::string& id, const std::string& action, const Json& params,
                           std::chrono::milliseconds timeout) {
  auto w = std::make_shared<Waiter>();
  w->conn_id = id;
  std::future<Result<Json>> answer = w->answer.get_future();
  const std::string request_id = HexEncode(crypto::RandomBytes(16));
  std::shared_ptr<httpd::WebSocket> ws;
  {
    std::lock_guard lock(mu_);
    auto it = conns_.find(id);
    if (it == conns_.end()) {
      return Fail(ErrorCode::kNotFound, "no live connection '" + id + "'");
    }
    ws = it->second.ws;
    waiting_[request_id] = w;
  }
  const Json request = {{"RequestID", request_id}, {"Action", action}, {"Params", params}};
  if (ws->Send(request.dump(-1, ' ', false, Json::error_handler_t::replace)) &&
      answer.wait_for(timeout) == std::future_status::ready) {
    return answer.get();
  }
  std::lock_guard lock(mu_);
  if (waiting_.erase(request_id) == 0) return answer.get();  // answered just now
  return Fail(
      ErrorCode::kUnavailable,
      "the device did not answer within " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + " s");
}

void LiveHub::Notify(const std::string& username, const std::string& action) {
  std::vector<std::shared_ptr<httpd::WebSocket>> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, c] : conns_) {
      if (!c.lobby && c.device.username == username) targets.push_back(c.ws);
    }
  }
  // A request ID nobody waits for: the device's answer is dropped.
  const std::string message = Json{
      {"RequestID", HexEncode(crypto::RandomBytes(16))},
      {"Action", action},
      {"Params", Json::object()}}.dump();
  for (auto& ws : targets) ws->Send(message);
}

bool LiveHub::Drop(const std::string& id) {
  std::shared_ptr<httpd::WebSocket> ws;
  {
    std::lock_guard lock(mu_);
    auto it = conns_.find(id);
    if (it == conns_.end()) return false;
    ws = it->second.ws;
  }
  ws->Close();
  return true;
}

void LiveHub::DropDevices(const std::string& username, const std::string& device_id) {
  std::vector<std::shared_ptr<httpd::WebSocket>> doomed;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, c] : conns_) {
      if (!c.lobby && c.device.username == username &&
          (device_id.empty() || c.device.device_id == device_id)) {
        doomed.push_back(c.ws);
      }
    }
  }
  for (auto& ws : doomed) ws->Close();
}

}  // namespace halley::server
