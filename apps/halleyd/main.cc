// SPDX-License-Identifier: Apache-2.0
//
// halleyd: the Halley server (Authentication and Storage roles). Wiring only: flags, the
// configuration, the listeners, and an orderly stop on SIGTERM/SIGINT.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "base/log.h"
#include "httpd/http.h"
#include "server/app.h"

namespace {

int Fatal(const halley::Error& e) {
  halley::LogLine(halley::LogLevel::kError, "fatal", {{"error", e.Message()}});
  std::cerr << "halleyd: " << e.Message() << "\n";
  return 1;
}

// Every live device holds a socket open: take the whole descriptor allowance the system grants
// (the soft limit is often 1024 of a far larger hard limit) and size the WebSocket bound to it,
// keeping room for HTTP connections, databases and storage files.
halley::httpd::ServerOptions SizedToDescriptors() {
  halley::httpd::ServerOptions options;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return options;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return options;
  const size_t reserved = options.max_connections + 256;
  const size_t room = limit.rlim_cur > reserved ? limit.rlim_cur - reserved : 64;
  options.max_websockets = std::min(options.max_websockets, room);
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace halley;
  CLI::App cli{"halleyd: the Halley backup server (Authentication and Storage roles)"};
  std::string data_dir, config_path, log_level = "info";
  std::vector<std::string> listen;
  bool check_config = false;
  cli.add_option("--data-dir", data_dir, "directory for halleyd.cfg, databases and storage")
      ->required();
  cli.add_option("--config", config_path, "configuration file (default DATA-DIR/halleyd.cfg)");
  cli.add_option("--listen", listen,
                 "HOST:PORT to serve on instead of the configured ListenAddresses "
                 "(port 0 picks a free port; repeatable)");
  cli.add_flag("--check-config", check_config, "validate the configuration and exit");
  cli.add_option("--log-level", log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  cli.set_version_flag("--version", std::string("halleyd ") + HALLEY_VERSION);
  CLI11_PARSE(cli, argc, argv);

  SetLogLevel(log_level == "debug"     ? LogLevel::kDebug
              : log_level == "warning" ? LogLevel::kWarning
              : log_level == "error"   ? LogLevel::kError
                                       : LogLevel::kInfo);
  std::error_code ec;
  data_dir = std::filesystem::absolute(data_dir, ec).lexically_normal().string();
  if (!data_dir.empty() && data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();

  if (check_config) {
    const std::string path = config_path.empty() ? data_dir + "/halleyd.cfg" : config_path;
    auto config = server::ServerConfig::LoadOrCreate(path, data_dir);
    if (!config) return Fatal(config.error());
    std::cout << path << ": OK\n";
    return 0;
  }

  // Signals are taken by sigwait() below; block them before any thread starts so that every
  // thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  server::AppOptions options;
  options.data_dir = data_dir;
  options.config_path = config_path;
  options.version = HALLEY_VERSION;
  auto app = server::App::Open(options);
  if (!app) return Fatal(app.error());

  std::vector<httpd::ListenSpec> specs = (*app)->Listen();
  if (!listen.empty()) {
    specs.clear();
    for (const std::string& address : listen) specs.push_back({address, "", ""});
  }
  const httpd::ServerOptions server_options = SizedToDescriptors();
  auto server = httpd::StartServer(
      specs, [&app](httpd::Request& req) { return (*app)->Handle(req); }, server_options);
  if (!server) return Fatal(server.error());
  const auto bound = (*server)->BoundAddresses();
  for (size_t i = 0; i < bound.size(); ++i) {
    const bool tls = !specs[i].tls_cert_path.empty();
    LogLine(LogLevel::kInfo, "listening",
            {{"address", bound[i]},
             {"url", std::string(tls ? "https://" : "http://") + bound[i] + "/"},
             {"data_dir", data_dir},
             {"max_live_connections", server_options.max_websockets},
             {"version", HALLEY_VERSION}});
  }

  int sig = 0;
  sigwait(&signals, &sig);
  LogLine(LogLevel::kInfo, "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*app)->SetDraining();
  (*server)->Stop();
  LogLine(LogLevel::kInfo, "stopped");
  return 0;
}
