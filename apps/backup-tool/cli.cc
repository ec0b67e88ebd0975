// SPDX-License-Identifier: Apache-2.0
#include "cli.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "base/host.h"
#include "repo/key_file.h"
#include "storage/limited_blob_store.h"
#include "storage/local_blob_store.h"
#include "storage/rest_blob_store.h"
#include "storage/retrying_blob_store.h"
#include "storage/s3_blob_store.h"
#include "storage/sftp_blob_store.h"

namespace halley::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void StripNewline(std::string& s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
}

Result<std::string> RunPasswordCommand(const std::string& command) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Fail(ErrnoError("pipe", errno));
  pid_t pid = ::fork();
  if (pid < 0) return Fail(ErrnoError("fork", errno));
  if (pid == 0) {
    ::dup2(pipefd[1], STDOUT_FILENO);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1 << 20)) break;
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Fail(ErrorCode::kInvalidArgument, "password command failed");
  }
  StripNewline(out);
  return out;
}

Result<std::string> PromptTty(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "no password given: set BACKUP_TOOL_PASSWORD, BACKUP_TOOL_PASSWORD_FILE or "
                "BACKUP_TOOL_PASSWORD_COMMAND, or run on a terminal");
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  struct termios old {};
  bool restore = ::tcgetattr(fd, &old) == 0;
  if (restore) {
    struct termios noecho = old;
    noecho.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &noecho);
  }
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
  (void)!::write(fd, "\n", 1);
  ::close(fd);
  StripNewline(line);
  return line;
}

}  // namespace

Cli::Cli() {
  global.repo = Env("BACKUP_TOOL_REPOSITORY");
  global.vault = Env("BACKUP_TOOL_VAULT");
  global.cacert = Env("BACKUP_TOOL_CACERT");
  if (const std::string r = Env("BACKUP_TOOL_RETRY_SECONDS"); !r.empty()) {
    global.retry_seconds = std::atoi(r.c_str());
  }
}

void Cli::InstallSignalHandlers() {
  // A dedicated thread waits for the signals, so that the handler work (requesting a stop) is
  // not restricted to async-signal-safe calls.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, this]() mutable {
    int sig;
    sigwait(&set, &sig);
    stop_.request_stop();
    sigwait(&set, &sig);
    ::_exit(kExitInterrupted);
  }).detach();
}

Result<client::Account*> Cli::Account() const {
  if (!account_) {
    const std::string dir = client::ConfigDir();
    HALLEY_ASSIGN_OR_RETURN(auto state, client::LoadLogin(dir));
    if (!state) {
      return Fail(ErrorCode::kInvalidArgument,
                  "this device is not logged in to a server (no " + dir +
                      "/login.json): run `backup-tool login prompt` first");
    }
    account_ = std::make_unique<client::Account>(std::move(*state));
  }
  return account_.get();
}

Result<const client::VaultAccess*> Cli::ManagedVault() const {
  if (global.vault.empty()) return static_cast<const client::VaultAccess*>(nullptr);
  if (!managed_vault_) {
    HALLEY_ASSIGN_OR_RETURN(client::Account * account, Account());
    HALLEY_ASSIGN_OR_RETURN(managed_vault_, account->OpenVault(global.vault));
  }
  return &*managed_vault_;
}

Result<void> Cli::UnlockContents() const {
  if (global.vault.empty()) return {};
  HALLEY_ASSIGN_OR_RETURN(client::Account * account, Account());
  const client::LoginState& s = account->State();
  if (!s.ui_locked) return {};
  HALLEY_ASSIGN_OR_RETURN(std::string pw, PromptTty("this device's login is locked: password for " +
                                                    s.username + ": "));
  const bool ok = s.PasswordMatches(pw);
  SecureZero(pw.data(), pw.size());
  if (!ok) return Fail(ErrorCode::kUnauthenticated, "wrong password for " + s.username);
  return {};
}

Result<std::unique_ptr<repo::Repository>> Cli::InitVault(storage::BlobStore& store,
                                                         const std::string& password,
                                                         bool full_entropy_password) const {
  repo::InitOptions init;
  // A managed vault's password is hex(E), a random key: the KDF cannot make it stronger.
  init.kdf = full_entropy_password ? repo::kFullEntropyScryptParams : repo::PasswordScryptParams();
  init.username = Username();
  init.hostname = Hostname();
  return repo::Repository::Init(store, password, init, RepoOptions());
}

Result<storage::BlobStorePtr> Cli::OpenStore() const {
  HALLEY_ASSIGN_OR_RETURN(const client::VaultAccess* managed, ManagedVault());
  const std::string& location = managed ? managed->location : global.repo;
  if (location.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "Please specify the vault: --vault (a Storage Vault of the logged-in account) "
                "or -r/--repo (env BACKUP_TOOL_REPOSITORY)");
  }
  const bool rest = location.rfind("rest:", 0) == 0;
  const bool s3 = location.rfind("s3:", 0) == 0;
  httpclient::ClientOptions http;
  if (global.limit_upload_kib > 0) {
    http.upload_limit = std::make_shared<httpclient::RateLimiter>(global.limit_upload_kib * 1024);
  }
  if (global.limit_download_kib > 0) {
    http.download_limit =
        std::make_shared<httpclient::RateLimiter>(global.limit_download_kib * 1024);
  }
  // Ctrl-C (or the daemon's time limit) ends a transfer in progress, not only the next one.
  http.cancelled = [this] { return stop_.stop_requested(); };
  if (rest || s3) {
    // A managed vault on the account's server trusts what the login was told to trust.
    std::string ca = global.cacert;
    if (ca.empty() && managed) ca = account_->State().ca_file;
    if (!ca.empty()) {
      // Checked here: libcurl would only notice at the first https connection.
      if (::access(ca.c_str(), R_OK) != 0) {
        return Fail(ErrorCode::kInvalidArgument,
                    "cannot read the CA file " + ca + " (--cacert): " + std::strerror(errno));
      }
      http.ca_file = ca;
    }
  }
  if (rest) {
    HALLEY_ASSIGN_OR_RETURN(auto store,
                            storage::RestBlobStore::Open(location.substr(5), std::move(http)));
    return WithRetries(std::move(store));
  }
  if (s3) {
    HALLEY_ASSIGN_OR_RETURN(storage::S3Options options, S3Settings());
    options.http = std::move(http);
    // A managed S3 vault brings its own credentials (its secret unwrapped from the profile).
    if (managed && !managed->s3_access_key.empty()) {
      options.credentials = {managed->s3_access_key, managed->s3_secret_key, ""};
      if (!managed->s3_region.empty()) options.region = managed->s3_region;
    }
    // The profile's Object Lock (S3ObjectLockMode, S3ObjectLockDays) is the product's:
    // compliance mode.
    if (managed && managed->s3_object_lock_days > 0) {
      options.object_lock = storage::S3ObjectLock::kCompliance;
      options.object_lock_days = managed->s3_object_lock_days;
    }
    HALLEY_ASSIGN_OR_RETURN(auto store,
                            storage::S3BlobStore::Open(location.substr(3), std::move(options)));
    return WithRetries(std::move(store));
  }
  if (location.rfind("sftp:", 0) == 0) {
    HALLEY_ASSIGN_OR_RETURN(storage::SftpOptions options, SftpSettings());
    // A managed SFTP vault brings its login (unwrapped from the profile) and known_hosts file.
    if (managed) {
      if (!managed->sftp_password.empty()) options.password = managed->sftp_password;
      options.private_key = managed->sftp_private_key;
      if (!managed->sftp_known_hosts.empty()) options.known_hosts = managed->sftp_known_hosts;
    }
    options.upload_limit = http.upload_limit;
    options.download_limit = http.download_limit;
    options.cancelled = http.cancelled;
    HALLEY_ASSIGN_OR_RETURN(auto store,
                            storage::SftpBlobStore::Open(location.substr(5), std::move(options)));
    return WithRetries(std::move(store));
  }
  for (const char* scheme : {"b2:", "azure:", "gs:"}) {
    if (location.rfind(scheme, 0) == 0) {
      return Fail(ErrorCode::kNotSupported,
                  std::string("vault type \"") + scheme + "\" is not supported yet");
    }
  }
  std::string path = location.rfind("local:", 0) == 0 ? location.substr(6) : location;
  return storage::LocalBlobStore::Open(path);
}

storage::BlobStorePtr Cli::WithRetries(storage::BlobStorePtr remote) const {
  storage::RetryPolicy policy;
  policy.give_up_after = std::chrono::seconds(std::max(global.retry_seconds, 0));
  policy.on_retry = [this](const Error& e, std::chrono::milliseconds wait) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", static_cast<double>(wait.count()) / 1000);
    Warn("Warning: " + e.Message() + "; retrying in " + secs + " s\n");
  };
  policy.cancelled = [this] { return stop_.stop_requested(); };
  storage::BlobStorePtr retrying =
      std::make_unique<storage::RetryingBlobStore>(std::move(remote), std::move(policy));
  if (global.connections <= 0) return retrying;
  // Outside the retries: a call waiting to retry keeps its slot.
  return std::make_unique<storage::LimitedBlobStore>(std::move(retrying), global.connections);
}

Result<storage::S3Options> Cli::S3Settings() const {
  storage::S3Options o;
  o.credentials = {Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY"),
                   Env("AWS_SESSION_TOKEN")};
  if (o.credentials.access_key_id.empty() != o.credentials.secret_access_key.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for an s3: vault (or "
                "neither, for a public bucket)");
  }
  o.region = Env("AWS_DEFAULT_REGION");
  if (o.region.empty()) o.region = Env("AWS_REGION");
  for (const auto& [key, value] : BackendOptions("s3.")) {
    if (key == "region") {
      o.region = value;
    } else if (key == "bucket-lookup") {
      o.bucket_lookup = value;
    } else if (key == "object-lock") {
      if (value == "governance") {
        o.object_lock = storage::S3ObjectLock::kGovernance;
      } else if (value == "compliance") {
        o.object_lock = storage::S3ObjectLock::kCompliance;
      } else if (value == "off") {
        o.object_lock = storage::S3ObjectLock::kOff;
      } else {
        return Fail(ErrorCode::kInvalidArgument,
                    "-o s3.object-lock is governance, compliance or off, not \"" + value + "\"");
      }
    } else if (key == "object-lock-days") {
      auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), o.object_lock_days);
      if (ec != std::errc() || end != value.data() + value.size() || o.object_lock_days < 1 ||
          o.object_lock_days > 36500) {
        return Fail(
            ErrorCode::kInvalidArgument,
            "-o s3.object-lock-days is a number of days from 1 to 36500, not \"" + value + "\"");
      }
    } else {
      return Fail(ErrorCode::kInvalidArgument,
                  "unknown option -o s3." + key +
                      " (known: s3.region, s3.bucket-lookup, s3.object-lock, "
                      "s3.object-lock-days)");
    }
  }
  // Either alone is a mistake a user would find out only once the retention was needed.
  if ((o.object_lock != storage::S3ObjectLock::kOff) != (o.object_lock_days > 0)) {
    return Fail(ErrorCode::kInvalidArgument,
                "Object Lock takes both -o s3.object-lock=governance|compliance and "
                "-o s3.object-lock-days=N");
  }
  return o;
}

Result<storage::SftpOptions> Cli::SftpSettings() const {
  storage::SftpOptions o;
  o.password = Env("BACKUP_TOOL_SFTP_PASSWORD");
  if (global.connections > 0) o.connections = global.connections;
  for (const auto& [key, value] : BackendOptions("sftp.")) {
    if (key == "known-hosts") {
      o.known_hosts = value;
    } else if (key == "identity") {
      o.identity = value;
    } else if (key == "config") {
      o.config_file = value;
    } else if (key == "connections") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), o.connections);
      if (ec != std::errc() || end != value.data() + value.size()) o.connections = 0;
    } else {
      return Fail(ErrorCode::kInvalidArgument,
                  "unknown option -o sftp." + key +
                      " (known: sftp.known-hosts, sftp.identity, sftp.config, sftp.connections)");
    }
  }
  return o;
}

std::vector<std::pair<std::string, std::string>> Cli::BackendOptions(
    std::string_view prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& option : global.options) {
    if (option.rfind(prefix, 0) != 0) continue;
    const size_t eq = option.find('=');
    out.emplace_back(option.substr(prefix.size(), eq - prefix.size()),
                     eq == std::string::npos ? "" : option.substr(eq + 1));
  }
  return out;
}

repo::RepositoryOptions Cli::RepoOptions() const {
  repo::RepositoryOptions o;
  if (global.compression == "off") o.compression = repo::Compression::kOff;
  if (global.compression == "max") o.compression = repo::Compression::kMax;
  o.pack_size = static_cast<size_t>(std::clamp(global.pack_size_mib, 4, 128)) << 20;
  return o;
}

std::optional<OpenVault> Cli::Open(LockMode lock, bool load_index, int& code) {
  OpenVault v;
  if (!global.vault.empty() && !managed_vault_) {
    // The profile first: the account's server refusing this device (13) is told apart from
    // this login's key not opening the vault's keys (12).
    auto account = Account();
    if (!account) {
      code = Fatal(account.error());
      return std::nullopt;
    }
    auto profile = (*account)->GetProfile();
    if (!profile) {
      code = AccountFatal(profile.error());
      return std::nullopt;
    }
    auto vault = (*account)->OpenVault(std::move(*profile), global.vault);
    if (!vault) {
      code = Fatal(vault.error());
      return std::nullopt;
    }
    managed_vault_ = std::move(*vault);
  }
  auto store = OpenStore();
  if (!store) {
    code = Fatal(store.error());
    return std::nullopt;
  }
  v.store = std::move(*store);
  // A missing vault is reported before asking for a password.
  auto cfg = v.store->Stat(storage::ObjectHandle::Config());
  if (managed_vault_ && (cfg || cfg.error().Code() == ErrorCode::kNotFound)) {
    // RepoInitTimestamp 0 means "not created yet" (the manual): the device creates it on
    // first use with the password it chose, and records that it did.
    if (auto made = PrepareManagedVault(*v.store, cfg.has_value()); !made) {
      code = Fatal(made.error());
      return std::nullopt;
    }
    cfg = v.store->Stat(storage::ObjectHandle::Config());
  }
  if (!cfg) {
    if (cfg.error().Code() == ErrorCode::kUnauthenticated) {
      // The first request to the store, before any password: only the server can refuse it.
      code = Fatal(cfg.error(), kExitServerAuth);
    } else if (cfg.error().Code() == ErrorCode::kNotFound) {
      code = Fatal(Error(ErrorCode::kNotFound,
                         "unable to open config file: " + v.store->Location() +
                             "/config does not exist\nIs there a vault at the following "
                             "location?\n" +
                             v.store->Location()),
                   kExitNoVault);
    } else {
      code = Fatal(cfg.error());
    }
    return std::nullopt;
  }
  auto password = Password();
  if (!password) {
    code = Fatal(password.error());
    return std::nullopt;
  }
  auto r = repo::Repository::Open(*v.store, *password, RepoOptions());
  SecureZero(password->data(), password->size());
  if (!r) {
    code = Fatal(r.error(), r.error().Code() == ErrorCode::kNotFound ? kExitNoVault : -1);
    return std::nullopt;
  }
  v.repo = std::move(*r);
  if (lock != LockMode::kNone && !global.no_lock) {
    // A lock is written and then the locks are listed again. Where a listing shows every write
    // completed before it (a local file system, an SFTP server's) that second look is enough:
    // of two clients locking at once, the one that wrote last sees the other's lock. Stores
    // over HTTP (rest:, s3:) keep restic's wait for listings that lag behind writes.
    const std::string& location = managed_vault_ ? managed_vault_->location : global.repo;
    repo::LockOptions lock_options;
    if (location.rfind("rest:", 0) != 0 && location.rfind("s3:", 0) != 0) {
      lock_options.settle = std::chrono::milliseconds(0);
    }
    const auto acquire = [&] {
      return repo::VaultLock::Acquire(*v.repo, lock == LockMode::kExclusive, Clock::System(),
                                      lock_options);
    };
    auto l = acquire();
    // --retry-lock: another client's lock is waited out (restic's flag), up to the deadline.
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(global.retry_lock_seconds);
    for (auto wait = std::chrono::seconds(1);
         !l && l.error().Code() == ErrorCode::kLocked && !StopToken().stop_requested() &&
         std::chrono::steady_clock::now() + wait <= give_up;
         wait = std::min<std::chrono::seconds>(wait * 2, std::chrono::seconds(30))) {
      std::this_thread::sleep_for(wait);
      l = acquire();
    }
    if (!l) {
      code = Fatal(l.error());
      return std::nullopt;
    }
    v.lock = std::move(*l);
  }
  if (load_index) {
    auto li = v.repo->LoadIndex();
    if (!li) {
      code = Fatal(li.error());
      return std::nullopt;
    }
  }
  return v;
}

Result<void> Cli::PrepareManagedVault(storage::BlobStore& store, bool exists) const {
  if (managed_vault_->initialized) return {};
  if (!exists) {
    auto made = InitVault(store, managed_vault_->password, true);
    // Another device of the account may have created it a moment ago, with the same key (the
    // key was chosen once, through the profile's hash): then it is simply there.
    if (!made && made.error().Code() != ErrorCode::kAlreadyExists) return Fail(made.error());
    if (made) Verbose(1, "created the Storage Vault \"" + managed_vault_->description + "\"\n");
  }
  HALLEY_ASSIGN_OR_RETURN(client::Account * account, Account());
  HALLEY_RETURN_IF_ERROR(account->MarkVaultInitialized(managed_vault_->id));
  managed_vault_->initialized = true;
  return {};
}

Result<std::string> Cli::Password(const std::string& prompt) const {
  // Flags first, then the environment: command, file, the password itself; else a prompt.
  if (password_override) return *password_override;
  HALLEY_ASSIGN_OR_RETURN(const client::VaultAccess* managed, ManagedVault());
  if (managed) return managed->password;
  if (!global.password_command.empty()) return RunPasswordCommand(global.password_command);
  if (!global.password_file.empty()) return ReadPasswordFile(global.password_file);
  if (std::string c = Env("BACKUP_TOOL_PASSWORD_COMMAND"); !c.empty()) {
    return RunPasswordCommand(c);
  }
  if (std::string f = Env("BACKUP_TOOL_PASSWORD_FILE"); !f.empty()) return ReadPasswordFile(f);
  if (const char* p = std::getenv("BACKUP_TOOL_PASSWORD")) return std::string(p);
  return PromptTty(prompt);
}

Result<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kInvalidArgument, "cannot read password file " + path);
  std::string line;
  std::getline(in, line);
  StripNewline(line);
  return line;
}

Result<std::string> AskNewPassword(const std::string& what) {
  HALLEY_ASSIGN_OR_RETURN(std::string a, PromptTty("enter " + what + ": "));
  HALLEY_ASSIGN_OR_RETURN(std::string b, PromptTty("enter " + what + " again: "));
  if (a != b) return Fail(ErrorCode::kInvalidArgument, "passwords do not match");
  if (a.empty()) return Fail(ErrorCode::kInvalidArgument, "an empty password is not allowed");
  return a;
}

Result<std::string> Cli::NewPassword() const {
  HALLEY_ASSIGN_OR_RETURN(const client::VaultAccess* managed, ManagedVault());
  if (managed || !global.password_command.empty() || !global.password_file.empty() ||
      !Env("BACKUP_TOOL_PASSWORD_COMMAND").empty() || !Env("BACKUP_TOOL_PASSWORD_FILE").empty() ||
      std::getenv("BACKUP_TOOL_PASSWORD")) {
    return Password();
  }
  return AskNewPassword("password for new vault key");
}

void Cli::Print(const std::string& text) const {
  if (global.quiet || global.json) return;
  std::cout << text;
  std::cout.flush();
}

void Cli::PrintJson(const OrderedJson& j) const {
  std::cout << j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << "\n";
  std::cout.flush();
}

void Cli::Verbose(int level, const std::string& text) const {
  if (global.verbose >= level) Print(text);
}

void Cli::Warn(const std::string& text) const {
  std::cerr << text << std::flush;
  if (report) {
    std::string line = text;
    StripNewline(line);
    report("W", line, ErrorCode::kUnknown);
  }
}

void AddSnapshotFilterFlags(CLI::App* cmd, engine::SnapshotFilter& filter, bool for_latest) {
  std::string which = for_latest ? "for \"latest\": only snapshots" : "only snapshots";
  cmd->add_option("-H,--host", filter.hosts, which + " of this host (repeatable)");
  cmd->add_option("--tag", filter.tags, which + " with this tag (repeatable: all of them)");
  cmd->add_option("--path", filter.paths, which + " with this path (repeatable)");
}

int ExitCodeFor(const Error& e) {
  switch (e.Code()) {
    case ErrorCode::kUnauthenticated:
      return kExitWrongPassword;
    case ErrorCode::kLocked:
      return kExitLocked;
    case ErrorCode::kCancelled:
      return kExitInterrupted;
    case ErrorCode::kUnavailable:
      // Only what retries could not fix reaches here (a remote store retries for
      // --retry-seconds first).
      return kExitUnavailable;
    default:
      return kExitFailure;
  }
}

int RemoveProfileEntry(Cli& cli, const char* section, const std::string& name,
                       const std::string& what, const std::string& after) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  std::string id;
  auto saved = (*account)->UpdateProfile([&](Json& profile) -> Result<void> {
    HALLEY_ASSIGN_OR_RETURN(id, client::FindEntry(profile, section, name));
    profile[section].erase(id);
    return {};
  });
  if (!saved) return cli.AccountFatal(saved.error());
  cli.Print(what + " " + id + " " + after + "\n");
  return kExitOk;
}

int Cli::Fatal(const Error& e, int code) const {
  if (code < 0) code = ExitCodeFor(e);
  if (global.json) {
    OrderedJson j;
    j["message_type"] = "exit_error";
    j["code"] = code;
    j["message"] = e.Message();
    std::cerr << j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << "\n";
  } else {
    std::cerr << "Fatal: " << e.Message() << "\n";
  }
  if (report) report("E", e.Message(), e.Code());
  return code;
}

int Cli::AccountFatal(const Error& e) const {
  return Fatal(e, e.Code() == ErrorCode::kUnauthenticated ? kExitServerAuth : -1);
}

bool Cli::ProgressWanted() const {
  return !global.quiet && !global.json && ::isatty(STDOUT_FILENO);
}

std::string FormatBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.3f %s", v, units[u]);
  }
  return buf;
}

std::string FormatDuration(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

void AddSpecHelp(CLI::App& parent, const std::string& usage,
                 std::vector<std::pair<std::string, std::string>> rows) {
  auto print = [&parent, usage, rows] {
    std::vector<std::pair<std::string, std::string>> other;
    for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; })) {
      const std::string name = sub->get_name();
      const bool listed = std::any_of(rows.begin(), rows.end(), [&](const auto& r) {
        return r.first == name || r.first.rfind(name + " ", 0) == 0;
      });
      if (!listed) other.emplace_back(name, sub->get_description());
    }
    size_t width = 0;
    for (const auto& r : rows) width = std::max(width, r.first.size());
    for (const auto& r : other) width = std::max(width, r.first.size());
    auto table = [width](const std::vector<std::pair<std::string, std::string>>& t) {
      std::string out;
      for (const auto& [name, text] : t) {
        out += "  " + name + std::string(width + 2 - name.size(), ' ') + text + "\n";
      }
      return out;
    };
    std::cout << "Usage: " << usage << "\n\nCommands:\n"
              << table(rows) << (other.empty() ? "" : "\nOther commands:\n" + table(other));
  };
  parent.require_subcommand(0, 1);
  parent.add_subcommand("help", "Display this message")->callback(print);
  parent.callback([&parent, print] {
    if (parent.get_subcommands().empty()) print();
  });
}

std::string ProgramVersion() { return std::string("backup-tool ") + HALLEY_VERSION; }

}  // namespace halley::cli
