// Many simultaneous downloads from one test process, each a full TFTP client
// (protocol/download_session) on its own socket, checked byte for byte.
#ifndef TFTPD_TESTS_INTEGRATION_CONCURRENT_DOWNLOADS_H_
#define TFTPD_TESTS_INTEGRATION_CONCURRENT_DOWNLOADS_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "io/socket_address.h"
#include "protocol/download_session.h"

namespace tftpd::testing {

struct DownloadJob {
  tftp::DownloadRequest request;
  const std::string* expected = nullptr;  // The file's content.
};

struct DownloadReport {
  int completed = 0;
  // Failure reason ("timed_out", "content mismatch", ...) -> count.
  std::map<std::string, int> failures;
};

// Runs every job at once against `server` and waits for all of them (or
// `limit`).
DownloadReport RunConcurrentDownloads(
    const io::SocketAddress& server, const std::vector<DownloadJob>& jobs,
    std::chrono::seconds limit = std::chrono::seconds(120));

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_INTEGRATION_CONCURRENT_DOWNLOADS_H_
