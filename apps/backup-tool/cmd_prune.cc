// SPDX-License-Identifier: Apache-2.0
#include "commands.h"
#include "engine/pruner.h"
#include "managed_job.h"
#include "prune_command.h"

namespace halley::cli {

void AddPruneFlags(CLI::App* cmd, PruneFlags& flags) {
  cmd->add_option("--max-unused", flags.max_unused,
                  "tolerated unused space after prune: a percentage (default 5%), a size or "
                  "\"unlimited\"");
  cmd->add_option("--max-repack-size", flags.max_repack_size,
                  "repack at most this much data (e.g. 2G)");
}

int RunPruneOn(Cli& cli, OpenVault& vault, const PruneFlags& flags, bool packindex_fast_path) {
  engine::PruneOptions o;
  auto max_unused = engine::MaxUnused::Parse(flags.max_unused);
  if (!max_unused) return cli.Fatal(max_unused.error());
  o.max_unused = *max_unused;
  if (!flags.max_repack_size.empty()) {
    auto size = engine::ParseSize(flags.max_repack_size);
    if (!size) return cli.Fatal(size.error());
    o.max_repack_bytes = *size;
  }
  o.dry_run = flags.dry_run;
  o.packindex_fast_path = packindex_fast_path;
  o.lock = vault.lock.get();
  o.stop = cli.StopToken();
  o.log = [&](const std::string& line) { cli.Print(line + "\n"); };
  auto r = engine::Prune(*vault.repo, o);
  if (!r) return cli.Fatal(r.error());
  const auto& s = *r;
  // Temporary files of writes a crash interrupted: nothing refers to them.
  size_t temporaries = 0;
  if (!flags.dry_run) {
    auto removed = vault.store->RemoveStaleTemporaries(storage::kStaleTemporaryAge);
    if (removed) {
      temporaries = *removed;
    } else {
      cli.Warn("Warning: stale temporary files were not removed: " + removed.error().Message() +
               "\n");
    }
  }
  if (cli.global.json) {
    OrderedJson j;
    j["message_type"] = "summary";
    j["dry_run"] = flags.dry_run;
    j["walked_trees"] = s.walked_trees;
    j["snapshots"] = s.snapshots;
    j["packs"] = s.packs;
    j["used_blobs"] = s.used_blobs;
    j["used_bytes"] = s.used_bytes;
    j["unused_blobs"] = s.unused_blobs;
    j["unused_bytes"] = s.unused_bytes;
    j["duplicate_blobs"] = s.duplicate_blobs;
    j["duplicate_bytes"] = s.duplicate_bytes;
    j["remove_packs"] = s.remove_packs;
    j["remove_bytes"] = s.remove_bytes;
    j["repack_packs"] = s.repack_packs;
    j["repack_bytes"] = s.repack_bytes;
    j["repacked_blobs"] = s.repacked_blobs;
    j["orphan_packs"] = s.orphan_packs;
    j["orphan_bytes"] = s.orphan_bytes;
    j["unused_bytes_after"] = s.unused_after;
    j["packindex_written"] = s.packindex_written;
    j["index_files_written"] = s.index_files_written;
    j["stale_temporaries_removed"] = temporaries;
    cli.PrintJson(j);
    return kExitOk;
  }
  auto line = [&](const char* label, uint64_t blobs, uint64_t bytes) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%-14s %10llu blobs / %s\n", label,
                  static_cast<unsigned long long>(blobs), FormatBytes(bytes).c_str());
    cli.Print(buf);
  };
  cli.Print("\n");
  if (s.walked_trees) {
    line("used:", s.used_blobs, s.used_bytes);
    line("unused:", s.unused_blobs, s.unused_bytes);
    if (s.duplicate_blobs) line("  duplicates:", s.duplicate_blobs, s.duplicate_bytes);
  } else {
    cli.Print("used packs found from the snapshots' packindex files (no tree walk)\n");
  }
  cli.Print("packs to delete:  " + std::to_string(s.remove_packs) + " (" +
            FormatBytes(s.remove_bytes) + ")\n");
  cli.Print("packs to repack:  " + std::to_string(s.repack_packs) + " (" +
            FormatBytes(s.repack_bytes) + ")\n");
  if (s.orphan_packs) {
    cli.Print("unreferenced packs: " + std::to_string(s.orphan_packs) + " (" +
              FormatBytes(s.orphan_bytes) + ")\n");
  }
  if (s.walked_trees) {
    cli.Print("unused size after prune: " + FormatBytes(s.unused_after) + "\n");
  }
  if (flags.dry_run) {
    cli.Print("\nthis was a dry run: nothing was changed\n");
    return kExitOk;
  }
  if (s.repacked_blobs) {
    cli.Print("repacked " + std::to_string(s.repacked_blobs) + " blobs (" +
              FormatBytes(s.repacked_blob_bytes) + ")\n");
  }
  if (s.packindex_written) {
    cli.Print("rewrote " + std::to_string(s.packindex_written) + " packindex files\n");
  }
  if (temporaries) {
    cli.Print("removed " + std::to_string(temporaries) +
              " temporary files left by interrupted writes\n");
  }
  cli.Print("done\n");
  return kExitOk;
}

void AddPrune(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<PruneFlags>();
  auto* cmd = app.add_subcommand("prune", "remove data no snapshot references");
  AddPruneFlags(cmd, *f);
  cmd->add_flag("-n,--dry-run", f->dry_run, "only show what would be done");
  cmd->callback([&cli, f] {
    auto run = [&](ManagedJob&) {
      int code = kExitOk;
      auto v = cli.Open(LockMode::kExclusive, true, code);
      if (!v) return code;
      // With no limit on unused space only whole packs go, which the packindex finds cheaply.
      return RunPruneOn(cli, *v, *f, f->max_unused == "unlimited");
    };
    // With --vault, prune is a job of the account: the product has no classification of its
    // own for it (reference/comet.md §2.5), and its retention pass (4003) ends with one. What
    // prune removes fits no BackupJobDetail count, so the job has no totals. A dry run changes
    // nothing and reports no job.
    if (f->dry_run) {
      ManagedJob none;  // reports nothing
      cli.exit_code = run(none);
    } else {
      cli.exit_code = RunAsJob(cli, client::kJobRetention, "", run);
    }
  });
}

}  // namespace halley::cli
