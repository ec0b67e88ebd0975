// SPDX-License-Identifier: Apache-2.0
#include <sys/utsname.h>

#include "commands.h"

namespace halley::cli {

void AddVersion(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("version", "display the application version");
  cmd->callback([&cli] {
    struct utsname u {};
    ::uname(&u);
    std::string platform = std::string(u.sysname) + "/" + u.machine;
    if (cli.global.json) {
      OrderedJson j;
      j["message_type"] = "version";
      j["version"] = HALLEY_VERSION;
      j["platform"] = platform;
      j["compiler"] = __VERSION__;
      cli.PrintJson(j);
    } else {
      std::cout << ProgramVersion() << " (Halley) compiled with " << __VERSION__ << " on "
                << platform << "\n";
    }
    cli.exit_code = kExitOk;
  });
}

}  // namespace halley::cli
