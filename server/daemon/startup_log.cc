#include "server/daemon/startup_log.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/api/log.h"
#include "server/daemon/flags.h"
#include "server/daemon/process.h"

namespace tftpd {
namespace {

// How many transfers may be open at once, and what on this host bounds it,
// so that an operator planning for a hall of machines knows before they
// boot (the README's "A hall of machines at once" says what to raise).
void LogTransferLimits(const ServerConfig& c, const HostTransferLimits& host) {
  if (c.single_port) {
    TFTPD_LOG(kInfo,
              "up to %d transfers at once (--max_transfers); in single-port "
              "mode a transfer holds no socket",
              static_cast<int64_t>(c.max_transfers));
    return;
  }
  TFTPD_LOG(kInfo,
            "up to %d transfers at once (--max_transfers), each with a "
            "socket; this host allows %d by descriptors (RLIMIT_NOFILE) and "
            "%d by ephemeral ports per address (net.ipv4.ip_local_port_range)",
            static_cast<int64_t>(c.max_transfers),
            static_cast<int64_t>(host.descriptors),
            static_cast<int64_t>(host.ports));
  if (host.ports > 0 && static_cast<size_t>(c.max_transfers) > host.ports) {
    TFTPD_LOG(kWarning,
              "--max_transfers=%d exceeds the %d ephemeral ports of one "
              "local address: widen net.ipv4.ip_local_port_range or run "
              "with --single_port",
              static_cast<int64_t>(c.max_transfers),
              static_cast<int64_t>(host.ports));
  }
}

void LogServingLine(const Server& server) {
  const ServerConfig& c = server.config();
  WriteLogLine(
      LogLevel::kInfo,
      absl::StrFormat(
          "tftpd serving %s on %s (UDP port %d) with %d shards on %s, %s "
          "listener%s; "
          "blksize_max=%d windowsize_max=%d timeout=%.1fs retries=%d "
          "max_transfers=%d rcvbuf=%d resolver=%s",
          server.root().path(), server.address().ToString(),
          server.address().port(), c.threads, server.backend_name(),
          c.listener == ListenerMode::kSingle ? "single" : "reuseport",
          c.single_port ? ", single port" : "", c.limits.max_blksize,
          c.limits.max_windowsize, FLAGS_timeout, c.transfer.max_retries,
          static_cast<int>(c.max_transfers),
          static_cast<int64_t>(server.receive_buffer()),
          server.root().uses_openat2() ? "openat2" : "portable"));
}

void LogUploads(const ServerConfig& c) {
  if (!c.allow_write) return;
  TFTPD_LOG(kInfo,
            "uploads on into %s: create=%s overwrite=%s max_upload_bytes=%s",
            c.write_root.empty() ? c.root : c.write_root,
            c.upload_policy.create ? "yes" : "no",
            c.upload_policy.overwrite ? "yes" : "no",
            FLAGS_max_upload_bytes > 0 ? absl::StrCat(FLAGS_max_upload_bytes)
                                       : std::string("unlimited"));
  if (FLAGS_upload_database.empty() && !c.upload_policy.create &&
      !c.upload_policy.overwrite) {
    TFTPD_LOG(kWarning,
              "--allow_write without --create or --overwrite: every upload "
              "will be refused");
  }
}

}  // namespace

void LogServing(const Server& server, size_t reserved_descriptors) {
  if (!server.fallback_reason().empty()) {
    TFTPD_LOG(kWarning, "io_uring is unavailable (%s); using %s",
              server.fallback_reason(), server.backend_name());
  }
  LogServingLine(server);
  const ServerConfig& c = server.config();
  LogTransferLimits(c, ReadHostTransferLimits(reserved_descriptors));
  if (c.inherited_socket >= 0) {
    TFTPD_LOG(kInfo,
              "serving on the socket systemd passed (--address and "
              "--port do not apply)");
  }
  LogUploads(c);
  if (server.receive_buffer() < server.requested_receive_buffer()) {
    TFTPD_LOG(kWarning,
              "the kernel capped the service socket receive buffer at %d "
              "bytes (asked for %d); raise net.core.rmem_max or run with "
              "CAP_NET_ADMIN to hold larger bursts of requests (and, in "
              "single-port mode, of ACKs)",
              static_cast<int64_t>(server.receive_buffer()),
              static_cast<int64_t>(server.requested_receive_buffer()));
  }
}

}  // namespace tftpd
