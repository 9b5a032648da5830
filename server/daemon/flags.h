// tftpd's flags: their definitions (flags.cc), the configuration they make,
// and the ones the runner reads itself.
#ifndef TFTPD_SERVER_DAEMON_FLAGS_H_
#define TFTPD_SERVER_DAEMON_FLAGS_H_

#include "absl/status/statusor.h"
#include "gflags/gflags.h"
#include "server/api/server_config.h"

DECLARE_string(address);
DECLARE_bool(allow_write);
DECLARE_bool(chroot);
DECLARE_string(log_level);
DECLARE_string(map_file);
DECLARE_int64(max_upload_bytes);
DECLARE_string(metrics_address);
DECLARE_int32(metrics_connections);
DECLARE_int32(metrics_timeout);
DECLARE_string(port_file);
DECLARE_bool(secure);
DECLARE_double(stats_interval);
DECLARE_double(timeout);
DECLARE_string(upload_database);
DECLARE_string(upload_spool);
DECLARE_string(upload_table);
DECLARE_string(user);

namespace tftpd {

// The server's configuration from the flags; an error names the flag.
absl::StatusOr<ServerConfig> ConfigFromFlags();

}  // namespace tftpd

#endif  // TFTPD_SERVER_DAEMON_FLAGS_H_
