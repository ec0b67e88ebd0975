// SPDX-License-Identifier: Apache-2.0
#include "commands.h"
#include "engine/maintenance.h"
#include "engine/snapshots.h"

namespace halley::cli {
namespace {

struct RepairFlags {
  std::vector<std::string> snapshots;
  bool forget = false;
  bool dry_run = false;
};

int RunRepairSnapshots(Cli& cli, const RepairFlags& f) {
  int code = kExitOk;
  auto v = cli.Open(LockMode::kExclusive, true, code);
  if (!v) return code;
  engine::RepairSnapshotsOptions o;
  for (const auto& ref : f.snapshots) {
    auto s = engine::FindSnapshot(*v->repo, ref);
    if (!s) return cli.Fatal(s.error());
    o.snapshots.push_back(s->id);
  }
  o.forget = f.forget;
  o.dry_run = f.dry_run;
  o.stop = cli.StopToken();
  o.log = [&](const std::string& line) { cli.Print(line + "\n"); };
  auto r = engine::RepairSnapshots(*v->repo, o);
  if (!r) return cli.Fatal(r.error());
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "summary";
    j["dry_run"] = f.dry_run;
    j["snapshots_checked"] = r->snapshots_checked;
    j["snapshots_repaired"] = r->snapshots_repaired;
    j["snapshots_dropped"] = r->snapshots_dropped;
    j["files_fixed"] = r->files_fixed;
    j["dirs_replaced"] = r->dirs_replaced;
    OrderedJson rewritten = OrderedJson::array();
    for (const auto& [old_id, new_id] : r->rewritten) {
      rewritten.push_back({{"original", old_id.Hex()}, {"repaired", new_id.Hex()}});
    }
    j["rewritten"] = rewritten;
    cli.PrintJson(j);
  } else if (r->snapshots_repaired == 0 && r->snapshots_dropped == 0) {
    cli.Print("no snapshots needed repair\n");
  } else {
    cli.Print(std::string(f.dry_run ? "would repair " : "repaired ") +
              std::to_string(r->snapshots_repaired) + " snapshots" +
              (r->snapshots_dropped ? ", dropped " + std::to_string(r->snapshots_dropped) : "") +
              (f.forget || f.dry_run ? "" : "; the originals are kept (use --forget)") + "\n");
  }
  return kExitOk;
}

}  // namespace

void AddRepair(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("repair", "repair vault data");
  cmd->require_subcommand(1);
  auto f = std::make_shared<RepairFlags>();
  auto* snaps = cmd->add_subcommand(
      "snapshots", "rewrite snapshots without the data the vault has lost (tagged \"repaired\")");
  snaps->add_option("snapshot", f->snapshots, "snapshots to repair (default: all)");
  snaps->add_flag("--forget", f->forget, "remove the original snapshots afterwards");
  snaps->add_flag("-n,--dry-run", f->dry_run, "only show what would be done");
  snaps->callback([&cli, f] { cli.exit_code = RunRepairSnapshots(cli, *f); });
}

}  // namespace halley::cli
