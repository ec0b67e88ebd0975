// SPDX-License-Identifier: Apache-2.0
//
// Facts about the host and process, for lock files, key files and snapshots.
#pragma once

#include <sys/types.h>

#include <string>

namespace halley {

std::string Hostname();                  // gethostname(), "" if unavailable
std::string Username();                  // the effective user's login name, or the numeric UID
std::string UserNameForUid(uid_t uid);   // "" if the UID has no passwd entry
std::string GroupNameForGid(gid_t gid);  // "" if the GID has no group entry
// False only if no process with this PID exists on this host (kill(pid, 0) == ESRCH).
bool ProcessExists(int64_t pid);

}  // namespace halley
