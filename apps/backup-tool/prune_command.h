// SPDX-License-Identifier: Apache-2.0
//
// prune as a step other commands run too (forget --prune, retention).
#pragma once

#include "cli.h"

namespace halley::cli {

struct PruneFlags {
  std::string max_unused = "5%";  // "5%", "unlimited" or a size ("10M", "2G", bytes)
  std::string max_repack_size;    // a size; empty: no limit
  bool dry_run = false;
};

void AddPruneFlags(CLI::App* cmd, PruneFlags& flags);

// Prunes an opened vault that the caller holds an exclusive lock on (index loaded); prints the
// plan and the result; returns the exit code. `packindex_fast_path`: find unused packs from the
// packindex files when every snapshot has one (no tree walk, no repacking).
int RunPruneOn(Cli& cli, OpenVault& vault, const PruneFlags& flags,
               bool packindex_fast_path = false);

}  // namespace halley::cli
