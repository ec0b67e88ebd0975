// SPDX-License-Identifier: Apache-2.0
//
// backup-tool: the Halley client. Wiring only; each subcommand lives in cmd_<name>.cc.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "commands.h"

int main(int argc, char** argv) {
  using namespace halley::cli;  // NOLINT(google-build-using-namespace): main only
  // A run started by `backup-tool daemon` dies with it, so that a killed daemon leaves no run
  // going unsupervised (its job then shows as abandoned). The check after prctl catches a
  // daemon that died before it.
  if (const char* daemon = std::getenv("BACKUP_TOOL_DAEMON_PID")) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (std::to_string(::getppid()) != daemon) return 1;
    ::unsetenv("BACKUP_TOOL_DAEMON_PID");
    // Background runs yield the CPU to whatever the user is doing, as the product's do.
    ::setpriority(PRIO_PROCESS, 0, 10);
  }
  Cli cli;
  CLI::App app{"backup-tool: encrypted, deduplicating backups into Halley vaults"};
  app.name("backup-tool");
  app.fallthrough();
  app.set_version_flag("--version", ProgramVersion());
  app.add_option("-r,--repo", cli.global.repo, "vault location (env BACKUP_TOOL_REPOSITORY)");
  app.add_option("--vault", cli.global.vault,
                 "a Storage Vault (name or ID) of the logged-in account, instead of --repo "
                 "(env BACKUP_TOOL_VAULT)");
  app.add_option("--password-file", cli.global.password_file,
                 "read the vault password from a file (env BACKUP_TOOL_PASSWORD_FILE)");
  app.add_option("--password-command", cli.global.password_command,
                 "read the vault password from a command's output "
                 "(env BACKUP_TOOL_PASSWORD_COMMAND)");
  app.add_option("--cacert", cli.global.cacert,
                 "PEM file of the CA certificate(s) to trust for an https:// rest: or s3: vault, "
                 "instead of the system's (env BACKUP_TOOL_CACERT)");
  app.add_option("-o,--option", cli.global.options,
                 "a backend option KEY=VALUE: s3.region=REGION, s3.bucket-lookup=auto|dns|path, "
                 "s3.object-lock=governance|compliance|off, s3.object-lock-days=N, "
                 "sftp.known-hosts=FILE, sftp.identity=FILE, sftp.config=FILE, "
                 "sftp.connections=N (repeatable)")
      ->allow_extra_args(false)
      ->check(
          [](const std::string& v) -> std::string {
            if (v.rfind("s3.", 0) == 0 || v.rfind("sftp.", 0) == 0) return "";
            return "unknown backend option " + v.substr(0, v.find('=')) +
                   " (options start with s3. or sftp.)";
          },
          "KEY=VALUE");
  app.add_option("--retry-seconds", cli.global.retry_seconds,
                 "retry a remote vault's failing requests for this long before giving up with "
                 "exit code 14; 0: no retries (env BACKUP_TOOL_RETRY_SECONDS, default 300)")
      ->check(CLI::Range(0, 86400));
  app.add_option("--limit-upload", cli.global.limit_upload_kib,
                 "limit uploads to a remote vault to this many KiB/s (all connections together)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--limit-download", cli.global.limit_download_kib,
                 "limit downloads from a remote vault to this many KiB/s")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--connections", cli.global.connections,
                 "at most this many requests to a remote vault at once (a server that throttles "
                 "parallel requests); also the size of an sftp: vault's connection pool")
      ->check(CLI::Range(1, 64));
  app.add_flag("--json", cli.global.json, "print JSON (JSON lines for progress) instead of text");
  app.add_flag("-q,--quiet", cli.global.quiet, "print only errors");
  app.add_flag("-v,--verbose", cli.global.verbose, "print more (repeat for even more)");
  app.add_flag("--no-lock", cli.global.no_lock, "do not lock the vault (read-only commands)");
  app.add_option("--retry-lock", cli.global.retry_lock_seconds,
                 "wait up to SECONDS for another client's lock on the vault to go away")
      ->check(CLI::Range(0, 86400));
  app.add_option("--compression", cli.global.compression, "auto, off or max")
      ->check(CLI::IsMember({"auto", "off", "max"}));
  app.add_option("--pack-size", cli.global.pack_size_mib, "target pack size in MiB (4-128)")
      ->check(CLI::Range(4, 128));

  AddInit(app, cli);
  AddBackup(app, cli);
  AddRestore(app, cli);
  AddSnapshots(app, cli);
  AddLs(app, cli);
  AddFind(app, cli);
  AddDiff(app, cli);
  AddCat(app, cli);
  AddKey(app, cli);
  AddStats(app, cli);
  AddUnlock(app, cli);
  AddVersion(app, cli);
  AddCheck(app, cli);
  AddForget(app, cli);
  AddRetention(app, cli);
  AddPrune(app, cli);
  AddRebuildIndex(app, cli);
  AddRepair(app, cli);
  AddCopy(app, cli);
  AddLogin(app, cli);
  AddInfo(app, cli);
  AddVault(app, cli);
  AddItem(app, cli);
  AddSchedule(app, cli);
  AddDaemon(app, cli);
  AddSpecHelp(app, "backup-tool COMMAND",
              {{"version", "Display the application version"},
               {"info", "Display information about the client"},
               {"login", "Control the service login status"},
               {"help", "Display this message"}});
  // CLI11 lets a repeatable option swallow every following word ("backup --tag t /path" would
  // take /path as a second tag). Like restic, each occurrence takes exactly one value.
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    for (CLI::Option* opt : sub->get_options()) {
      if (!opt->get_positional()) opt->allow_extra_args(false);
    }
  }

  cli.InstallSignalHandlers();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "Fatal: internal error: " << e.what() << "\n";
    return kExitFailure;
  }
  return cli.exit_code;
}
