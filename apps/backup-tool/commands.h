// SPDX-License-Identifier: Apache-2.0
//
// One function per subcommand (cmd_<name>.cc): it adds the subcommand, its flags and a callback
// that runs it and stores the exit code in Cli::exit_code.
#pragma once

#include "cli.h"

namespace halley::cli {

void AddInit(CLI::App& app, Cli& cli);
void AddBackup(CLI::App& app, Cli& cli);
void AddRestore(CLI::App& app, Cli& cli);
void AddSnapshots(CLI::App& app, Cli& cli);
void AddLs(CLI::App& app, Cli& cli);
void AddFind(CLI::App& app, Cli& cli);
void AddDiff(CLI::App& app, Cli& cli);
void AddCat(CLI::App& app, Cli& cli);
void AddKey(CLI::App& app, Cli& cli);
void AddStats(CLI::App& app, Cli& cli);
void AddUnlock(CLI::App& app, Cli& cli);
void AddVersion(CLI::App& app, Cli& cli);
void AddCheck(CLI::App& app, Cli& cli);
void AddForget(CLI::App& app, Cli& cli);
void AddRetention(CLI::App& app, Cli& cli);
void AddPrune(CLI::App& app, Cli& cli);
void AddRebuildIndex(CLI::App& app, Cli& cli);
void AddRepair(CLI::App& app, Cli& cli);
void AddCopy(CLI::App& app, Cli& cli);
void AddLogin(CLI::App& app, Cli& cli);     // login prompt|status|disconnect
void AddInfo(CLI::App& app, Cli& cli);      // info device-id
void AddVault(CLI::App& app, Cli& cli);     // the account's Storage Vaults
void AddItem(CLI::App& app, Cli& cli);      // the account's Protected Items
void AddSchedule(CLI::App& app, Cli& cli);  // the account's Schedules
void AddDaemon(CLI::App& app, Cli& cli);    // runs the Schedules

}  // namespace halley::cli
