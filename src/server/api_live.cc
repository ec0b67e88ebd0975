// SPDX-License-Identifier: Apache-2.0
//
// Live connections (docs/live.md): the WebSocket endpoints devices connect to, and the
// administrators' dispatcher and registration-lobby calls that travel over them.
#include <chrono>
#include <set>

#include "base/encoding.h"
#include "base/log.h"
#include "server/api_call.h"

namespace halley::server::api {
namespace {

// How long a dispatcher call waits for the device's answer. Devices answer once an action
// has started (a backup reports its own job), so only browsing and the login test of
// update-login-url take more than a moment.
constexpr std::chrono::seconds kDeviceAnswerTimeout{60};

// Dispatcher actions a device understands (reference/comet.md §2.3), with their parameters.
// Anything else is refused here rather than sent to the device.
const std::set<std::string, std::less<>> kActions = {
    "run-backup",
    "run-backup-custom",
    "run-restore",
    "run-restore-custom",
    "apply-retention-rules",
    "reindex-storage-vault",
    "deepverify-storage-vault",
    "unlock",
    "update-login-url",
    "update-login-password",
    "refetch-profile",
    "request-vault-snapshots",
    "request-stored-objects",
    "delete-snapshot",
    "delete-snapshots",
    "request-filesystem-objects",
    "kill-process",
    "drop-connection",
};

// The caller's form without its credentials: what the device gets as the action's Params.
Json ForwardedParams(const Call& c) {
  static const std::set<std::string, std::less<>> kPrivate = {"Username", "AuthType", "Password",
                                                              "SessionKey", "TargetID"};
  Json params = Json::object();
  for (const auto& [name, value] : c.form) {
    if (!kPrivate.contains(name)) params[name] = value;
  }
  return params;
}

Response DeviceAnswer(Result<Json> answer) {
  if (!answer) return ErrorReply(answer.error());
  if (!answer->is_object()) return Response::Message(502, "the device answered nonsense");
  const int status = answer->value("Status", 500);
  return Response::Json(Dump(*answer), status >= 200 && status < 600 ? status : 502);
}

// "Basic base64(user:secret)" from the Authorization header.
std::optional<std::pair<std::string, std::string>> BasicCredentials(const httpd::Request& req) {
  const std::string_view h = req.Header("authorization");
  if (h.rfind("Basic ", 0) != 0) return std::nullopt;
  auto decoded = Base64Decode(h.substr(6));
  if (!decoded) return std::nullopt;
  const std::string text(decoded->begin(), decoded->end());
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(text.substr(0, colon), text.substr(colon + 1));
}

std::string Bounded(std::string_view s) { return std::string(s.substr(0, 256)); }

LiveDevice Reported(App& app, const httpd::Request& req) {
  LiveDevice d;
  d.device_id = Bounded(req.Header("x-halley-device-id"));
  d.version = Bounded(req.Header("x-halley-version"));
  d.platform = Bounded(req.Header("x-halley-platform"));
  d.platform_version = Bounded(req.Header("x-halley-platform-version"));
  d.time_zone = Bounded(req.Header("x-halley-time-zone"));
  d.friendly_name = Bounded(req.Header("x-halley-friendly-name"));
  d.allows_filenames = req.Header("x-halley-allows-filenames") == "1";
  d.ip = app.ClientAddress(req);
  return d;
}

}  // namespace

Response HandleLiveUpgrade(App& app, httpd::Request& req, bool lobby) {
  if (!req.IsWebSocketUpgrade()) {
    return Response::Message(400, "This endpoint takes a WebSocket connection");
  }
  if (!app.Config().AuthRoleEnabled()) {
    return Response::Message(403, "This API requires the Authentication Role to be enabled");
  }
  LiveDevice device = Reported(app, req);
  if (device.device_id.empty()) return Response::Message(400, "missing X-Halley-Device-ID");
  if (!lobby) {
    auto creds = BasicCredentials(req);
    if (!creds) return Response::Message(401, "Incorrect authentication credentials");
    Call call{app,
              req,
              {{"Username", creds->first}, {"AuthType", "Password"}, {"Password", creds->second}},
              app.ClientAddress(req),
              ""};
    if (auto ok = AuthenticateUser(call); !ok) return ErrorReply(ok.error());
    auto stored = app.Users().Get(call.user);
    if (!stored) return ErrorReply(stored.error());
    if (!stored->profile.value("Devices", Json::object()).contains(device.device_id)) {
      // The client shows this as "Unregistered device for the supplied credentials (4)".
      return Response::Message(403, "Unregistered device for the supplied credentials");
    }
    device.username = call.user;
  }
  Response res = Response::Message(400, "expected a WebSocket upgrade");
  res.websocket = app.Live().Accept(std::move(device), lobby);
  return res;
}

Response DispatcherListActive(Call& c) {
  Json active = c.app.Live().ListActive(c.GetOr("UserNameFilter"));
  auto scope = UserScope::Of(c);
  if (!scope) return ErrorReply(scope.error());
  for (auto it = active.begin(); it != active.end();) {
    it = scope->Sees(StringField(*it, "Username")) ? std::next(it) : active.erase(it);
  }
  return Response::Json(Dump(active));
}

// admin/dispatcher/<action>: forwards the call to the device on connection TargetID and
// returns its answer.
Response DispatcherAction(Call& c) {
  const std::string_view prefix = "/api/v1/admin/dispatcher/";
  const std::string action = c.req.path.substr(prefix.size());
  if (!kActions.contains(action)) return Response::Message(404, "Unknown dispatcher action");
  auto target = c.Need("TargetID");
  if (!target) return ErrorReply(target.error());
  auto device = c.app.Live().Find(*target);
  if (!device || device->username.empty()) {
    return Response::Message(404, "No live connection '" + *target + "'");
  }
  if (action == "request-filesystem-objects" && !device->allows_filenames) {
    return Response::Message(403, "The device does not allow administrators to view filenames");
  }
  LogLine(LogLevel::kInfo, "dispatch",
          {{"admin", c.user}, {"action", action}, {"connection", *target}});
  if (action == "drop-connection") {
    c.app.Live().Drop(*target);
    return Ok();
  }
  return DeviceAnswer(c.app.Live().Call(*target, action, ForwardedParams(c), kDeviceAnswerTimeout));
}

// admin/job/cancel: asks the device running the job to stop it, over its live connection. The
// device finds the run by the job's CancellationID; the run then reports 7005 itself.
Response AdminJobCancel(Call& c) {
  auto user = c.Need("TargetUser");
  if (!user) return ErrorReply(user.error());
  auto id = c.Need("JobID");
  if (!id) return ErrorReply(id.error());
  auto job = c.app.Jobs().Get(*id, *user);
  if (!job) return ErrorReply(job.error());
  const int status = job->value("Status", 0);
  if (status != kJobStatusRunning && status != kJobStatusRevived) {
    return Response::Message(400, "The job is not running");
  }
  const std::string cancellation = job->value("CancellationID", "");
  if (cancellation.empty()) {
    return Response::Message(400,
                             "The job has no CancellationID: it was not started by a "
                             "device's background service, and cannot be cancelled");
  }
  auto conn = c.app.Live().FindDevice(*user, job->value("DeviceID", ""));
  if (!conn) return Response::Message(503, "The job's device is not connected");
  LogLine(LogLevel::kInfo, "job_cancel", {{"admin", c.user}, {"job", *id}, {"user", *user}});
  return DeviceAnswer(c.app.Live().Call(*conn, "cancel-job",
                                        {{"JobID", *id}, {"CancellationID", cancellation}},
                                        std::chrono::seconds(10)));
}

Response InstallationListActive(Call& c) { return Response::Json(Dump(c.app.Live().ListLobby())); }

// Hands an account's credentials to a device waiting in the lobby, which logs in with them
// (deriving its keys itself) and registers. The password passes through, never stored.
Response InstallationRegisterDevice(Call& c) {
  auto device_id = c.Need("DeviceID");
  if (!device_id) return ErrorReply(device_id.error());
  auto user = c.Need("TargetUser");
  if (!user) return ErrorReply(user.error());
  auto password = c.Need("TargetPassword");
  if (!password) return ErrorReply(password.error());
  if (!c.app.Users().Get(*user)) return Response::Message(404, "no user '" + *user + "'");
  auto conn = c.app.Live().FindDevice("", *device_id);
  if (!conn) return Response::Message(404, "Device '" + *device_id + "' is not in the lobby");
  LogLine(LogLevel::kInfo, "lobby_register",
          {{"admin", c.user}, {"device", *device_id}, {"user", *user}});
  Json params = {{"TargetUser", *user}, {"TargetPassword", *password}};
  if (const std::string* totp = c.Get("TargetTOTPCode")) params["TargetTOTPCode"] = *totp;
  return DeviceAnswer(c.app.Live().Call(*conn, "register", params, kDeviceAnswerTimeout));
}

}  // namespace halley::server::api
