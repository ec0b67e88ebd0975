// SPDX-License-Identifier: Apache-2.0
//
// `item add|list|remove`: the logged-in account's Protected Items of files and folders.
#include <filesystem>

#include "client/account.h"
#include "commands.h"
#include "crypto/random.h"
#include "managed_job.h"

namespace halley::cli {
namespace {

struct ItemFlags {
  std::string name;
  std::vector<std::string> paths;
  std::vector<std::string> excludes;
  bool rescan_unchanged = false;
  CommandFlags commands;  // before/after commands
};

int RunAdd(Cli& cli, const ItemFlags& f) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  client::FileItem item;
  item.description = f.name;
  for (const std::string& p : f.paths) {
    // Stored absolute: the daemon that backs the item up runs in another directory.
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(p, ec);
    if (ec) return cli.Fatal(Error(ErrorCode::kInvalidArgument, "bad path " + p));
    item.paths.push_back(abs.lexically_normal().string());
    if (item.paths.back().size() > 1 && item.paths.back().back() == '/') {
      item.paths.back().pop_back();
    }
  }
  item.excludes = f.excludes;
  item.rescan_unchanged = f.rescan_unchanged;
  const std::string id = crypto::NewUuid();
  auto saved = (*account)->UpdateProfile([&](Json& profile) -> Result<void> {
    Json entry = client::NewFileItem(item, (*account)->State().device_id, client::UnixNow());
    f.commands.Store(entry);
    profile["Sources"][id] = std::move(entry);
    return {};
  });
  if (!saved) return cli.AccountFatal(saved.error());
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "item_added";
    j["id"] = id;
    j["name"] = f.name;
    cli.PrintJson(j);
  } else {
    cli.Print("Protected Item \"" + f.name + "\" (" + id + ") added.\n");
  }
  return kExitOk;
}

int RunList(Cli& cli) {
  auto account = cli.Account();
  if (!account) return cli.Fatal(account.error());
  auto p = (*account)->GetProfile();
  if (!p) return cli.AccountFatal(p.error());
  OrderedJson out = OrderedJson::array();
  std::string text;
  const Json items = p->profile.value("Sources", Json::object());
  for (const auto& [id, s] : items.items()) {
    if (!s.is_object()) continue;
    OrderedJson j;
    j["id"] = id;
    j["name"] = client::StringField(s, "Description");
    j["engine"] = client::StringField(s, "Engine");
    j["owner_device"] = client::StringField(s, "OwnerDevice");
    text += id + "  " + client::StringField(s, "Description") + " [" +
            client::StringField(s, "Engine") + "]\n";
    if (auto file = client::ReadFileItem(p->profile, id)) {
      j["paths"] = file->paths;
      j["excludes"] = file->excludes;
      for (const auto& path : file->paths) text += "    " + path + "\n";
      for (const auto& e : file->excludes) text += "    exclude " + e + "\n";
    }
    text += ListCommands(s, j);
    out.push_back(j);
  }
  if (cli.global.json) {
    cli.PrintJson(out);
  } else {
    cli.Print(text.empty() ? "This account has no Protected Items.\n" : text);
  }
  return kExitOk;
}

}  // namespace

void AddItem(CLI::App& app, Cli& cli) {
  auto* item = app.add_subcommand("item", "manage the Protected Items of the logged-in account");
  item->require_subcommand(1);
  auto f = std::make_shared<ItemFlags>();
  auto* add = item->add_subcommand("add", "add a Protected Item of files and folders");
  add->add_option("--name", f->name, "the item's name")->required();
  add->add_option("paths", f->paths, "files and directories to back up")->required();
  add->add_option("-e,--exclude", f->excludes, "exclude a glob pattern (repeatable)");
  add->add_flag("--rescan-unchanged", f->rescan_unchanged,
                "read files even if they look unchanged");
  f->commands.Add(add);
  add->callback([&cli, f] { cli.exit_code = RunAdd(cli, *f); });
  item->add_subcommand("list", "list the account's Protected Items")->callback([&cli] {
    cli.exit_code = RunList(cli);
  });
  auto* remove = item->add_subcommand("remove", "remove a Protected Item from the account");
  remove->add_option("name", f->name, "the item's name or ID")->required();
  remove->callback([&cli, f] {
    cli.exit_code = RemoveProfileEntry(cli, "Sources", f->name, "Protected Item",
                                       "removed; its snapshots stay in the vaults.");
  });
}

}  // namespace halley::cli
