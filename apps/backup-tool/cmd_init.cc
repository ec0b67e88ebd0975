// SPDX-License-Identifier: Apache-2.0
#include "commands.h"

namespace halley::cli {
namespace {

struct InitOptions {
  bool full_entropy_password = false;
};

int RunInit(Cli& cli, const InitOptions& o) {
  auto store = cli.OpenStore();
  if (!store) return cli.Fatal(store.error());
  // A server that refuses the store's credentials is told apart from a wrong password (and
  // before one is asked for).
  if (auto cfg = (*store)->Stat(storage::ObjectHandle::Config());
      !cfg && cfg.error().Code() == ErrorCode::kUnauthenticated) {
    return cli.Fatal(cfg.error(), kExitServerAuth);
  }
  auto managed = cli.ManagedVault();  // resolved by OpenStore already
  if (!managed) return cli.Fatal(managed.error());
  auto password = cli.NewPassword();
  if (!password) return cli.Fatal(password.error());
  if (password->empty()) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument, "an empty password is not allowed"));
  }
  auto r = cli.InitVault(**store, *password, o.full_entropy_password || *managed);
  SecureZero(password->data(), password->size());
  if (!r) return cli.Fatal(r.error());
  if (*managed) {
    if (auto marked = (*cli.Account())->MarkVaultInitialized((*managed)->id); !marked) {
      return cli.Fatal(marked.error());
    }
  }
  const std::string& id = (*r)->GetConfig().id;
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "initialized";
    j["id"] = id;
    j["repository"] = (*store)->Location();
    cli.PrintJson(j);
  } else {
    cli.Print("created backup-tool vault " + id.substr(0, 10) + " at " + (*store)->Location() +
              "\n\nPlease note that knowledge of your password is required to access\nthe vault. "
              "Losing your password means that your data is irrecoverably lost.\n");
  }
  return kExitOk;
}

}  // namespace

void AddInit(CLI::App& app, Cli& cli) {
  auto opts = std::make_shared<InitOptions>();
  auto* cmd = app.add_subcommand("init", "create a new vault");
  cmd->add_flag("--full-entropy-password", opts->full_entropy_password,
                "the password is a random key (a managed vault's hex(E)): use the cheapest KDF");
  cmd->callback([&cli, opts] { cli.exit_code = RunInit(cli, *opts); });
}

}  // namespace halley::cli
