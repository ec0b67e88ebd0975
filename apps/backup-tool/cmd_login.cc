// SPDX-License-Identifier: Apache-2.0
//
// `login prompt|join-lobby|status|disconnect|passwd` (the spec's "backup-tool login") and `info
// device-id`.
#include <limits.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "base/host.h"
#include "client/account.h"
#include "client/live_link.h"
#include "client/login_state.h"
#include "commands.h"
#include "crypto/login.h"

namespace halley::cli {
namespace {

struct LoginFlags {
  std::string server;
  std::string username;
  std::string device_name;
  bool lock_ui = false;
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Result<std::string> DeviceIdHere() { return client::DeviceId(Env("BACKUP_TOOL_DEVICE_ENTROPY")); }

Result<std::string> AskLine(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  std::string line;
  if (!std::getline(std::cin, line) || line.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no answer to \"" + prompt + "\"");
  }
  return line;
}

int FinishLogin(Cli& cli, client::LoginState s, std::string password, const std::string& name);

int RunLoginPrompt(Cli& cli, const LoginFlags& f) {
  client::LoginState s;
  auto server = f.server.empty() ? AskLine("Server URL: ") : Result<std::string>(f.server);
  if (!server) return cli.Fatal(server.error());
  auto normalized = client::NormalizeServerUrl(*server);
  if (!normalized) return cli.Fatal(normalized.error());
  s.server = *normalized;
  auto username = f.username.empty() ? AskLine("Username: ") : Result<std::string>(f.username);
  if (!username) return cli.Fatal(username.error());
  s.username = *username;
  auto device = DeviceIdHere();
  if (!device) return cli.Fatal(device.error());
  s.device_id = *device;
  if (!cli.global.cacert.empty()) {
    char abs[PATH_MAX];
    if (::realpath(cli.global.cacert.c_str(), abs) == nullptr) {
      return cli.Fatal(ErrnoError("cannot read the CA file " + cli.global.cacert, errno));
    }
    s.ca_file = abs;
  }
  s.ui_locked = f.lock_ui;
  auto password = cli.Password("password for " + s.username + " at " + s.server + ": ");
  if (!password) return cli.Fatal(password.error());
  return FinishLogin(cli, std::move(s), std::move(*password),
                     f.device_name.empty() ? Hostname() : f.device_name);
}

// Logs in `s` (server, username, device ID and CA file set) with `password`, which it wipes:
// derives L and R, registers the device as `name` (which proves the credentials), completes
// an administrator's password reset and saves the login file.
int FinishLogin(Cli& cli, client::LoginState s, std::string password, const std::string& name) {
  const crypto::LoginKeys keys = crypto::DeriveLoginKeys(s.username, password);
  SecureZero(password.data(), password.size());
  s.l = keys.l;
  s.r = keys.r;

  client::Account account(s);
  if (auto reg = account.RegisterDevice(name, HALLEY_VERSION); !reg) {
    return cli.Fatal(reg.error(), reg.error().Code() == ErrorCode::kUnauthenticated
                                      ? kExitServerAuth
                                      : kExitFailure);
  }
  auto recovered = account.FinishPasswordReset();
  if (!recovered) return cli.Fatal(recovered.error());
  if (*recovered) {
    cli.Print(
        "The password was reset by an administrator: the account's vault keys are now "
        "wrapped for the new password.\n");
  }
  const std::string dir = client::ConfigDir();
  if (auto saved = client::SaveLogin(dir, s); !saved) return cli.Fatal(saved.error());
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "login";
    j["server"] = s.server;
    j["username"] = s.username;
    j["device_id"] = s.device_id;
    j["config"] = dir + "/login.json";
    cli.PrintJson(j);
  } else {
    cli.Print("Logged in to " + s.server + " as " + s.username + "; this device (" + name +
              ") is " + s.device_id + ".\nThe login is kept in " + dir + "/login.json.\n");
  }
  return kExitOk;
}

// The spec's status texts, with the code in parentheses.
std::pair<int, std::string> LoginStatus(Cli& cli) {
  auto state = client::LoadLogin(client::ConfigDir());
  if (state && !*state) return {0, "Logged out"};
  if (!state) {
    cli.Warn(state.error().Message() + "\n");
    return {0, "Logged out"};
  }
  client::Account account(**state);
  auto profile = account.GetProfile();
  if (!profile) {
    if (profile.error().Code() == ErrorCode::kUnauthenticated) {
      cli.Warn(
          "the server refused this device's stored credentials (was the password "
          "changed?): run `backup-tool login prompt`\n");
      return {4, "Unregistered device for the supplied credentials"};
    }
    cli.Warn(profile.error().Message() + "\n");
    return {3, "Connection error"};
  }
  const Json& devices = profile->profile.value("Devices", Json::object());
  if (!devices.is_object() || !devices.contains((*state)->device_id)) {
    return {4, "Unregistered device for the supplied credentials"};
  }
  if ((*state)->ui_locked) return {1, "Logged in, locked"};
  return {2, "Logged in, unlocked"};
}

int RunLoginStatus(Cli& cli) {
  auto [code, text] = LoginStatus(cli);
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "login_status";
    j["code"] = code;
    j["message"] = text;
    cli.PrintJson(j);
  } else {
    std::cout << text << " (" << code << ")\n";
  }
  return kExitOk;
}

// `login join-lobby`: waits in the server's registration lobby until an administrator assigns
// this device to an account (admin/installation/dispatch/register-device), then logs in with
// the credentials the server passes on, as `login prompt` would.
int RunJoinLobby(Cli& cli, const LoginFlags& f) {
  client::LoginState s;
  auto normalized = client::NormalizeServerUrl(f.server);
  if (!normalized) return cli.Fatal(normalized.error());
  s.server = *normalized;
  auto device = DeviceIdHere();
  if (!device) return cli.Fatal(device.error());
  s.device_id = *device;
  s.ca_file = cli.global.cacert;
  const std::string name = f.device_name.empty() ? Hostname() : f.device_name;

  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::pair<Json, client::LiveReply>> request;  // guarded by mu
  client::LiveLinkOptions o;
  o.server = s.server;
  o.ca_file = s.ca_file;
  o.device_id = s.device_id;
  o.friendly_name = name;
  o.version = HALLEY_VERSION;
  client::LiveLink link(
      o,
      [&](const std::string& action, const Json& params, client::LiveReply reply) {
        if (action != "register") {
          reply({{"Status", 400}, {"Message", "a device in the lobby can only be registered"}});
          return;
        }
        std::lock_guard lock(mu);
        request.emplace(params, std::move(reply));
        cv.notify_all();
      },
      [&](client::LiveState state, const std::string& message) {
        if (state == client::LiveState::kConnected) {
          cli.Print("Waiting in the registration lobby of " + s.server + " as device " +
                    s.device_id + " (" + name +
                    "); an administrator can now assign it to an "
                    "account.\n");
        } else if (state == client::LiveState::kDisconnected && message != "stopped") {
          cli.Warn("lobby connection down: " + message + "\n");
        }
      });
  std::stop_source stop_link;
  std::jthread thread([&] {
    if (auto ran = link.Run(stop_link.get_token()); !ran) {
      cli.Warn("the server refused the lobby connection: " + ran.error().Message() + "\n");
      std::lock_guard lock(mu);
      stop_link.request_stop();
      cv.notify_all();
    }
  });
  const std::stop_token stop = cli.StopToken();
  for (;;) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(200));
    if (stop.stop_requested() || stop_link.stop_requested()) {
      stop_link.request_stop();
      return kExitInterrupted;
    }
    if (!request) continue;
    auto [params, reply] = std::move(*request);
    request.reset();
    lock.unlock();
    s.username = params.value("TargetUser", "");
    std::string password = params.value("TargetPassword", "");
    const int code = FinishLogin(cli, s, std::move(password), name);
    if (code != kExitOk) {
      reply({{"Status", 401}, {"Message", "the device could not log in with those credentials"}});
      continue;  // stay in the lobby for another try
    }
    reply({{"Status", 200}, {"Message", "OK"}});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the answer go out
    stop_link.request_stop();
    return kExitOk;
  }
}

int RunLoginPasswd(Cli& cli, const std::string& new_password_file) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  const client::LoginState& s = (*account)->State();
  auto current = cli.Password("current password for " + s.username + ": ");
  if (!current) return cli.Fatal(current.error());
  const bool matches = s.PasswordMatches(*current);
  SecureZero(current->data(), current->size());
  if (!matches) {
    return cli.Fatal(Error(ErrorCode::kUnauthenticated, "wrong password for " + s.username));
  }
  auto next = new_password_file.empty() ? AskNewPassword("new password for " + s.username)
                                        : ReadPasswordFile(new_password_file);
  if (!next) return cli.Fatal(next.error());
  if (next->empty()) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument, "an empty password is not allowed"));
  }
  auto state = (*account)->ChangePassword(*next);
  SecureZero(next->data(), next->size());
  if (!state) return cli.Fatal(state.error());
  if (auto saved = client::SaveLogin(client::ConfigDir(), *state); !saved) {
    return cli.Fatal(Error(saved.error().Code(),
                           "the password is changed on the server, but this device's login "
                           "could not be saved (" +
                               saved.error().Message() +
                               "): run `backup-tool login prompt` with the new password"));
  }
  cli.Print(
      "Password changed. Every vault key in the profile is re-wrapped for it; other "
      "devices of this account must log in again with the new password.\n");
  return kExitOk;
}

int RunLoginDisconnect(Cli& cli) {
  auto removed = client::RemoveLogin(client::ConfigDir());
  if (!removed) return cli.Fatal(removed.error());
  cli.Print(*removed ? "Logged out: this device's stored credentials are deleted.\n"
                     : "This device was not logged in.\n");
  return kExitOk;
}

}  // namespace

void AddLogin(CLI::App& app, Cli& cli) {
  auto* login = app.add_subcommand("login", "control the login to a Halley server");
  auto f = std::make_shared<LoginFlags>();
  auto* prompt = login->add_subcommand(
      "prompt", "log in (the password is asked for, or taken from BACKUP_TOOL_PASSWORD*)");
  prompt->add_option("--server", f->server, "the server's URL, e.g. https://backup.example.com/");
  prompt->add_option("--username", f->username, "the account's username");
  prompt->add_option("--device-name", f->device_name, "this device's name (default: hostname)");
  prompt->add_flag("--lock-ui", f->lock_ui,
                   "ask for the password before showing vault contents (restore, ls, ...); "
                   "scheduled jobs still run");
  prompt->callback([&cli, f] { cli.exit_code = RunLoginPrompt(cli, *f); });
  auto new_password_file = std::make_shared<std::string>();
  auto* passwd = login->add_subcommand(
      "passwd", "change the account's password (asks for the current one first)");
  passwd->add_option("--new-password-file", *new_password_file,
                     "read the new password from a file instead of asking twice");
  passwd->callback(
      [&cli, new_password_file] { cli.exit_code = RunLoginPasswd(cli, *new_password_file); });
  auto lobby = std::make_shared<LoginFlags>();
  auto* join =
      login->add_subcommand("join-lobby",
                            "wait in a server's registration lobby until an administrator assigns "
                            "this device to an account");
  join->add_option("server-url", lobby->server, "the server's URL")->required();
  join->add_option("--device-name", lobby->device_name, "this device's name (default: hostname)");
  join->callback([&cli, lobby] { cli.exit_code = RunJoinLobby(cli, *lobby); });
  login->add_subcommand("status", "display the login status")->callback([&cli] {
    cli.exit_code = RunLoginStatus(cli);
  });
  login->add_subcommand("disconnect", "log out: delete the stored credentials")->callback([&cli] {
    cli.exit_code = RunLoginDisconnect(cli);
  });
  AddSpecHelp(*login, "backup-tool login COMMAND",
              {{"status", "Display the login status of the background service"},
               {"prompt", "Interactively prompt for service login credentials"},
               {"disconnect", "Log out of the application"},
               {"join-lobby [server-url]", "Connect to the server for remote registration"},
               {"help", "Display this message"}});
}

void AddInfo(CLI::App& app, Cli& cli) {
  auto* info = app.add_subcommand("info", "display information about this client");
  info->add_subcommand("device-id", "display the device ID")->callback([&cli] {
    auto id = DeviceIdHere();
    if (!id) {
      cli.exit_code = cli.Fatal(id.error());
      return;
    }
    std::cout << *id << "\n";
    cli.exit_code = kExitOk;
  });
  AddSpecHelp(*info, "backup-tool info COMMAND",
              {{"device-id", "Display the device id"}, {"help", "Display this message"}});
}

}  // namespace halley::cli
