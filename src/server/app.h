// SPDX-License-Identifier: Apache-2.0
//
// halleyd's request router and the state its roles share: the configuration, the databases,
// sessions and login protection. One App serves every listener; Handle() is called from many
// threads at once.
//
//   /healthz               200 while the process runs
//   /readyz                200 once the databases are open and the server is not draining
//   /api/v1/<endpoint>     the JSON API (api.cc; reference/comet.md §2)
//   /storage/<bucket>/...  the Storage Role (storage_role.h)
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "httpd/http.h"
#include "server/buckets.h"
#include "server/config.h"
#include "server/jobs.h"
#include "server/live.h"
#include "server/login_guard.h"
#include "server/sessions.h"
#include "server/storage_role.h"
#include "server/users.h"

namespace halley::server {

struct AppOptions {
  std::string data_dir;     // absolute
  std::string config_path;  // default <data_dir>/halleyd.cfg
  std::string version;      // reported by admin/meta/version
  Clock* clock = &Clock::System();
  // How often the background sweeper runs SweepJobs() (real time); 0: no sweeper thread.
  std::chrono::milliseconds job_sweep_interval{5000};
};

class App {
 public:
  // Loads (or writes the default) configuration, hashes plaintext admin passwords in it,
  // creates the storage volumes, opens and migrates the databases and, with
  // DatabaseCheckLevel > 0, checks their integrity (quick check; 2 and more: full check).
  static Result<std::unique_ptr<App>> Open(AppOptions options);

  httpd::Response Handle(httpd::Request& req);

  std::vector<httpd::ListenSpec> Listen() const;
  // Marks the server as draining: /readyz answers 503 so a load balancer stops sending work.
  void SetDraining() { draining_.store(true); }

  // --- for the API handlers (api.cc) ---
  ServerConfig Config() const;
  // Applies `edit` to the configuration and saves it, atomically with respect to other edits
  // (the check-then-change of add-first-admin-user cannot race). Nothing changes if `edit` or
  // the save fails.
  Result<void> UpdateConfig(const std::function<Result<void>(ServerConfig&)>& edit);
  const AppOptions& Options() const { return options_; }
  BucketRegistry& Buckets() { return *buckets_; }
  StorageRole& Storage() { return *storage_; }
  SessionStore& Sessions() { return *sessions_; }
  UserStore& Users() { return *users_; }
  JobStore& Jobs() { return *jobs_; }
  LiveHub& Live() { return live_; }
  SecretCache& UserSecrets() { return user_secrets_; }
  LoginGuard& Guard() { return guard_; }
  SecretCache& AdminSecrets() { return admin_secrets_; }
  Clock& GetClock() { return *options_.clock; }
  int64_t StartTime() const { return start_time_; }
  // At most once a day (called at start and as jobs finish, so a server that runs for months
  // keeps at it): deletes job history older than PruneLogsAfterDays, and the temporary files
  // of uploads that never finished (a crash) from the buckets.
  void DailyMaintenance();
  // Server-generated job states (docs/server.md "Server-generated jobs"): abandons running jobs
  // silent for AbandonJobsAfterSeconds (not before the server itself has run that long: devices
  // cannot report to a stopped server), judges the devices' planned backup times that are due
  // (missed: 7004), and runs DailyMaintenance. Called by the sweeper thread every
  // job_sweep_interval; errors are logged. Thread-safe.
  void SweepJobs();
  // The client's address: the TCP peer, or with TrustXForwardedFor the left-most
  // X-Forwarded-For entry.
  std::string ClientAddress(const httpd::Request& req) const;

 private:
  explicit App(AppOptions options, ServerConfig config)
      : options_(std::move(options)),
        config_(std::move(config)),
        guard_(*options_.clock),
        live_(*options_.clock) {}

  AppOptions options_;
  mutable std::mutex config_mu_;
  ServerConfig config_;  // guarded by config_mu_
  std::unique_ptr<BucketRegistry> buckets_;
  std::unique_ptr<StorageRole> storage_;
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<UserStore> users_;
  std::unique_ptr<JobStore> jobs_;
  SecretCache user_secrets_;
  LoginGuard guard_;
  SecretCache admin_secrets_;
  LiveHub live_;
  int64_t start_time_ = 0;
  std::atomic<int64_t> last_prune_{0};
  std::atomic<bool> draining_{false};
  // Runs SweepJobs() until the App is destroyed. Declared last: it stops (promptly: its wait is
  // interrupted) and is joined before the stores it uses go away.
  std::jthread sweeper_;
};

// The JSON API: routes /api/v1/... to its endpoint (api.cc).
httpd::Response HandleApi(App& app, httpd::Request& req);

}  // namespace halley::server
