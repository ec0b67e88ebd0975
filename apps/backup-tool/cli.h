// SPDX-License-Identifier: Apache-2.0
//
// What every backup-tool subcommand shares: global options, opening the vault, reading the
// password, output (text, or JSON lines with --json), the mapping from errors to exit codes,
// and cancellation on SIGINT/SIGTERM.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "base/json.h"
#include "client/account.h"
#include "engine/snapshots.h"
#include "repo/lock.h"
#include "repo/repository.h"
#include "storage/blob_store.h"
#include "storage/s3_blob_store.h"
#include "storage/sftp_blob_store.h"

namespace halley::cli {

// restic's exit codes plus ours (DESIGN §7).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitPartial = 3;  // backup: some source files could not be read
inline constexpr int kExitNoVault = 10;
inline constexpr int kExitLocked = 11;
inline constexpr int kExitWrongPassword = 12;
inline constexpr int kExitServerAuth = 13;  // a server refused the vault's or account's credentials
inline constexpr int kExitUnavailable = 14;  // a server or store stayed unreachable after retries
inline constexpr int kExitInterrupted = 130;

struct GlobalOptions {
  std::string repo;
  // A Storage Vault of the logged-in account (ID or name); wins over `repo`.
  std::string vault;
  std::string password_file;
  std::string password_command;
  std::string cacert;  // PEM CA file for https:// vaults; "" = the system's trust store
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  bool no_lock = false;
  int retry_lock_seconds = 0;  // keep trying to take a lock held by another client this long
  std::string compression = "auto";
  int pack_size_mib = 16;
  std::vector<std::string> options;  // -o key=value: backend options (s3.region, ...)
  int retry_seconds = 300;           // how long a remote store's failing call is retried
  int64_t limit_upload_kib = 0;      // KiB/s for remote vaults; 0: no limit
  int64_t limit_download_kib = 0;
  int connections = 0;  // requests in flight to a remote vault at most; 0: no limit
};

enum class LockMode { kNone, kShared, kExclusive };

struct OpenVault {
  storage::BlobStorePtr store;
  std::unique_ptr<repo::Repository> repo;
  std::unique_ptr<repo::VaultLock> lock;
};

class Cli {
 public:
  Cli();
  GlobalOptions global;
  int exit_code = kExitOk;
  // A password a command supplies itself (copy's source vault); wins over every other source.
  std::optional<std::string> password_override;
  // While a managed job runs (managed_job.h): receives every warning ("W") and fatal error
  // ("E", with its code) the command prints, for the job's log. Called from any thread.
  std::function<void(const char* severity, const std::string& text, ErrorCode code)> report;

  // Set by SIGINT/SIGTERM (a second signal exits at once with 130).
  std::stop_token StopToken() const { return stop_.get_token(); }
  void InstallSignalHandlers();

  // Opens the store named by --vault (the account's Storage Vault) or else --repo /
  // BACKUP_TOOL_REPOSITORY: a local path (or local:PATH), rest:http[s]://..., s3:... or
  // sftp:... kNotSupported for the other remote schemes, kInvalidArgument for a malformed
  // location or unreadable --cacert.
  Result<storage::BlobStorePtr> OpenStore() const;
  // `remote` behind RetryingBlobStore (retried for --retry-seconds, with warnings) and, with
  // --connections, LimitedBlobStore.
  storage::BlobStorePtr WithRetries(storage::BlobStorePtr remote) const;
  // An s3: vault's settings: AWS_* environment variables, then -o s3.* options.
  Result<storage::S3Options> S3Settings() const;
  // An sftp: vault's settings: -o sftp.* options, BACKUP_TOOL_SFTP_PASSWORD.
  Result<storage::SftpOptions> SftpSettings() const;
  // The -o KEY=VALUE options whose keys start with `prefix` ("s3."), as (key without the
  // prefix, value); options of other backends are left to them.
  std::vector<std::pair<std::string, std::string>> BackendOptions(std::string_view prefix) const;
  // Creates a vault in `store` (the cheapest KDF when the password is a random key).
  Result<std::unique_ptr<repo::Repository>> InitVault(storage::BlobStore& store,
                                                      const std::string& password,
                                                      bool full_entropy_password) const;

  // The logged-in account (client::ConfigDir()/login.json); kInvalidArgument if there is none.
  Result<client::Account*> Account() const;
  // With --vault: that Storage Vault of the account, resolved once (a vault without keys gets
  // them now); nullptr without --vault.
  Result<const client::VaultAccess*> ManagedVault() const;
  // Commands that show what a managed vault holds call this first: if the login locks the
  // user interface (`login prompt --lock-ui`), it asks for the account's password.
  Result<void> UnlockContents() const;
  // Opens the vault, optionally locks it and loads the index; a managed vault used for the
  // first time is created. On failure prints the error and returns the exit code to use (10 no
  // vault, 12 wrong password, 13 the server refused the store's credentials, 11 locked, 1
  // otherwise).
  std::optional<OpenVault> Open(LockMode lock, bool load_index, int& code);
  repo::RepositoryOptions RepoOptions() const;

  // The password from BACKUP_TOOL_PASSWORD, _FILE or _COMMAND (flags win over the
  // environment), or a prompt on the terminal. `prompt` is shown when asking.
  Result<std::string> Password(const std::string& prompt = "enter password for vault: ") const;
  // Asks twice on a terminal (for new passwords); otherwise as Password().
  Result<std::string> NewPassword() const;

  // Output. Text goes to stdout unless --quiet or --json; JSON goes to stdout as one line.
  void Print(const std::string& text) const;
  void PrintJson(const OrderedJson& j) const;
  void Verbose(int level, const std::string& text) const;
  void Warn(const std::string& text) const;  // stderr, also in --json mode as text
  // Prints the error ("Fatal: ..." or an exit_error JSON line on stderr) and returns the code.
  int Fatal(const Error& e, int code = -1) const;
  // Fatal for the error of a call to the account's server (profile, vaults, items): the server
  // refusing this device's stored credentials is exit 13, not 12 (a wrong password typed here).
  int AccountFatal(const Error& e) const;
  bool ProgressWanted() const;  // a terminal on stdout, not --quiet/--json

 private:
  // Creates the managed vault in `store` unless it `exists`, and records it in the profile.
  Result<void> PrepareManagedVault(storage::BlobStore& store, bool exists) const;

  std::stop_source stop_;
  // Caches of Account() and ManagedVault(): resolved at most once per command.
  mutable std::unique_ptr<client::Account> account_;
  mutable std::optional<client::VaultAccess> managed_vault_;
};

int ExitCodeFor(const Error& e);

// `item|vault|schedule remove NAME`: removes the entry `name` (ID or unique description) of
// profile[section] from the logged-in account and prints `what` + " <ID> " + `after`.
int RemoveProfileEntry(Cli& cli, const char* section, const std::string& name,
                       const std::string& what, const std::string& after);

// The first line of a password file (without its newline).
Result<std::string> ReadPasswordFile(const std::string& path);
// A new password typed twice on the terminal ("enter <what>: ").
Result<std::string> AskNewPassword(const std::string& what);

// Adds -H/--host, --tag and --path, which select the snapshots a command considers (with
// `for_latest`, the ones "latest" may resolve to).
void AddSnapshotFilterFlags(CLI::App* cmd, engine::SnapshotFilter& filter, bool for_latest);

// The spec's command-line help ("Usage: backup-tool COMMAND" and a list of commands): `rows`
// (command, description) first, as the spec lists them, then `parent`'s other subcommands.
// Adds a `help` subcommand to `parent` that prints it, and prints it when `parent` is run
// without a subcommand.
void AddSpecHelp(CLI::App& parent, const std::string& usage,
                 std::vector<std::pair<std::string, std::string>> rows);

// "1.234 MiB", as restic prints sizes.
std::string FormatBytes(uint64_t n);
// "1:02:03" or "0:05".
std::string FormatDuration(double seconds);
std::string ProgramVersion();  // "backup-tool 0.1.0"

}  // namespace halley::cli
