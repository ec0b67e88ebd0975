// SPDX-License-Identifier: Apache-2.0
//
// `vault request|add|list|key|remove`: the Storage Vaults of the logged-in account.
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/account.h"
#include "commands.h"
#include "crypto/random.h"
#include "managed_job.h"

namespace halley::cli {
namespace {

struct VaultFlags {
  std::string name;
  std::string provider;
  std::string location;
  CommandFlags commands;  // before/after commands
};

int RunRequest(Cli& cli, const VaultFlags& f) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  auto id = (*account)->RequestVault(f.name, f.provider);
  if (!id) return cli.AccountFatal(id.error());
  if (!f.commands.Empty()) {
    auto saved = (*account)->UpdateProfile([&](Json& profile) -> Result<void> {
      Json& vaults = profile["Destinations"];
      if (!vaults.is_object() || !vaults.contains(*id)) {
        return Fail(ErrorCode::kNotFound, "the new Storage Vault " + *id + " left the profile");
      }
      f.commands.Store(vaults[*id]);
      return {};
    });
    if (!saved) return cli.AccountFatal(saved.error());
  }
  // Created now rather than at the first backup, so that a problem shows at once.
  cli.global.vault = *id;
  int code = kExitOk;
  if (!cli.Open(LockMode::kNone, false, code)) return code;
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "vault_requested";
    j["id"] = *id;
    j["name"] = f.name;
    cli.PrintJson(j);
  } else {
    cli.Print("Storage Vault \"" + f.name + "\" (" + *id +
              ") is ready. Its keys are wrapped by your login and kept in your profile.\n");
  }
  return kExitOk;
}

// The profile entry of an sftp: location: the login `cli` would use now (a password from
// BACKUP_TOOL_SFTP_PASSWORD, or the key of -o sftp.identity, kept wrapped by R; else the
// agent and ~/.ssh's keys, as ssh does) and its -o sftp.known-hosts file.
Result<Json> SftpEntry(Cli& cli, const VaultFlags& f, ByteView r) {
  HALLEY_ASSIGN_OR_RETURN(storage::SftpLocation where,
                          storage::ParseSftpLocation(std::string_view(f.location).substr(5)));
  HALLEY_ASSIGN_OR_RETURN(storage::SftpOptions options, cli.SftpSettings());
  client::SftpLogin login;
  const std::string host =
      where.host.find(':') == std::string::npos ? where.host : "[" + where.host + "]";
  login.server = host + ":" + std::to_string(where.port == 0 ? 22 : where.port);
  login.user = where.user;
  login.path = where.path;
  login.known_hosts_file = options.known_hosts;
  if (!options.identity.empty()) {
    std::ifstream in(options.identity, std::ios::binary);
    std::stringstream key;
    key << in.rdbuf();
    if (!in) {
      return Fail(ErrorCode::kInvalidArgument,
                  "cannot read the private key " + options.identity + " (-o sftp.identity)");
    }
    login.auth_mode = client::kSftpAuthPrivateKey;
    login.secret = key.str();
  } else if (!options.password.empty()) {
    login.auth_mode = client::kSftpAuthPassword;
    login.secret = options.password;
  }
  Json v = client::SftpVault(login, f.name, r, client::UnixNow());
  SecureZero(login.secret.data(), login.secret.size());
  SecureZero(options.password.data(), options.password.size());
  return v;
}

int RunAdd(Cli& cli, const VaultFlags& f) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  client::S3Credentials s3;
  if (f.location.rfind("s3:", 0) == 0) {
    auto settings = cli.S3Settings();
    if (!settings) return cli.Fatal(settings.error());
    if (settings->object_lock == storage::S3ObjectLock::kGovernance) {
      // The profile records days only (S3ObjectLockMode/Days), and the product locks in
      // compliance mode: recording governance would quietly become compliance.
      return cli.Fatal(Error(ErrorCode::kInvalidArgument,
                             "a Storage Vault of the account keeps its objects under Object "
                             "Lock in compliance mode (as the product does): use -o "
                             "s3.object-lock=compliance, or a -r s3: vault for governance"));
    }
    s3 = {settings->credentials.access_key_id, settings->credentials.secret_access_key,
          settings->region, settings->object_lock_days};
  }
  const ByteView r((*account)->State().r.data(), 24);
  auto vault = f.location.rfind("sftp:", 0) == 0
                   ? SftpEntry(cli, f, r)
                   : client::VaultForLocation(f.location, f.name, r, client::UnixNow(), s3);
  SecureZero(s3.secret_key.data(), s3.secret_key.size());
  if (!vault) return cli.Fatal(vault.error());
  // An existing vault keeps its password (asked for and checked now); an empty location
  // gets a new vault with a random one.
  Cli probe;
  probe.global = cli.global;
  probe.global.vault.clear();
  probe.global.repo = f.location;
  auto store = probe.OpenStore();
  if (!store) return cli.Fatal(store.error());
  auto cfg = (*store)->Stat(storage::ObjectHandle::Config());
  std::string password;
  if (cfg) {
    int code = kExitOk;
    auto password_read = probe.Password("enter password for the vault at " + f.location + ": ");
    if (!password_read) return cli.Fatal(password_read.error());
    probe.password_override = *password_read;
    if (!probe.Open(LockMode::kNone, false, code)) return code;
    password = std::move(*password_read);
  } else if (cfg.error().Code() == ErrorCode::kNotFound) {
    password = client::NewVaultPassword();
    auto made = cli.InitVault(**store, password, true);
    if (!made) return cli.Fatal(made.error());
  } else {
    return cli.Fatal(cfg.error(), cfg.error().Code() == ErrorCode::kUnauthenticated
                                      ? kExitServerAuth
                                      : kExitFailure);
  }
  client::SetVaultPassword(*vault, ByteView((*account)->State().r.data(), 24), password);
  SecureZero(password.data(), password.size());
  (*vault)["RepoInitTimestamp"] = client::UnixNow();
  f.commands.Store(*vault);
  const std::string id = crypto::NewUuid();
  auto saved = (*account)->UpdateProfile([&](Json& profile) -> Result<void> {
    profile["Destinations"][id] = *vault;
    return {};
  });
  if (!saved) return cli.AccountFatal(saved.error());
  cli.Print("Storage Vault \"" + f.name + "\" (" + id + ") added" +
            (cfg ? ": the existing vault keeps its data and password.\n" : ": a new vault.\n"));
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "vault_added";
    j["id"] = id;
    j["name"] = f.name;
    j["existing"] = cfg.has_value();
    cli.PrintJson(j);
  }
  return kExitOk;
}

std::string TypeName(int64_t type) {
  switch (type) {
    case client::kVaultLocalPath:
      return "local path";
    case client::kVaultHalleyBucket:
      return "Halley server";
    default:
      return "type " + std::to_string(type);
  }
}

int RunList(Cli& cli) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  auto p = (*account)->GetProfile();
  if (!p) return cli.AccountFatal(p.error());
  const Json vaults = p->profile.value("Destinations", Json::object());
  OrderedJson out = OrderedJson::array();
  std::string text = "ID                                    Type           Created  Name\n";
  for (const auto& [id, v] : vaults.items()) {
    if (!v.is_object()) continue;
    const int64_t type = client::IntField(v, "DestinationType");
    const bool created = client::IntField(v, "RepoInitTimestamp") != 0;
    const std::string name = client::StringField(v, "Description");
    std::string where = type == client::kVaultLocalPath ? client::StringField(v, "LocalcopyPath")
                        : type == client::kVaultHalleyBucket
                            ? client::StringField(v, "CometServer") + " bucket " +
                                  client::StringField(v, "CometBucket")
                            : "";
    OrderedJson j;
    j["id"] = id;
    j["name"] = name;
    j["type"] = type;
    j["location"] = where;
    if (type == client::kVaultHalleyBucket) j["bucket"] = client::StringField(v, "CometBucket");
    j["created"] = created;
    const std::string commands = ListCommands(v, j);
    out.push_back(j);
    char line[512];
    std::snprintf(line, sizeof line, "%-37s %-14s %-8s %s (%s)\n", id.c_str(),
                  TypeName(type).c_str(), created ? "yes" : "no", name.c_str(), where.c_str());
    text += line + commands;
  }
  if (cli.global.json) {
    cli.PrintJson(out);
  } else {
    cli.Print(text);
  }
  return kExitOk;
}

int RunKey(Cli& cli, const VaultFlags& f) {
  cli.global.vault = f.name;
  if (auto unlocked = cli.UnlockContents(); !unlocked) return cli.Fatal(unlocked.error());
  auto v = cli.ManagedVault();
  if (!v) return cli.Fatal(v.error());
  std::cout << (*v)->password << "\n";
  return kExitOk;
}

}  // namespace

void AddVault(CLI::App& app, Cli& cli) {
  auto* vault = app.add_subcommand("vault", "manage the Storage Vaults of the logged-in account");
  vault->require_subcommand(1);
  auto f = std::make_shared<VaultFlags>();
  auto* request = vault->add_subcommand(
      "request", "get a new Storage Vault on the server (its keys are made on this device)");
  request->add_option("--name", f->name, "the vault's name")->required();
  request->add_option("--provider", f->provider, "Storage Template ID (default: the default)");
  f->commands.Add(request);
  request->callback([&cli, f] { cli.exit_code = RunRequest(cli, *f); });

  auto* add = vault->add_subcommand(
      "add", "add a vault at a location (an existing one keeps its data and password)");
  add->add_option("--name", f->name, "the vault's name")->required();
  add->add_option("--repo", f->location,
                  "a local path, rest:http[s]://ID:KEY@HOST/storage/ID/ (a Halley bucket), "
                  "s3:[http[s]://]HOST/BUCKET[/PREFIX] (with AWS_ACCESS_KEY_ID and "
                  "AWS_SECRET_ACCESS_KEY) or sftp:[USER@]HOST[:PORT]:PATH (with the login of "
                  "-o sftp.identity or BACKUP_TOOL_SFTP_PASSWORD, else ~/.ssh's)")
      ->required();
  f->commands.Add(add);
  add->callback([&cli, f] { cli.exit_code = RunAdd(cli, *f); });

  vault->add_subcommand("list", "list the account's Storage Vaults")->callback([&cli] {
    cli.exit_code = RunList(cli);
  });
  auto* key = vault->add_subcommand(
      "key", "print a vault's password (for restic, or a standalone `backup-tool -r`)");
  key->add_option("name", f->name, "the vault's name or ID")->required();
  key->callback([&cli, f] { cli.exit_code = RunKey(cli, *f); });
  auto* remove =
      vault->add_subcommand("remove", "remove a Storage Vault from the account (its data stays)");
  remove->add_option("name", f->name, "the vault's name or ID")->required();
  remove->callback([&cli, f] {
    cli.exit_code = RemoveProfileEntry(
        cli, "Destinations", f->name, "Storage Vault",
        "removed from the account; its data is not deleted (a server bucket stays until an "
        "administrator deletes it).");
  });
}

}  // namespace halley::cli
