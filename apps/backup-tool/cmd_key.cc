// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include "base/host.h"
#include "commands.h"
#include "repo/key_file.h"
#include "tree_walk.h"

namespace halley::cli {
namespace {

using storage::ObjectType;

struct KeyFlags {
  std::string id;                 // remove
  std::string new_password_file;  // add, passwd
  std::string host, user;         // add, passwd
};

struct KeyEntry {
  Id id;
  std::optional<repo::KeyFile> key;  // nullopt if unreadable
};

Result<std::vector<KeyEntry>> ListKeys(repo::Repository& repo, const Cli& cli) {
  std::vector<std::string> names;
  HALLEY_RETURN_IF_ERROR(repo.Store().List(ObjectType::kKey, [&](const storage::ObjectInfo& i) {
    names.push_back(i.name);
    return Result<void>{};
  }));
  std::sort(names.begin(), names.end());
  std::vector<KeyEntry> out;
  for (const auto& name : names) {
    auto id = Id::FromHex(name);
    if (!id) continue;
    KeyEntry e{*id, std::nullopt};
    auto raw = repo.LoadRaw({ObjectType::kKey, name});
    Result<repo::KeyFile> kf =
        raw ? repo::DecodeKeyFile(AsString(*raw)) : Result<repo::KeyFile>(Fail(raw.error()));
    if (kf) {
      e.key = std::move(*kf);
    } else {
      cli.Warn("error: key " + id->Short() + ": " + kf.error().Message() + "\n");
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string Pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

std::string CreatedText(const Time& t) { return FormatHuman(Time::Local(t.seconds, t.nanos)); }

int RunList(Cli& cli) {
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, false, code);
  if (!v) return code;
  auto keys = ListKeys(*v->repo, cli);
  if (!keys) return cli.Fatal(keys.error());
  const Id& current = v->repo->KeyId();
  if (cli.global.json) {
    OrderedJson arr = OrderedJson::array();
    for (const auto& e : *keys) {
      OrderedJson j;
      j["current"] = e.id == current;
      j["id"] = e.id.Hex();
      j["short_id"] = e.id.Short();
      j["userName"] = e.key ? e.key->username : "";
      j["hostName"] = e.key ? e.key->hostname : "";
      j["created"] = e.key ? FormatRfc3339Nano(e.key->created) : "";
      if (!e.key) j["error"] = "unreadable key file";
      arr.push_back(std::move(j));
    }
    cli.PrintJson(arr);
    return kExitOk;
  }
  size_t user_w = 4, host_w = 4;
  for (const auto& e : *keys) {
    if (!e.key) continue;
    user_w = std::max(user_w, e.key->username.size());
    host_w = std::max(host_w, e.key->hostname.size());
  }
  std::string header =
      Pad(" ID", 11) + Pad("User", user_w + 2) + Pad("Host", host_w + 2) + "Created";
  std::string rule(9 + 2 + user_w + 2 + host_w + 2 + 19, '-');
  std::string out = header + "\n" + rule + "\n";
  for (const auto& e : *keys) {
    std::string mark = e.id == current ? "*" : " ";
    if (e.key) {
      out += mark + Pad(e.id.Short(), 10) + Pad(e.key->username, user_w + 2) +
             Pad(e.key->hostname, host_w + 2) + CreatedText(e.key->created) + "\n";
    } else {
      out += mark + Pad(e.id.Short(), 10) + "(unreadable key file)\n";
    }
  }
  out += rule + "\n";
  cli.Print(out);
  return kExitOk;
}

Result<std::string> NewKeyPassword(const Cli& cli, const KeyFlags& f) {
  std::string pw;
  if (!f.new_password_file.empty()) {
    HALLEY_ASSIGN_OR_RETURN(pw, ReadPasswordFile(f.new_password_file));
  } else {
    HALLEY_ASSIGN_OR_RETURN(pw, cli.NewPassword());
  }
  if (pw.empty()) return Fail(ErrorCode::kInvalidArgument, "an empty password is not allowed");
  return pw;
}

// Adds a key for the new password; returns its ID.
Result<Id> AddNewKey(const Cli& cli, repo::Repository& repo, const KeyFlags& f) {
  HALLEY_ASSIGN_OR_RETURN(std::string pw, NewKeyPassword(cli, f));
  auto id = repo.AddKey(pw, repo::PasswordScryptParams(), f.user.empty() ? Username() : f.user,
                        f.host.empty() ? Hostname() : f.host);
  SecureZero(pw.data(), pw.size());
  if (!id) return Fail(id.error().WithContext("saving the new key"));
  return id;
}

void ReportAdded(const Cli& cli, repo::Repository& repo, const Id& id, const char* message_type) {
  auto raw = repo.LoadRaw({ObjectType::kKey, id.Hex()});
  Result<repo::KeyFile> kf =
      raw ? repo::DecodeKeyFile(AsString(*raw)) : Result<repo::KeyFile>(Fail(raw.error()));
  std::string user = kf ? kf->username : "", host = kf ? kf->hostname : "";
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = message_type;
    j["id"] = id.Hex();
    j["short_id"] = id.Short();
    j["userName"] = user;
    j["hostName"] = host;
    if (kf) j["created"] = FormatRfc3339Nano(kf->created);
    cli.PrintJson(j);
  } else {
    cli.Print("saved new key " + id.Short() + " as <Key of " + user + "@" + host +
              (kf ? ", created on " + CreatedText(kf->created) : "") + ">\n");
  }
}

int RunAdd(Cli& cli, const KeyFlags& f) {
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, false, code);
  if (!v) return code;
  auto id = AddNewKey(cli, *v->repo, f);
  if (!id) return cli.Fatal(id.error());
  ReportAdded(cli, *v->repo, *id, "key_added");
  return kExitOk;
}

int RunPasswd(Cli& cli, const KeyFlags& f) {
  int code = kExitOk;
  auto v = cli.Open(LockMode::kExclusive, false, code);
  if (!v) return code;
  Id old = v->repo->KeyId();
  auto id = AddNewKey(cli, *v->repo, f);
  if (!id) return cli.Fatal(id.error());
  ReportAdded(cli, *v->repo, *id, "key_changed");
  if (auto r = v->repo->Store().Remove({ObjectType::kKey, old.Hex()}); !r) {
    return cli.Fatal(r.error().WithContext("removing the old key " + old.Short() +
                                           " (the new key works already)"));
  }
  if (!cli.global.json) cli.Print("removed old key " + old.Short() + "\n");
  return kExitOk;
}

int RunRemove(Cli& cli, const KeyFlags& f) {
  if (!IsHexPrefix(f.id)) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument,
                           "invalid key ID \"" + f.id + "\" (want 1-64 hex digits)"));
  }
  int code = kExitOk;
  auto v = cli.Open(LockMode::kExclusive, false, code);
  if (!v) return code;
  auto id = ResolveObjectId(v->repo->Store(), ObjectType::kKey, f.id);
  if (!id) return cli.Fatal(id.error());
  if (*id == v->repo->KeyId()) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument,
                           "refusing to remove key " + id->Short() +
                               ": it is the key currently used to access the vault"));
  }
  if (auto st = v->repo->Store().Stat({ObjectType::kKey, id->Hex()}); !st) {
    return cli.Fatal(st.error().Code() == ErrorCode::kNotFound
                         ? Error(ErrorCode::kNotFound, "no key " + id->Hex())
                         : st.error());
  }
  if (auto r = v->repo->Store().Remove({ObjectType::kKey, id->Hex()}); !r) {
    return cli.Fatal(r.error());
  }
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "key_removed";
    j["id"] = id->Hex();
    cli.PrintJson(j);
  } else {
    cli.Print("removed key " + id->Hex() + "\n");
  }
  return kExitOk;
}

}  // namespace

void AddKey(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<KeyFlags>();
  auto* cmd =
      app.add_subcommand("key", "manage the vault's keys (passwords): list, add, passwd, remove");
  cmd->require_subcommand(1);

  auto* list = cmd->add_subcommand("list", "list keys; * marks the key that opened the vault");
  list->callback([&cli] { cli.exit_code = RunList(cli); });

  auto new_key_flags = [f](CLI::App* sub) {
    sub->add_option("--new-password-file", f->new_password_file,
                    "read the new password from a file (first line)");
    sub->add_option("--host", f->host, "hostname recorded in the new key (default: this host)");
    sub->add_option("--user", f->user, "username recorded in the new key (default: current user)");
  };
  auto* add = cmd->add_subcommand("add", "add a key (a new password) for the vault");
  new_key_flags(add);
  add->callback([&cli, f] { cli.exit_code = RunAdd(cli, *f); });

  auto* passwd =
      cmd->add_subcommand("passwd", "change the password: add a new key, remove the current one");
  new_key_flags(passwd);
  passwd->callback([&cli, f] { cli.exit_code = RunPasswd(cli, *f); });

  auto* remove = cmd->add_subcommand("remove", "remove a key (not the one in use)");
  remove->add_option("id", f->id, "key ID or unique prefix")->required();
  remove->callback([&cli, f] { cli.exit_code = RunRemove(cli, *f); });
}

}  // namespace halley::cli
