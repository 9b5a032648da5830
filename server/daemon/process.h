// What the tftpd program asks of its process: the socket systemd passed,
// the bundled root, signals, and giving up privileges once serving.
#ifndef TFTPD_SERVER_DAEMON_PROCESS_H_
#define TFTPD_SERVER_DAEMON_PROCESS_H_

#include <signal.h>

#include <chrono>
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tftpd {

// systemd's socket activation (sd_listen_fds(3)): the passed socket, or -1
// when none was passed.
absl::StatusOr<int> SocketFromSystemd();
// The bundled example root (see process.cc for where it is looked for).
std::string DefaultRoot();
// The next of `signals` (blocked in every thread), or -1 after `limit`.
int WaitForSignal(const sigset_t& signals, std::chrono::milliseconds limit);
// --chroot/--secure into `root`, then --user (by default, as root, an
// unprivileged user: see --user).
absl::Status DropPrivileges(const std::string& root);
// Raises RLIMIT_NOFILE to `needed` descriptors (the soft limit, and the hard
// limit where the process may); an error saying what to set when it cannot.
// `what` names the flags that need them.
absl::Status RaiseDescriptorLimit(size_t needed, const std::string& what);

// What this host allows of transfers that each hold a socket (the default
// mode): descriptors (RLIMIT_NOFILE's hard limit less `reserved`) and
// ephemeral ports for one local address (net.ipv4.ip_local_port_range).
// 0 where it cannot be read.
struct HostTransferLimits {
  size_t descriptors = 0;
  size_t ports = 0;
};
HostTransferLimits ReadHostTransferLimits(size_t reserved);

}  // namespace tftpd

#endif  // TFTPD_SERVER_DAEMON_PROCESS_H_
