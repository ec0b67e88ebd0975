// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include "commands.h"
#include "engine/snapshots.h"
#include "snapshot_json.h"

namespace halley::cli {

OrderedJson SnapshotJson(const engine::SnapshotEntry& e) {
  OrderedJson j = OrderedJson::parse(snapshot::EncodeSnapshot(e.snapshot), nullptr, false);
  j["id"] = e.id.Hex();
  j["short_id"] = e.id.Short();
  return j;
}

std::string JoinComma(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

namespace {

struct SnapshotsFlags {
  engine::SnapshotFilter filter;
  int latest = 0;
};

std::string Pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

int RunSnapshots(Cli& cli, const SnapshotsFlags& f) {
  int code = kExitOk;
  auto v = cli.Open(LockMode::kShared, false, code);
  if (!v) return code;
  std::vector<Error> errors;
  auto all = engine::ListSnapshots(*v->repo, &errors);
  if (!all) return cli.Fatal(all.error());
  for (const auto& e : errors) cli.Warn("error: " + e.Message() + "\n");
  const engine::SnapshotFilter& filter = f.filter;
  std::vector<engine::SnapshotEntry> shown;
  for (auto& e : *all) {
    if (engine::Matches(e.snapshot, filter)) shown.push_back(std::move(e));
  }
  if (f.latest > 0) {
    // The newest N per host and path set, as restic's --latest.
    std::vector<engine::SnapshotEntry> kept;
    std::map<std::pair<std::string, std::vector<std::string>>, int> seen;
    for (auto it = shown.rbegin(); it != shown.rend(); ++it) {
      if (seen[{it->snapshot.hostname, it->snapshot.paths}]++ < f.latest) kept.push_back(*it);
    }
    std::reverse(kept.begin(), kept.end());
    shown = std::move(kept);
  }
  if (cli.global.json) {
    OrderedJson arr = OrderedJson::array();
    for (const auto& e : shown) arr.push_back(SnapshotJson(e));
    cli.PrintJson(arr);
    return kExitOk;
  }
  size_t host_w = 4, tags_w = 4;
  for (const auto& e : shown) {
    host_w = std::max(host_w, e.snapshot.hostname.size());
    tags_w = std::max(tags_w, JoinComma(e.snapshot.tags).size());
  }
  std::string header =
      Pad("ID", 10) + Pad("Time", 21) + Pad("Host", host_w + 2) + Pad("Tags", tags_w + 2) + "Paths";
  std::string rule(std::max<size_t>(header.size() + 20, 60), '-');
  std::string out = header + "\n" + rule + "\n";
  for (const auto& e : shown) {
    const auto& s = e.snapshot;
    std::string first = Pad(e.id.Short(), 10) + Pad(FormatHuman(s.time), 21) +
                        Pad(s.hostname, host_w + 2) + Pad(JoinComma(s.tags), tags_w + 2);
    for (size_t i = 0; i < std::max<size_t>(1, s.paths.size()); ++i) {
      out += (i == 0 ? first : std::string(first.size(), ' ')) +
             (i < s.paths.size() ? s.paths[i] : "") + "\n";
    }
  }
  out += rule + "\n" + std::to_string(shown.size()) + " snapshots\n";
  cli.Print(out);
  return kExitOk;
}

}  // namespace

void AddSnapshots(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<SnapshotsFlags>();
  auto* cmd = app.add_subcommand("snapshots", "list snapshots");
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/false);
  cmd->add_option("--latest", f->latest, "only the newest N snapshots per host and paths");
  cmd->callback([&cli, f] { cli.exit_code = RunSnapshots(cli, *f); });
}

}  // namespace halley::cli
