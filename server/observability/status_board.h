// What the status page remembers between requests, fed by the transfer
// records (TransferStats, on the statistics thread): the last failures and
// the most requested files. Both are bounded whatever clients ask for: two
// rings of failures, one for clients that answered and one for requests
// whose sender never did (refused, or unanswered: forged ones among them,
// which cost their sender nothing and so must not push a real client's
// failure out), and the files of transfers (refused requests cost their
// sender nothing and are not counted) in a table of fixed size, by the
// space-saving count: a new name takes the place of the least counted one
// and inherits its count, so any file asked for more often than once in
// `max_files` transfers stays listed, and distinct names cost nothing.
#ifndef TFTPD_SERVER_OBSERVABILITY_STATUS_BOARD_H_
#define TFTPD_SERVER_OBSERVABILITY_STATUS_BOARD_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "server/api/stats_callbacks.h"

namespace tftpd {

class StatusBoard {
 public:
  struct Failure {
    std::chrono::system_clock::time_point when;
    std::string peer;
    std::string file;
    std::string outcome;
    uint16_t error_code = 0;
    std::string error_message;
  };
  struct FileCount {
    std::string name;
    uint64_t count = 0;
  };

  StatusBoard(size_t max_failures = 20, size_t max_files = 64)
      : max_failures_(max_failures), max_files_(max_files) {}

  // Any thread.
  void OnTransfer(const TransferStats& stats);
  // Failures of clients that answered, newest first.
  std::vector<Failure> failures() const;
  // Failures of requests whose sender never answered, newest first.
  std::vector<Failure> unanswered_failures() const;
  std::vector<FileCount> top_files(size_t n) const;  // Most counted first.
  // Names that took the place of a less requested one (the table was full).
  uint64_t files_replaced() const;

 private:
  const size_t max_failures_;
  const size_t max_files_;
  mutable std::mutex mutex_;
  std::deque<Failure> failures_;
  std::deque<Failure> unanswered_failures_;
  std::vector<FileCount> files_;
  uint64_t files_replaced_ = 0;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_OBSERVABILITY_STATUS_BOARD_H_
