// Counters of a running server. Each shard writes only its own counters (no
// atomic read-modify-write on the packet path: a relaxed load and store);
// readers on other threads see each counter as a consistent number.
#ifndef TFTPD_SERVER_API_SERVER_STATS_H_
#define TFTPD_SERVER_API_SERVER_STATS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace tftpd {

#define TFTPD_SERVER_COUNTERS(X)                                              \
  X(requests_received, "datagrams received on the service port")              \
  X(read_requests, "RRQs")                                                    \
  X(write_requests, "WRQs")                                                   \
  X(requests_refused, "requests answered with ERROR")                         \
  X(duplicate_requests, "requests that repeated an open transfer's own")      \
  X(ignored_datagrams, "non-request datagrams on the service port")           \
  X(transfers_started, "transfers started")                                   \
  X(transfers_finished, "transfers ended, however they ended")                \
  X(transfers_completed, "transfers completed")                               \
  X(transfers_peer_error, "transfers ended by the client's ERROR")            \
  X(transfers_timed_out, "transfers whose client stopped answering")          \
  X(transfers_protocol_error, "transfers ended by a malformed packet")        \
  X(transfers_aborted, "transfers ended by the server")                       \
  X(transfers_superseded,                                                     \
    "transfers whose last ACK never came before their client's next request") \
  X(requests_dropped, "requests the handler dropped without an answer")       \
  X(transfers_unanswered,                                                     \
    "requests answered whose client never answered back (not transfers)")     \
  X(transfers_evicted,                                                        \
    "unanswered requests ended early to make room for new ones")              \
  X(requests_deferred,                                                        \
    "requests left for their repeat: out of descriptors, one was freeing")    \
  X(packets_sent, "datagrams sent by transfers")                              \
  X(packets_received, "datagrams received by transfers")                      \
  X(retransmits, "datagrams sent again")                                      \
  X(bytes_sent, "DATA payload bytes sent, retransmissions included")          \
  X(unknown_tid_packets, "datagrams from strangers, answered with ERROR 5")   \
  X(send_errors, "sends the kernel refused")                                  \
  X(stats_dropped, "transfer statistics dropped: the callback fell behind")   \
  X(handoff_drops,                                                            \
    "datagrams the listener dropped: their shard had 4096 waiting")           \
  X(netascii_images_dropped,                                                  \
    "netascii images of idle files dropped to keep within their budget")      \
  X(recent_transfers_forgotten,                                               \
    "ended transfers forgotten before their linger: the table was full")      \
  X(commits_refused,                                                          \
    "completed uploads refused: --commit_queue uploads waited to be stored")  \
  X(refusals_not_logged,                                                      \
    "refused requests whose log line was held back (over 20 a second a "      \
    "shard)")                                                                 \
  X(amplification_drops,                                                      \
    "packets not sent: their peer had not proven it receives and had had "    \
    "its share (first answers, the address's unverified budget, or in "       \
    "single-port mode what its last datagram earned)")

// Why a request got an ERROR instead of a transfer.
#define TFTPD_REFUSAL_REASONS(X)                                             \
  X(malformed, "the request did not parse")                                  \
  X(not_found, "no such file")                                               \
  X(access_denied, "outside the root, not a regular file, or unreadable")    \
  X(remap_denied, "a map-file rule refused the name")                        \
  X(uploads_disabled, "a WRQ while uploads are off")                         \
  X(busy, "max_transfers reached")                                           \
  X(per_address, "max_transfers_per_address reached")                        \
  X(rate_limited, "over requests_per_second_per_address")                    \
  X(handler, "the request handler refused")                                  \
  X(source_failed, "the response source failed before sending")              \
  X(unsupported, "netascii of a pushed stream, or of a file over the limit") \
  X(options, "option negotiation refused")                                   \
  X(resources, "out of sockets or memory")                                   \
  X(file_changed, "the file shrank while being read (rewritten in place)")   \
  X(file_exists, "an upload of an existing file without --overwrite")        \
  X(too_large, "an upload announced over --max_upload_bytes")

enum class RefusalReason {
#define TFTPD_ENUM(name, help) k_##name,
  TFTPD_REFUSAL_REASONS(TFTPD_ENUM)
#undef TFTPD_ENUM
      kCount
};
absl::string_view RefusalReasonName(RefusalReason reason);

// Transfers ended with an ERROR (sent or received), by its code; codes above
// 8 count as 0.
inline constexpr size_t kErrorCodeBuckets = 9;
inline size_t ErrorCodeBucket(uint16_t code) {
  return code < kErrorCodeBuckets ? code : 0;
}

struct ShardCounters {
#define TFTPD_DECLARE(name, help) std::atomic<uint64_t> name{0};
  TFTPD_SERVER_COUNTERS(TFTPD_DECLARE)
#undef TFTPD_DECLARE
  std::array<std::atomic<uint64_t>, kErrorCodeBuckets> failed_by_code{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(RefusalReason::kCount)>
      refused_by_reason{};
  std::atomic<uint64_t> transfers_active{0};
};

// A snapshot of counters: summed over shards, or one shard's; since start,
// or over an interval (Minus).
struct ServerTotals {
#define TFTPD_DECLARE(name, help) uint64_t name = 0;
  TFTPD_SERVER_COUNTERS(TFTPD_DECLARE)
#undef TFTPD_DECLARE
  std::array<uint64_t, kErrorCodeBuckets> failed_by_code{};
  std::array<uint64_t, static_cast<size_t>(RefusalReason::kCount)>
      refused_by_reason{};
  // A gauge: transfers open when the snapshot was taken.
  uint64_t transfers_active = 0;

  void Add(const ShardCounters& shard);
  void Add(const ServerTotals& other);
  // The counts since `earlier` (the gauge is this snapshot's).
  ServerTotals Minus(const ServerTotals& earlier) const;
  uint64_t refused(RefusalReason reason) const {
    return refused_by_reason[static_cast<size_t>(reason)];
  }
  // "name=value ..." on one line.
  std::string ToString() const;
  // Whether a datagram came or went (over an interval: the periodic log
  // line is worth writing at info level only then).
  bool SawTraffic() const {
    return requests_received > 0 || packets_received > 0 || packets_sent > 0 ||
           unknown_tid_packets > 0;
  }
  // Every counter with its name and help, then `failed_by_code` and
  // `refused_by_reason` entries, then the gauge: for exporters.
  void ForEach(const std::function<
               void(absl::string_view name, absl::string_view help,
                    absl::string_view label_name, absl::string_view label_value,
                    uint64_t value, bool gauge)>& fn) const;
};

// Adds to a counter only its owning thread writes.
inline void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n,
                std::memory_order_relaxed);
}

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_SERVER_STATS_H_
