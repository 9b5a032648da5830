// Statistics delivered to the embedding program: one TransferStats per
// transfer when it ends, and ServerStats every interval. Both callbacks run
// on a thread of their own, never on a shard: a slow callback delays only
// later deliveries (and past a bound, transfer records are dropped and
// counted in stats_dropped), never a packet.
#ifndef TFTPD_SERVER_API_STATS_CALLBACKS_H_
#define TFTPD_SERVER_API_STATS_CALLBACKS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/socket_address.h"
#include "server/api/server_stats.h"

namespace tftpd {

using OptionPairs = std::vector<std::pair<std::string, std::string>>;

struct TransferStats {
  io::SocketAddress peer;
  io::SocketAddress server_address;
  // A WRQ: the bytes "acknowledged" are the bytes received and stored.
  bool upload = false;
  std::string requested_path;  // As the client sent it.
  std::string path;            // After the remap rules.
  int shard = 0;
  uint64_t request_id = 0;  // As in the request's RequestContext.
  // completed, peer_error, timed_out, protocol_error, aborted or
  // superseded; unanswered when the server gave up on a client that never
  // answered (a forged request, most often); for a request the handler
  // refused (or its response failed before sending) refused, and dropped
  // for one it dropped (Response::Drop). Every request that reached the
  // handler ends in one record.
  std::string outcome;
  // Its client answered at least once (so it receives at its address): a
  // forged request's record never has this.
  bool client_answered = false;
  // The ERROR that ended or refused the transfer, sent or received; 0 and
  // empty when it completed, timed out or was dropped.
  uint16_t error_code = 0;
  std::string error_message;
  OptionPairs options_requested;
  OptionPairs options_acknowledged;  // As sent in the OACK.
  std::chrono::system_clock::time_point start_time;
  std::chrono::nanoseconds duration{0};
  uint64_t packets_sent = 0;  // Retransmissions included.
  uint64_t packets_received = 0;
  uint64_t blocks_acknowledged = 0;
  uint64_t bytes_sent = 0;  // DATA payload, retransmissions included.
  uint64_t bytes_acknowledged = 0;
  uint64_t retransmits = 0;
  // The response size when it was known (tsize).
  std::optional<uint64_t> response_size;
  int blksize = 512;
  int windowsize = 1;
  // What the handler attached to its response (Response::WithSession, or
  // its stream's StreamWriter::SetSession): the record holds the last
  // reference the engine kept, so it goes when the record does, delivered
  // or dropped.
  std::shared_ptr<void> session;
};

// The counts over one interval (get-and-reset: each delivery starts from
// zero), in total and per shard; transfers_active is the gauge at its end.
struct ServerStats {
  std::chrono::system_clock::time_point interval_start;
  std::chrono::system_clock::time_point interval_end;
  ServerTotals totals;
  std::vector<ServerTotals> shards;
};

// Called once per request that reached the handler, when it ends (outcome
// says how); one whose client never answered is not counted as a transfer
// (transfers_unanswered).
using TransferStatsCallback = std::function<void(const TransferStats&)>;
using ServerStatsCallback = std::function<void(const ServerStats&)>;

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_STATS_CALLBACKS_H_
