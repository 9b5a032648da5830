// tftpd's flags, defined in flags.cc, and the configuration they make
// (config_from_flags.cc).
#ifndef TFTPD_SERVER_DAEMON_FLAGS_H_
#define TFTPD_SERVER_DAEMON_FLAGS_H_

#include "absl/status/statusor.h"
#include "gflags/gflags.h"
#include "server/api/server_config.h"

DECLARE_string(address);
DECLARE_bool(allow_write);
DECLARE_int32(blksize_max);
DECLARE_bool(chroot);
DECLARE_int32(commit_queue);
DECLARE_bool(create);
DECLARE_string(inject_faults);
DECLARE_string(io_backend);
DECLARE_string(listener);
DECLARE_string(log_level);
DECLARE_string(map_file);
DECLARE_int32(max_sessions);
DECLARE_int32(max_sessions_per_address);
DECLARE_double(max_timeout);
DECLARE_int32(max_transfers);
DECLARE_int32(max_transfers_per_address);
DECLARE_int64(max_upload_bytes);
DECLARE_string(metrics_address);
DECLARE_int32(metrics_connections);
DECLARE_int32(metrics_timeout);
DECLARE_bool(overwrite);
DECLARE_bool(permissive);
DECLARE_int32(port);
DECLARE_string(port_file);
DECLARE_bool(portable_resolver);
DECLARE_int64(rcvbuf);
DECLARE_int32(requests_per_second_per_address);
DECLARE_bool(resend_on_duplicate_ack);
DECLARE_int32(retries);
DECLARE_string(root);
DECLARE_bool(secure);
DECLARE_double(shutdown_grace);
DECLARE_bool(single_port);
DECLARE_bool(single_port_uploads);
DECLARE_double(source_timeout);
DECLARE_int32(spin_us);
DECLARE_double(stats_interval);
DECLARE_int32(threads);
DECLARE_double(timeout);
DECLARE_string(umask);
DECLARE_double(unanswered_timeout);
DECLARE_int32(unverified_bytes_max);
DECLARE_string(upload_database);
DECLARE_string(upload_spool);
DECLARE_string(upload_table);
DECLARE_string(user);
DECLARE_int32(windowsize_max);
DECLARE_string(write_root);

namespace tftpd {

// The server's configuration from the flags; an error names the flag.
absl::StatusOr<ServerConfig> ConfigFromFlags();

}  // namespace tftpd

#endif  // TFTPD_SERVER_DAEMON_FLAGS_H_
