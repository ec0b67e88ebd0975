// SPDX-License-Identifier: Apache-2.0
#include <cstdlib>

#include "commands.h"
#include "engine/copy.h"
#include "engine/snapshots.h"
#include "storage/local_blob_store.h"

namespace halley::cli {
namespace {

struct CopyFlags {
  std::vector<std::string> snapshots;
  std::string from_repo;
  std::string from_vault;  // a Storage Vault of the logged-in account
  std::string from_password_file;
  std::string from_password_command;
  engine::SnapshotFilter filter;
};

int RunCopy(Cli& cli, const CopyFlags& f) {
  if (f.from_repo.empty() == f.from_vault.empty()) {
    return cli.Fatal(
        Error(ErrorCode::kInvalidArgument, "please specify one of --from-repo and --from-vault"));
  }
  // The source is opened with its own location and password (flags or BACKUP_TOOL_FROM_*).
  Cli source_cli;
  source_cli.global = cli.global;
  source_cli.global.repo = f.from_repo;
  source_cli.global.vault = f.from_vault;
  source_cli.global.password_file = f.from_password_file;
  source_cli.global.password_command = f.from_password_command;
  if (f.from_password_file.empty() && f.from_password_command.empty()) {
    if (const char* p = std::getenv("BACKUP_TOOL_FROM_PASSWORD_FILE")) {
      source_cli.global.password_file = p;
    } else if (const char* c = std::getenv("BACKUP_TOOL_FROM_PASSWORD_COMMAND")) {
      source_cli.global.password_command = c;
    } else if (const char* pw = std::getenv("BACKUP_TOOL_FROM_PASSWORD")) {
      source_cli.password_override = pw;
    }
  }
  int code = kExitOk;
  auto src = source_cli.Open(LockMode::kShared, true, code);
  if (!src) return code;
  auto dst = cli.Open(LockMode::kShared, true, code);
  if (!dst) return code;
  std::vector<engine::SnapshotEntry> which;
  if (f.snapshots.empty()) {
    std::vector<Error> errors;
    auto all = engine::ListSnapshots(*src->repo, &errors);
    if (!all) return cli.Fatal(all.error());
    for (auto& e : *all) {
      if (engine::Matches(e.snapshot, f.filter)) which.push_back(std::move(e));
    }
  } else {
    for (const auto& ref : f.snapshots) {
      auto s = engine::FindSnapshot(*src->repo, ref, f.filter);
      if (!s) return cli.Fatal(s.error());
      which.push_back(std::move(*s));
    }
  }
  engine::CopyOptions o;
  o.stop = cli.StopToken();
  o.log = [&](const std::string& line) { cli.Print(line + "\n"); };
  auto r = engine::CopySnapshots(*src->repo, *dst->repo, which, o);
  if (!r) return cli.Fatal(r.error());
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "summary";
    j["snapshots_copied"] = r->snapshots_copied;
    j["snapshots_skipped"] = r->snapshots_skipped;
    j["blobs_copied"] = r->blobs_copied;
    j["bytes_copied"] = r->bytes_copied;
    cli.PrintJson(j);
  } else {
    cli.Print("copied " + std::to_string(r->snapshots_copied) + " snapshots (" +
              FormatBytes(r->bytes_copied) + " of new data), " +
              std::to_string(r->snapshots_skipped) + " already present\n");
  }
  return kExitOk;
}

}  // namespace

void AddCopy(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<CopyFlags>();
  auto* cmd = app.add_subcommand("copy", "copy snapshots from another vault into this one");
  cmd->add_option("snapshot", f->snapshots, "snapshots to copy (default: all)");
  cmd->add_option("--from-repo", f->from_repo, "the vault to copy from");
  cmd->add_option("--from-vault", f->from_vault,
                  "the vault to copy from: a Storage Vault of the logged-in account");
  cmd->add_option("--from-password-file", f->from_password_file,
                  "the source vault's password file (env BACKUP_TOOL_FROM_PASSWORD_FILE)");
  cmd->add_option("--from-password-command", f->from_password_command,
                  "a command printing the source vault's password "
                  "(env BACKUP_TOOL_FROM_PASSWORD_COMMAND; or BACKUP_TOOL_FROM_PASSWORD)");
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/true);
  cmd->callback([&cli, f] { cli.exit_code = RunCopy(cli, *f); });
}

}  // namespace halley::cli
