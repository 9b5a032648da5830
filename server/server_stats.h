// Counters of a running server. Each shard writes only its own counters (no
// atomic read-modify-write on the packet path: a relaxed load and store);
// readers on other threads see each counter as a consistent number.
#ifndef TFTPD_SERVER_SERVER_STATS_H_
#define TFTPD_SERVER_SERVER_STATS_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace tftpd {

#define TFTPD_SERVER_COUNTERS(X)                                            \
  X(requests_received, "datagrams received on the service port")            \
  X(read_requests, "RRQs")                                                  \
  X(write_requests, "WRQs")                                                 \
  X(requests_refused, "requests answered with ERROR")                       \
  X(duplicate_requests, "requests that repeated an open transfer's own")    \
  X(ignored_datagrams, "non-request datagrams on the service port")         \
  X(sessions_started, "transfers started")                                  \
  X(sessions_completed, "transfers completed")                              \
  X(sessions_peer_error, "transfers ended by the client's ERROR")           \
  X(sessions_timed_out, "transfers whose client stopped answering")         \
  X(sessions_protocol_error, "transfers ended by a malformed packet")       \
  X(sessions_aborted, "transfers ended by the server")                      \
  X(packets_sent, "datagrams sent by transfers")                            \
  X(packets_received, "datagrams received by transfers")                    \
  X(retransmits, "datagrams sent again")                                    \
  X(bytes_sent, "DATA payload bytes sent, retransmissions included")        \
  X(unknown_tid_packets, "datagrams from strangers, answered with ERROR 5") \
  X(send_errors, "sends the kernel refused")

struct ShardCounters {
#define TFTPD_DECLARE(name, help) std::atomic<uint64_t> name{0};
  TFTPD_SERVER_COUNTERS(TFTPD_DECLARE)
#undef TFTPD_DECLARE
  std::atomic<uint64_t> sessions_active{0};
};

// A snapshot, summed over shards.
struct ServerTotals {
#define TFTPD_DECLARE(name, help) uint64_t name = 0;
  TFTPD_SERVER_COUNTERS(TFTPD_DECLARE)
#undef TFTPD_DECLARE
  uint64_t sessions_active = 0;

  void Add(const ShardCounters& shard);
  // "name=value ..." on one line.
  std::string ToString() const;
};

// Adds to a counter only its owning thread writes.
inline void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n,
                std::memory_order_relaxed);
}

}  // namespace tftpd

#endif  // TFTPD_SERVER_SERVER_STATS_H_
