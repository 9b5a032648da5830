// Many simultaneous downloads from one test process, each a full TFTP client
// (protocol/download_transfer) on its own socket, checked byte for byte.
#ifndef TFTPD_TESTS_INTEGRATION_CONCURRENT_DOWNLOADS_H_
#define TFTPD_TESTS_INTEGRATION_CONCURRENT_DOWNLOADS_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "io/socket_address.h"
#include "protocol/download_transfer.h"
#include "protocol/transfer.h"

namespace tftpd::testing {

struct DownloadJob {
  tftp::DownloadRequest request;
  const std::string* expected = nullptr;  // The file's content.
  // The content is `expected` rotated: byte i is expected[(i + rotation) %
  // size], so that many distinct responses are checked against one string.
  size_t rotation = 0;
};

struct DownloadReport {
  int completed = 0;
  // Failure reason ("timed_out", "content mismatch", ...) -> count.
  std::map<std::string, int> failures;
  // Each failed job: its client address and port, request and reason.
  std::vector<std::string> failed_jobs;
  // For each completed job, from the start of all: until its first reply,
  // and until it had the whole file.
  std::vector<std::chrono::microseconds> first_reply;
  std::vector<std::chrono::microseconds> duration;
};
// The `q` quantile (0..1) of `samples` (sorted in place); zero when empty.
std::chrono::microseconds Quantile(
    std::vector<std::chrono::microseconds>& samples, double q);

struct DownloadOptions {
  std::chrono::seconds limit{120};  // For all of the jobs together.
  // How the clients time out and retry; by default a patient firmware: 1 s,
  // 5 retries.
  tftp::TransferConfig client;
  // Keep each client's socket open while it dallies after the last block
  // (re-acknowledging a repeat of it, so that the server learns of the
  // transfer's end even when the first final ACK was lost). Without it a
  // client closes as soon as it has the whole file.
  bool dally = false;
  // Job i sends from ClientAddress(first_address + i).
  size_t first_address = 0;
  // Each client sends its request twice at once, as firmware whose first
  // timeout is shorter than the server's first answer does.
  bool repeat_request = false;
};

// Runs every job at once against `server` and waits for all of them (or
// the time limit).
DownloadReport RunConcurrentDownloads(const io::SocketAddress& server,
                                      const std::vector<DownloadJob>& jobs,
                                      const DownloadOptions& options = {});

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_INTEGRATION_CONCURRENT_DOWNLOADS_H_
