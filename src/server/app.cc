// SPDX-License-Identifier: Apache-2.0
#include "server/app.h"

#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "base/log.h"
#include "server/web_ui.h"
#include "storage/retrying_blob_store.h"
#include "storage/s3_blob_store.h"

namespace halley::server {
namespace {

Result<void> MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Fail(ErrnoError("creating " + path, ec.value()));
  return {};
}

// Where the bucket registrations live in an S3 Storage Role: beside the buckets, under a
// name no bucket ID can take ('.' is not allowed in IDs).
constexpr std::string_view kSharedRegistrations = ".halley-buckets";
// How long a registration read from S3 is trusted before it is read again: a bucket deleted
// through another server stops working here within this time.
constexpr std::chrono::seconds kSharedRegistrationRefresh{10};

// The store of `prefix` below the S3 destination. Requests that fail for a moment are
// retried briefly; the client retries for longer.
Result<storage::BlobStorePtr> OpenS3Prefix(const S3Destination& s3, const std::string& prefix) {
  storage::S3Options o;
  o.credentials = {s3.access_key, s3.secret_key, ""};
  o.region = s3.region;
  HALLEY_ASSIGN_OR_RETURN(auto store,
                          storage::S3BlobStore::Open(s3.location + "/" + prefix, std::move(o)));
  storage::RetryPolicy retry;
  retry.give_up_after = std::chrono::seconds(20);
  return storage::BlobStorePtr(
      std::make_unique<storage::RetryingBlobStore>(std::move(store), std::move(retry)));
}

// DatabaseCheckLevel: 0 none, 1 quick check, 2 and more full integrity check.
Result<void> CheckDatabase(const std::string& path, int level) {
  if (level <= 0) return {};
  HALLEY_ASSIGN_OR_RETURN(db::Database db, db::Database::Open(path));
  auto checked = db.IntegrityCheck(level >= 2);
  if (!checked) return Fail(checked.error().WithContext(path));
  LogLine(LogLevel::kInfo, "database_checked", {{"path", path}, {"full", level >= 2}});
  return {};
}

}  // namespace

Result<std::unique_ptr<App>> App::Open(AppOptions options) {
  if (options.config_path.empty()) options.config_path = options.data_dir + "/halleyd.cfg";
  HALLEY_RETURN_IF_ERROR(MakeDirs(options.data_dir));
  ::chmod(options.data_dir.c_str(), 0700);
  HALLEY_ASSIGN_OR_RETURN(ServerConfig config,
                          ServerConfig::LoadOrCreate(options.config_path, options.data_dir));
  HALLEY_ASSIGN_OR_RETURN(bool hashed, config.HashPlaintextPasswords());
  if (hashed) {
    HALLEY_RETURN_IF_ERROR(config.Save(options.config_path));
    LogLine(LogLevel::kInfo, "admin_passwords_hashed", {{"config", options.config_path}});
  }
  std::unique_ptr<App> app(new App(options, config));
  const std::string& dir = options.data_dir;
  const int check = config.DatabaseCheckLevel();
  for (const char* name :
       {"halley-buckets.db3", "halley-sessions.db3", "halley-users.db3", "halley-jobs.db3"}) {
    if (::access((dir + "/" + name).c_str(), F_OK) == 0) {
      HALLEY_RETURN_IF_ERROR(CheckDatabase(dir + "/" + name, check));
    }
  }
  BucketStorage storage;
  if (auto s3 = config.StorageS3(); s3 && config.StorageRoleEnabled()) {
    // Buckets and their registrations in one S3 bucket, shared by every server using it.
    storage.open_remote = [s3 = *s3](const std::string& prefix) {
      return OpenS3Prefix(s3, prefix);
    };
    HALLEY_ASSIGN_OR_RETURN(storage::BlobStorePtr records,
                            storage.open_remote(std::string(kSharedRegistrations)));
    if (auto made = records->Create(); !made) {
      return Fail(made.error().WithContext("the Storage Role's S3 storage " + s3->location));
    }
    HALLEY_ASSIGN_OR_RETURN(
        app->buckets_,
        BucketRegistry::OpenShared(std::move(records), *options.clock, kSharedRegistrationRefresh));
  } else {
    HALLEY_ASSIGN_OR_RETURN(app->buckets_,
                            BucketRegistry::Open(dir + "/halley-buckets.db3", *options.clock));
    if (config.StorageRoleEnabled()) {
      storage.volumes = config.StorageVolumes();
      for (const std::string& v : storage.volumes) HALLEY_RETURN_IF_ERROR(MakeDirs(v));
    }
  }
  HALLEY_ASSIGN_OR_RETURN(app->sessions_,
                          SessionStore::Open(dir + "/halley-sessions.db3", *options.clock));
  HALLEY_ASSIGN_OR_RETURN(app->users_, UserStore::Open(dir + "/halley-users.db3"));
  HALLEY_ASSIGN_OR_RETURN(app->jobs_, JobStore::Open(dir + "/halley-jobs.db3", *options.clock));
  app->storage_ =
      std::make_unique<StorageRole>(*app->buckets_, std::move(storage), config.VerifyUploads());
  app->start_time_ =
      std::chrono::duration_cast<std::chrono::seconds>(options.clock->Now().time_since_epoch())
          .count();
  app->DailyMaintenance();
  if (options.job_sweep_interval.count() > 0) {
    app->sweeper_ = std::jthread([a = app.get(),
                                  every = options.job_sweep_interval](std::stop_token stop) {
      std::mutex mu;
      std::condition_variable_any wake;  // only the stop request wakes it early
      std::unique_lock lock(mu);
      while (!wake.wait_for(lock, stop, every, [] { return false; }) && !stop.stop_requested()) {
        a->SweepJobs();
      }
    });
  }
  return app;
}

std::vector<httpd::ListenSpec> App::Listen() const { return Config().ListenAddresses(); }

ServerConfig App::Config() const {
  std::lock_guard lock(config_mu_);
  return config_;
}

Result<void> App::UpdateConfig(const std::function<Result<void>(ServerConfig&)>& edit) {
  std::lock_guard lock(config_mu_);
  ServerConfig next = config_;
  HALLEY_RETURN_IF_ERROR(edit(next));
  HALLEY_RETURN_IF_ERROR(next.Save(options_.config_path));
  config_ = std::move(next);
  return {};
}

void App::DailyMaintenance() {
  const int64_t now = jobs_->Now();
  int64_t last = last_prune_.load();
  if (now - last < 86400 || !last_prune_.compare_exchange_strong(last, now)) return;
  auto pruned = jobs_->PruneOlderThan(Config().PruneLogsAfterDays());
  if (!pruned) {
    LogLine(LogLevel::kWarning, "jobs_prune_failed", {{"error", pruned.error().Message()}});
  } else if (*pruned > 0) {
    LogLine(LogLevel::kInfo, "jobs_pruned", {{"jobs", *pruned}});
  }
  if (!Config().StorageRoleEnabled()) return;
  auto removed = storage_->RemoveStaleTemporaries();
  if (!removed) {
    LogLine(LogLevel::kWarning, "temporaries_cleanup_failed",
            {{"error", removed.error().Message()}});
  } else if (*removed > 0) {
    LogLine(LogLevel::kInfo, "temporaries_removed", {{"files", *removed}});
  }
}

void App::SweepJobs() {
  const ServerConfig config = Config();
  if (!config.AuthRoleEnabled()) return;
  const int64_t now = jobs_->Now();
  const int64_t abandon_after = config.AbandonJobsAfterSeconds();
  if (now - start_time_ >= abandon_after) {
    auto abandoned = jobs_->AbandonSilent(abandon_after);
    if (!abandoned) {
      LogLine(LogLevel::kWarning, "jobs_abandon_failed", {{"error", abandoned.error().Message()}});
    } else {
      for (const std::string& id : *abandoned) {
        LogLine(LogLevel::kInfo, "job_abandoned", {{"job", id}, {"silent_seconds", abandon_after}});
      }
    }
  }
  MissedPolicy policy;
  policy.generate = config.GenerateMissedBackupEvents();
  policy.not_before = config.NoMissedBackupEventsBefore();
  policy.grace_seconds = config.MissedBackupGraceSeconds();
  policy.judge_from = start_time_;
  policy.device_exists = [this](const std::string& user, const std::string& device) {
    auto p = users_->Get(user);
    if (!p) return p.error().Code() != ErrorCode::kNotFound;  // keep the plan on a read error
    const Json& devices = p->profile.value("Devices", Json::object());
    return devices.is_object() && devices.contains(device);
  };
  auto missed = jobs_->JudgeMissed(policy);
  if (!missed) {
    LogLine(LogLevel::kWarning, "jobs_missed_failed", {{"error", missed.error().Message()}});
  } else {
    for (const std::string& id : *missed) LogLine(LogLevel::kInfo, "job_missed", {{"job", id}});
  }
  DailyMaintenance();
}

std::string App::ClientAddress(const httpd::Request& req) const {
  if (Config().TrustXForwardedFor()) {
    std::string_view xff = req.Header("x-forwarded-for");
    const size_t comma = xff.find(',');
    std::string_view first = xff.substr(0, comma);
    while (!first.empty() && first.front() == ' ') first.remove_prefix(1);
    while (!first.empty() && first.back() == ' ') first.remove_suffix(1);
    if (!first.empty()) return std::string(first);
  }
  return req.peer_address;
}

httpd::Response App::Handle(httpd::Request& req) {
  const auto t0 = std::chrono::steady_clock::now();
  httpd::Response res;
  const std::string_view path = req.path;
  if (path == "/healthz") {
    res = httpd::Response::Text(200, "ok\n");
  } else if (path == "/readyz") {
    res = draining_.load() ? httpd::Response::Text(503, "draining\n")
                           : httpd::Response::Text(200, "ready\n");
  } else if (path.rfind("/api/v1/", 0) == 0) {
    res = HandleApi(*this, req);
  } else if (path.rfind("/storage/", 0) == 0) {
    res = Config().StorageRoleEnabled()
              ? storage_->Handle(req)
              : httpd::Response::Message(403, "This API requires the Storage Role to be enabled");
  } else if (path == "/" || path.rfind("/web/", 0) == 0) {
    res = ServeWebUi(req);
  } else {
    res = httpd::Response::Message(404, "Not found");
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count() /
      1000.0;
  // The path only: query strings and bodies may carry credentials.
  LogLine(res.status >= 500 ? LogLevel::kWarning : LogLevel::kInfo, "request",
          {{"method", req.method},
           {"path", req.path},
           {"status", res.status},
           {"client", ClientAddress(req)},
           {"ms", ms}});
  return res;
}

}  // namespace halley::server
