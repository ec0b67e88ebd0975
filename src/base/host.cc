// SPDX-License-Identifier: Apache-2.0
#include "base/host.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

namespace halley {

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

std::string UserNameForUid(uid_t uid) {
  struct passwd pw {};
  struct passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr) return "";
  return pw.pw_name;
}

std::string GroupNameForGid(gid_t gid) {
  struct group gr {};
  struct group* result = nullptr;
  std::vector<char> buf(16384);
  if (getgrgid_r(gid, &gr, buf.data(), buf.size(), &result) != 0 || result == nullptr) return "";
  return gr.gr_name;
}

std::string Username() {
  std::string name = UserNameForUid(geteuid());
  return name.empty() ? std::to_string(geteuid()) : name;
}

bool ProcessExists(int64_t pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

}  // namespace halley
