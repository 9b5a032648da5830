// The tftpd program as a function: flags (`--help` lists them), signals
// (SIGINT/SIGTERM stop, a second stops at once, SIGHUP reloads --map_file),
// the start-up line, --metrics_address and the final counters. tftpd's main
// is RunTftpd with nothing changed; a program built on the framework passes
// `configure` to set its handler and callbacks on the configuration the
// flags produced, and gets every flag and behaviour of tftpd with them.
#ifndef TFTPD_SERVER_DAEMON_TFTPD_RUNNER_H_
#define TFTPD_SERVER_DAEMON_TFTPD_RUNNER_H_

#include <functional>

#include "absl/status/status.h"
#include "server/api/server_config.h"

namespace tftpd {

// Returns an error to stop before serving (printed, exit code 2).
using ConfigureServer = std::function<absl::Status(ServerConfig& config)>;

// Returns the process exit code.
int RunTftpd(int argc, char** argv, const ConfigureServer& configure = {});

}  // namespace tftpd

#endif  // TFTPD_SERVER_DAEMON_TFTPD_RUNNER_H_
