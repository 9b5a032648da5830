// What tftpd logs once it serves: the start-up line (printed at every log
// level), what bounds the number of transfers on this host, where uploads
// go, and the kernel settings that hold it back.
#ifndef TFTPD_SERVER_DAEMON_STARTUP_LOG_H_
#define TFTPD_SERVER_DAEMON_STARTUP_LOG_H_

#include <cstddef>

#include "server/api/server.h"

namespace tftpd {

// `reserved_descriptors`: the descriptors tftpd keeps for other than
// transfers' sockets.
void LogServing(const Server& server, size_t reserved_descriptors);

}  // namespace tftpd

#endif  // TFTPD_SERVER_DAEMON_STARTUP_LOG_H_
