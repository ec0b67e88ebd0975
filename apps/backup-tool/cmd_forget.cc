// SPDX-License-Identifier: Apache-2.0
//
// forget: removes snapshots named by ID, or those a retention policy does not keep (restic's
// --keep-* rules, or the product's RetentionPolicy JSON with --policy), group by group; then,
// with --prune, removes the data no snapshot needs any more. docs/retention.md describes the
// rules and this command.
//
// With --vault, a run that may change the vault is a job of the account (reference/comet.md
// §2.5): forget by snapshot IDs is 4005 (DELETE_CUSTOM, the product's deletion of chosen
// snapshots; the dispatcher's delete-snapshot runs it), forget by a policy and the `retention`
// command are 4003 (RETENTION), their prune included. The numbers of snapshots removed and kept
// fit no BackupJobDetail count: they go into the job log, and the job has no totals. A dry run
// changes nothing and reports no job; neither does a command line refused before the vault
// is opened.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/clock.h"
#include "commands.h"
#include "engine/packindexes.h"
#include "engine/references.h"
#include "engine/snapshots.h"
#include "managed_job.h"
#include "prune_command.h"
#include "snapshot/retention.h"
#include "snapshot_json.h"

namespace halley::cli {
namespace {

using snapshot::RetentionDecision;

struct ForgetFlags {
  std::vector<std::string> ids;
  std::string keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
  std::string keep_within, keep_within_hourly, keep_within_daily, keep_within_weekly,
      keep_within_monthly, keep_within_yearly;
  std::vector<std::string> keep_tags;
  std::string policy_file;
  std::string group_by = "host,paths";
  engine::SnapshotFilter filter;
  bool dry_run = false;
  bool prune = false;
  bool unsafe_allow_remove_all = false;
  PruneFlags prune_flags;
  bool retention = false;  // the `retention` command: the pass runs even if nothing is removed
  bool repack = false;     // prune walks every tree and repacks partly used packs
};

// The policy a run applies: restic's rules, or the product's RetentionPolicy.
struct Policy {
  bool product = false;
  snapshot::ResticPolicy restic;
  snapshot::RetentionPolicy retention;

  bool Empty() const { return !product && restic.Empty(); }
  std::string String() const {
    return product ? snapshot::EncodeRetentionPolicy(retention) : restic.String();
  }
};

struct Group {
  snapshot::GroupKey key;
  std::vector<engine::SnapshotEntry> snapshots;  // newest first
  std::vector<RetentionDecision> decisions;      // one per snapshot
};

bool AnyKeepFlag(const ForgetFlags& f) {
  for (const std::string* s :
       {&f.keep_last, &f.keep_hourly, &f.keep_daily, &f.keep_weekly, &f.keep_monthly,
        &f.keep_yearly, &f.keep_within, &f.keep_within_hourly, &f.keep_within_daily,
        &f.keep_within_weekly, &f.keep_within_monthly, &f.keep_within_yearly}) {
    if (!s->empty()) return true;
  }
  return !f.keep_tags.empty();
}

Result<void> ParseCount(const std::string& flag, const std::string& text, int& out) {
  if (text.empty()) return {};
  auto n = snapshot::ParsePolicyCount(text);
  if (!n) return Fail(n.error().WithContext(flag));
  out = *n;
  return {};
}

Result<void> ParseWithin(const std::string& flag, const std::string& text,
                         snapshot::Duration& out) {
  if (text.empty()) return {};
  auto d = snapshot::ParseDuration(text);
  if (!d) return Fail(d.error().WithContext(flag));
  out = *d;
  return {};
}

Result<snapshot::ResticPolicy> ResticPolicyFromFlags(const ForgetFlags& f) {
  snapshot::ResticPolicy p;
  HALLEY_RETURN_IF_ERROR(ParseCount("--keep-last", f.keep_last, p.last));
  HALLEY_RETURN_IF_ERROR(ParseCount("--keep-hourly", f.keep_hourly, p.hourly));
  HALLEY_RETURN_IF_ERROR(ParseCount("--keep-daily", f.keep_daily, p.daily));
  HALLEY_RETURN_IF_ERROR(ParseCount("--keep-weekly", f.keep_weekly, p.weekly));
  HALLEY_RETURN_IF_ERROR(ParseCount("--keep-monthly", f.keep_monthly, p.monthly));
  HALLEY_RETURN_IF_ERROR(ParseCount("--keep-yearly", f.keep_yearly, p.yearly));
  HALLEY_RETURN_IF_ERROR(ParseWithin("--keep-within", f.keep_within, p.within));
  HALLEY_RETURN_IF_ERROR(
      ParseWithin("--keep-within-hourly", f.keep_within_hourly, p.within_hourly));
  HALLEY_RETURN_IF_ERROR(ParseWithin("--keep-within-daily", f.keep_within_daily, p.within_daily));
  HALLEY_RETURN_IF_ERROR(
      ParseWithin("--keep-within-weekly", f.keep_within_weekly, p.within_weekly));
  HALLEY_RETURN_IF_ERROR(
      ParseWithin("--keep-within-monthly", f.keep_within_monthly, p.within_monthly));
  HALLEY_RETURN_IF_ERROR(
      ParseWithin("--keep-within-yearly", f.keep_within_yearly, p.within_yearly));
  for (const auto& t : f.keep_tags) p.keep_tags.push_back(snapshot::SplitTagList(t));
  return p;
}

Result<snapshot::RetentionPolicy> LoadPolicyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kInvalidArgument, "cannot read policy file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto p = snapshot::DecodeRetentionPolicy(text.str());
  if (!p) return Fail(p.error().WithContext(path));
  return p;
}

std::string Pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

// restic's table: oldest first, one row per snapshot, reasons and paths one per line.
std::string Table(
    std::vector<std::pair<const engine::SnapshotEntry*, const RetentionDecision*>> rows,
    bool with_reasons) {
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.first->snapshot.time < b.first->snapshot.time;
  });
  size_t host_w = 4, tags_w = 4, reasons_w = 7;
  for (const auto& [e, d] : rows) {
    host_w = std::max(host_w, e->snapshot.hostname.size());
    tags_w = std::max(tags_w, JoinComma(e->snapshot.tags).size());
    if (with_reasons) {
      for (const auto& r : d->reasons) reasons_w = std::max(reasons_w, r.size());
    }
  }
  std::string header = Pad("ID", 10) + Pad("Time", 21) + Pad("Host", host_w + 2) +
                       Pad("Tags", tags_w + 2) +
                       (with_reasons ? Pad("Reasons", reasons_w + 2) : "") + "Paths";
  std::vector<std::string> lines;
  size_t width = header.size();
  for (const auto& [e, d] : rows) {
    const auto& s = e->snapshot;
    std::string first = Pad(e->id.Short(), 10) + Pad(FormatHuman(s.time), 21) +
                        Pad(s.hostname, host_w + 2) + Pad(JoinComma(s.tags), tags_w + 2);
    size_t n = std::max<size_t>(1, s.paths.size());
    if (with_reasons) n = std::max(n, d->reasons.size());
    for (size_t i = 0; i < n; ++i) {
      std::string line = i == 0 ? first : std::string(first.size(), ' ');
      if (with_reasons) line += Pad(i < d->reasons.size() ? d->reasons[i] : "", reasons_w + 2);
      line += i < s.paths.size() ? s.paths[i] : "";
      while (!line.empty() && line.back() == ' ') line.pop_back();
      width = std::max(width, line.size());
      lines.push_back(std::move(line));
    }
  }
  std::string rule(width, '-');
  std::string out = header + "\n" + rule + "\n";
  for (const auto& l : lines) out += l + "\n";
  out += rule + "\n" + std::to_string(rows.size()) + " snapshots\n";
  return out;
}

std::string GroupHeader(const snapshot::GroupKey& k) {
  std::vector<std::string> parts;
  if (!k.hostname.empty()) parts.push_back("host [" + k.hostname + "]");
  if (!k.tags.empty()) {
    std::string t;
    for (size_t i = 0; i < k.tags.size(); ++i) t += (i ? ", " : "") + k.tags[i];
    parts.push_back("tags [" + t + "]");
  }
  if (!k.paths.empty()) {
    std::string p;
    for (size_t i = 0; i < k.paths.size(); ++i) p += (i ? ", " : "") + k.paths[i];
    parts.push_back("paths [" + p + "]");
  }
  if (parts.empty()) return "";
  std::string h = "snapshots for (";
  for (size_t i = 0; i < parts.size(); ++i) h += (i ? ", " : "") + parts[i];
  return h + "):\n";
}

OrderedJson StringsOrNull(const std::vector<std::string>& v) {
  return v.empty() ? OrderedJson(nullptr) : OrderedJson(v);
}

// restic's ForgetGroup: keep and remove newest first, null when empty (Go's nil slices).
OrderedJson GroupJson(const Group& g) {
  OrderedJson keep = OrderedJson::array(), remove = OrderedJson::array(),
              reasons = OrderedJson::array();
  for (size_t i = 0; i < g.snapshots.size(); ++i) {
    OrderedJson s = SnapshotJson(g.snapshots[i]);
    if (g.decisions[i].keep) {
      keep.push_back(s);
      OrderedJson r;
      r["snapshot"] = std::move(s);
      r["matches"] = g.decisions[i].reasons;
      reasons.push_back(std::move(r));
    } else {
      remove.push_back(std::move(s));
    }
  }
  auto or_null = [](OrderedJson a) { return a.empty() ? OrderedJson(nullptr) : a; };
  OrderedJson j;
  j["tags"] = StringsOrNull(g.key.tags);
  j["host"] = g.key.hostname;
  j["paths"] = StringsOrNull(g.key.paths);
  j["keep"] = or_null(std::move(keep));
  j["remove"] = or_null(std::move(remove));
  j["reasons"] = or_null(std::move(reasons));
  return j;
}

// "{1a2b3c4d 5e6f7a8b}", as restic prints an ID set.
std::string IdSet(const std::vector<Id>& ids) {
  std::vector<std::string> shorts;
  for (const Id& id : ids) shorts.push_back(id.Short());
  std::sort(shorts.begin(), shorts.end());
  std::string s = "{";
  for (size_t i = 0; i < shorts.size(); ++i) s += (i ? " " : "") + shorts[i];
  return s + "}";
}

bool FilterEmpty(const engine::SnapshotFilter& f) {
  return f.hosts.empty() && f.tags.empty() && f.paths.empty();
}

int Remove(Cli& cli, OpenVault& v, const ForgetFlags& f, const std::vector<Id>& ids) {
  if (ids.empty()) return kExitOk;
  if (f.dry_run) {
    cli.Print("Would have removed the following snapshots:\n" + IdSet(ids) + "\n\n");
  } else {
    if (auto r = engine::RemoveSnapshots(*v.repo, ids); !r) {
      return cli.Fatal(r.error().WithContext("removing snapshots"));
    }
    for (const Id& id : ids) cli.Verbose(1, "removed snapshot " + id.Short() + "\n");
  }
  return kExitOk;
}

// The rest of a retention pass, after forget: the referential integrity check, then prune.
// Prune finds unused packs from the packindex files unless --repack asks for a tree walk.
int RetentionPass(Cli& cli, OpenVault& v, ForgetFlags& f) {
  cli.Print("checking referential integrity\n");
  engine::ReferenceCheckOptions o;
  o.write_missing_packindex = !f.dry_run;
  o.stop = cli.StopToken();
  auto r = engine::CheckReferences(*v.repo, o);
  if (!r) return cli.Fatal(r.error());
  if (r->packindex_written > 0) {
    cli.Print("wrote the packindex of " + std::to_string(r->packindex_written) +
              " snapshots that had none\n");
  }
  if (!r->Ok()) {
    for (const auto& e : r->errors) cli.Warn(e + "\n");
    if (cli.global.json) {
      OrderedJson j;
      j["message_type"] = "integrity";
      j["errors"] = r->errors;
      OrderedJson damaged = OrderedJson::object();
      for (const auto& [id, what] : r->damaged) damaged[id.Hex()] = what;
      j["depends_on_missing"] = damaged;
      cli.PrintJson(j);
    }
    std::string what = r->damaged.empty() ? "the vault has errors"
                                          : std::to_string(r->damaged.size()) +
                                                " snapshots depend on missing data";
    return cli.Fatal(
        Error(ErrorCode::kCorruption,
              "referential integrity check failed: " + what +
                  "; nothing was pruned. Forget the snapshots named above (`backup-tool forget "
                  "ID...`) or repair them (`backup-tool repair snapshots --forget`), then run "
                  "the retention pass again"),
        kExitFailure);
  }
  cli.Print("referential integrity ok: " + std::to_string(r->snapshots) + " snapshots\n");
  f.prune_flags.dry_run = f.dry_run;
  return RunPruneOn(cli, v, f.prune_flags, /*packindex_fast_path=*/!f.repack);
}

int ForgetIn(Cli& cli, ForgetFlags& f, const Policy& policy, const snapshot::GroupBy& group_by,
             ManagedJob& job);

int RunForget(Cli& cli, ForgetFlags& f) {
  auto invalid = [&](const std::string& msg) {
    return cli.Fatal(Error(ErrorCode::kInvalidArgument, msg));
  };
  // Everything that can be refused is refused before the vault is opened.
  const bool keep_flags = AnyKeepFlag(f);
  const bool by_ids = !f.ids.empty();
  if (keep_flags && !f.policy_file.empty()) {
    return invalid("--policy cannot be combined with --keep-* flags");
  }
  if (by_ids && (keep_flags || !f.policy_file.empty())) {
    return invalid("snapshot IDs cannot be combined with a policy (--keep-*, --policy)");
  }
  if (cli.global.no_lock && !f.dry_run) {
    return invalid("--no-lock is only applicable in combination with --dry-run for forget");
  }
  Policy policy;
  if (!f.policy_file.empty()) {
    auto p = LoadPolicyFile(f.policy_file);
    if (!p) return cli.Fatal(p.error());
    policy.product = true;
    policy.retention = std::move(*p);
  } else {
    auto p = ResticPolicyFromFlags(f);
    if (!p) return cli.Fatal(p.error());
    policy.restic = std::move(*p);
  }
  auto group_by = snapshot::ParseGroupBy(f.group_by);
  if (!group_by) return cli.Fatal(group_by.error());
  if (!by_ids && policy.Empty() && !f.retention) {
    if (!f.unsafe_allow_remove_all) {
      return invalid(
          "no policy was specified, no snapshots will be removed (give snapshot IDs, --keep-* "
          "flags or --policy)");
    }
    if (FilterEmpty(f.filter)) {
      return invalid(
          "--unsafe-allow-remove-all is not allowed unless a snapshot filter option is specified");
    }
  }

  auto run = [&](ManagedJob& job) { return ForgetIn(cli, f, policy, *group_by, job); };
  if (f.dry_run) {
    ManagedJob none;  // reports nothing
    return run(none);
  }
  return RunAsJob(cli, by_ids ? client::kJobDeleteCustom : client::kJobRetention, "", run);
}

// The part of forget that runs on the opened vault, once the command line is accepted.
int ForgetIn(Cli& cli, ForgetFlags& f, const Policy& policy, const snapshot::GroupBy& group_by,
             ManagedJob& job) {
  const bool by_ids = !f.ids.empty();
  int code = kExitOk;
  auto v = cli.Open(LockMode::kExclusive, /*load_index=*/f.prune || f.retention, code);
  if (!v) return code;

  std::vector<Id> remove;
  if (by_ids) {
    std::set<Id> seen;
    for (const auto& ref : f.ids) {
      auto e = engine::FindSnapshot(*v->repo, ref, f.filter);
      if (!e) return cli.Fatal(e.error());
      if (seen.insert(e->id).second) remove.push_back(e->id);
    }
    if (int rc = Remove(cli, *v, f, remove); rc != kExitOk) return rc;
    job.Log("I", "removed " + std::to_string(remove.size()) + " snapshots");
  } else if (!policy.Empty() || f.unsafe_allow_remove_all) {
    std::vector<Error> errors;
    auto all = engine::ListSnapshots(*v->repo, &errors);
    if (!all) return cli.Fatal(all.error());
    for (const auto& e : errors) cli.Warn("error: " + e.Message() + "\n");
    std::map<snapshot::GroupKey, Group> groups;
    for (auto& e : *all) {
      if (!engine::Matches(e.snapshot, f.filter)) continue;
      snapshot::GroupKey key = snapshot::GroupKeyOf(e.snapshot, group_by);
      Group& g = groups[key];
      g.key = std::move(key);
      g.snapshots.push_back(std::move(e));
    }
    const Time now = Clock::System().NowTime();
    const snapshot::TimeZone tz = snapshot::TimeZone::Local();
    for (auto& [key, g] : groups) {
      // Newest first; equal times by ID, so that the outcome does not depend on listing order.
      std::sort(g.snapshots.begin(), g.snapshots.end(), [](const auto& a, const auto& b) {
        if (a.snapshot.time != b.snapshot.time) return a.snapshot.time > b.snapshot.time;
        return a.id < b.id;
      });
      std::vector<snapshot::Snapshot> list;
      list.reserve(g.snapshots.size());
      for (const auto& e : g.snapshots) list.push_back(e.snapshot);
      auto d = policy.product ? snapshot::ApplyRetentionPolicy(list, policy.retention, now, tz)
                              : snapshot::ApplyResticPolicy(list, policy.restic, now, tz);
      if (!d) return cli.Fatal(d.error());
      g.decisions = std::move(*d);
    }
    // A policy that keeps nothing of a group is almost always a mistake (a --keep-tag that
    // matches nothing, a range that selects no backup): refuse before anything is removed.
    if (!policy.Empty() && !f.unsafe_allow_remove_all) {
      for (const auto& [key, g] : groups) {
        bool any = std::any_of(g.decisions.begin(), g.decisions.end(),
                               [](const RetentionDecision& d) { return d.keep; });
        if (!any) {
          std::string what = key.String().empty() ? "the snapshots considered"
                                                  : "snapshot group \"" + key.String() + "\"";
          return cli.Fatal(
              Error(ErrorCode::kInvalidArgument, "refusing to delete the last snapshot of " + what +
                                                     " (--unsafe-allow-remove-all allows it)"));
        }
      }
    }

    cli.Print("Applying Policy: " + policy.String() + "\n");
    OrderedJson json_groups = OrderedJson::array();
    size_t kept_total = 0;
    for (const auto& [key, g] : groups) {
      std::vector<std::pair<const engine::SnapshotEntry*, const RetentionDecision*>> kept, gone;
      for (size_t i = 0; i < g.snapshots.size(); ++i) {
        (g.decisions[i].keep ? kept : gone).emplace_back(&g.snapshots[i], &g.decisions[i]);
        if (!g.decisions[i].keep) remove.push_back(g.snapshots[i].id);
      }
      kept_total += kept.size();
      std::string header = GroupHeader(key);
      if (!header.empty()) cli.Verbose(1, header);
      if (!kept.empty()) {
        cli.Print("keep " + std::to_string(kept.size()) + " snapshots:\n" +
                  Table(kept, /*with_reasons=*/true) + "\n");
      }
      if (!gone.empty()) {
        cli.Print("remove " + std::to_string(gone.size()) + " snapshots:\n" +
                  Table(gone, /*with_reasons=*/false) + "\n");
      }
      json_groups.push_back(GroupJson(g));
    }
    if (int rc = Remove(cli, *v, f, remove); rc != kExitOk) return rc;
    job.Log("I", "removed " + std::to_string(remove.size()) + " snapshots, kept " +
                     std::to_string(kept_total) +
                     (policy.Empty() ? "" : " (policy " + policy.String() + ")"));
    if (cli.global.json && !json_groups.empty()) cli.PrintJson(json_groups);
  }

  if (f.retention || (f.prune && !remove.empty())) {
    if (remove.empty()) {
      cli.Print(f.dry_run ? "no snapshots to remove, retention pass dry run\n"
                          : "no snapshots to remove, running the retention pass\n");
    } else {
      cli.Print(std::to_string(remove.size()) +
                (f.dry_run ? " snapshots would be removed, retention pass dry run\n"
                           : " snapshots have been removed, running the retention pass\n"));
    }
    return RetentionPass(cli, *v, f);
  }
  return kExitOk;
}

}  // namespace

namespace {

// The flags forget and retention share: the policy, grouping, filters and prune's.
void AddPolicyFlags(CLI::App* cmd, ForgetFlags* f) {
  cmd->add_option("-l,--keep-last", f->keep_last, "keep the last N snapshots (or \"unlimited\")");
  cmd->add_option("--keep-hourly", f->keep_hourly,
                  "keep the last N hourly snapshots (or \"unlimited\")");
  cmd->add_option("-d,--keep-daily", f->keep_daily,
                  "keep the last N daily snapshots (or \"unlimited\")");
  cmd->add_option("-w,--keep-weekly", f->keep_weekly,
                  "keep the last N weekly snapshots (or \"unlimited\")");
  cmd->add_option("-m,--keep-monthly", f->keep_monthly,
                  "keep the last N monthly snapshots (or \"unlimited\")");
  cmd->add_option("-y,--keep-yearly", f->keep_yearly,
                  "keep the last N yearly snapshots (or \"unlimited\")");
  cmd->add_option("--keep-within", f->keep_within,
                  "keep snapshots newer than DURATION (e.g. 1y5m7d2h) before the newest one");
  cmd->add_option("--keep-within-hourly", f->keep_within_hourly,
                  "keep hourly snapshots within DURATION of the newest one");
  cmd->add_option("--keep-within-daily", f->keep_within_daily,
                  "keep daily snapshots within DURATION of the newest one");
  cmd->add_option("--keep-within-weekly", f->keep_within_weekly,
                  "keep weekly snapshots within DURATION of the newest one");
  cmd->add_option("--keep-within-monthly", f->keep_within_monthly,
                  "keep monthly snapshots within DURATION of the newest one");
  cmd->add_option("--keep-within-yearly", f->keep_within_yearly,
                  "keep yearly snapshots within DURATION of the newest one");
  cmd->add_option("--keep-tag", f->keep_tags,
                  "keep snapshots with all of these comma-separated tags (repeatable: any list; "
                  "'' = untagged)");
  cmd->add_option("--policy", f->policy_file,
                  "apply a RetentionPolicy JSON file ({\"Mode\":802,\"Ranges\":[...]}) instead of "
                  "--keep-* flags");
  cmd->add_option("-g,--group-by", f->group_by,
                  "group snapshots by host, paths and/or tags, comma-separated ('' = one group)")
      ->capture_default_str();
  AddSnapshotFilterFlags(cmd, f->filter, /*for_latest=*/false);
  cmd->add_flag("-n,--dry-run", f->dry_run, "do not remove anything, only print what would be");
  cmd->add_flag("--unsafe-allow-remove-all", f->unsafe_allow_remove_all,
                "allow removing every snapshot of a group (with a filter: even with no policy)");
  cmd->add_flag("--repack", f->repack,
                "prune walks every tree and repacks partly used packs (default: remove the "
                "packs no packindex names)");
  AddPruneFlags(cmd, f->prune_flags);
}

}  // namespace

void AddForget(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<ForgetFlags>();
  auto* cmd = app.add_subcommand(
      "forget", "remove snapshots by ID or by a retention policy (see docs/retention.md)");
  cmd->add_option("snapshot", f->ids, "snapshot IDs, unique prefixes or \"latest\" to remove");
  AddPolicyFlags(cmd, f.get());
  cmd->add_flag("--prune", f->prune,
                "if snapshots were removed, run the rest of the retention pass: the referential "
                "integrity check, then prune");
  cmd->callback([&cli, f] { cli.exit_code = RunForget(cli, *f); });
}

void AddRetention(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<ForgetFlags>();
  f->retention = true;
  auto* cmd = app.add_subcommand(
      "retention",
      "the retention pass: forget what the policy does not keep (no policy: nothing), check "
      "referential integrity, prune");
  AddPolicyFlags(cmd, f.get());
  cmd->callback([&cli, f] { cli.exit_code = RunForget(cli, *f); });
}

}  // namespace halley::cli
