// The status page on the metrics address: `/` as HTML for a person (it
// refreshes itself every two seconds; no script, no framework) and
// `/transfers` as JSON for programs. Both show the transfers in progress
// (client, file, progress, rate, retransmissions, age), the last failures
// with their ERROR, the most requested files and each shard's load.
#ifndef TFTPD_SERVER_OBSERVABILITY_STATUS_PAGE_H_
#define TFTPD_SERVER_OBSERVABILITY_STATUS_PAGE_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "server/api/server_stats.h"
#include "server/api/transfer_snapshot.h"
#include "server/observability/status_board.h"

namespace tftpd {

struct StatusView {
  std::vector<TransferSnapshot> transfers;
  std::vector<ServerTotals> shards;  // Since start, one per shard.
  std::vector<StatusBoard::Failure> failures;
  std::vector<StatusBoard::Failure> unanswered_failures;
  std::vector<StatusBoard::FileCount> files;
  std::chrono::system_clock::time_point now;
};

// At most this many transfers are listed (the oldest first: a stuck one is
// what an operator looks for); the total is always given.
inline constexpr size_t kStatusRowsMax = 1000;

std::string RenderStatusJson(StatusView view);
std::string RenderStatusHtml(StatusView view);

// Text safe inside HTML elements and attribute values.
std::string HtmlText(std::string_view text);

}  // namespace tftpd

#endif  // TFTPD_SERVER_OBSERVABILITY_STATUS_PAGE_H_
