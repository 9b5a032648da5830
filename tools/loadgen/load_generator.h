// The load generator: simulates many booting clients against any TFTP
// server. Each simulated transfer is a full client (protocol/download_transfer:
// OACK checks, ACK per block or per window, rollover, retransmission) on its
// own socket, or, beyond the descriptor limit, on one socket per thread that
// sends from a loopback address of its own; driven by the io_uring event
// backend so that the generator is not the bottleneck.
#ifndef TFTPD_TOOLS_LOADGEN_LOAD_GENERATOR_H_
#define TFTPD_TOOLS_LOADGEN_LOAD_GENERATOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "io/backend_factory.h"
#include "io/fault_injecting_backend.h"
#include "io/socket_address.h"

namespace loadgen {

struct LoadConfig {
  io::SocketAddress server;
  // Requested round-robin, one transfer after another.
  std::vector<std::string> files;
  // Local copies of the files: each download is compared with its copy
  // byte for byte. Empty: only the size is checked (against tsize).
  std::string verify_dir;
  int concurrency = 100;
  int64_t transfers = 1000;
  uint16_t blksize = 0;     // 0: not asked.
  uint16_t windowsize = 0;  // 0: not asked.
  bool tsize = true;
  // UEFI's shape: an RRQ with tsize that is ended with ERROR 8 after the
  // OACK, then the real download.
  bool uefi_probe = false;
  std::chrono::milliseconds timeout{1000};
  int retries = 5;
  // The first `concurrency` transfers start spread over this long.
  std::chrono::milliseconds ramp_up{0};
  std::chrono::milliseconds time_limit{300'000};
  int threads = 1;
  // Spin on the completion queue instead of sleeping in the kernel: lowest
  // latency per packet (for single-client measurements), a busy core.
  bool busy_poll = false;
  io::BackendKind io_backend = io::BackendKind::kAuto;
  // Against an IPv4 loopback server: each client slot sends from its own
  // address (127.1.x.y), as machines in a rack do, so that the server's
  // per-address limits see many clients rather than one host.
  bool distinct_sources = true;
  // No socket per client: each thread has one socket bound to the wildcard
  // address, each client a loopback address of its own, chosen per datagram
  // (IP_PKTINFO), and replies are told apart by the address they were sent
  // to. For more simultaneous clients than the process may hold descriptors;
  // an IPv4 loopback server only. A client's address is not used again by a
  // later transfer of the run (up to 2^24 / threads transfers per thread).
  bool shared_socket = false;
  // A bad network between the clients and the server, on the clients' side
  // (so every server meets the same one): datagrams lost, duplicated or
  // delayed in both directions. Each thread draws from seed + its number.
  std::optional<io::FaultPlan> faults;
  // A line on stderr for each failed transfer: which client, how far it
  // got, and how; to match with the server's log.
  bool log_failures = false;
};

struct LoadProgress {
  double seconds = 0;  // Since the run began.
  int64_t active = 0;  // Started and not yet done.
  int64_t done = 0;
  int64_t ok = 0;
  uint64_t bytes = 0;
};

struct LoadReport {
  int64_t transfers_ok = 0;
  // Reason -> count: timeout, rrq_unanswered, error_<code>, size_mismatch,
  // content_mismatch, protocol_error, time_limit, ...
  std::map<std::string, int64_t> failures;
  uint64_t bytes = 0;  // Bytes of completed downloads.
  double wall_seconds = 0;
  double cpu_seconds = 0;  // The generator's own, user + system.
  uint64_t retransmits = 0;
  // Seconds from the first request to the last byte of each successful
  // transfer (including the UEFI probe when asked for).
  double latency_p50 = 0;
  double latency_p90 = 0;
  double latency_p99 = 0;
  double latency_max = 0;

  int64_t transfers_failed() const;
  double megabytes_per_second() const;  // 10^6 bytes.
  double transfers_per_second() const;
  // A table for people.
  std::string ToTable() const;
  // One JSON object.
  std::string ToJson() const;
};

// Runs the load; `progress` (optional) is called about once a second.
absl::StatusOr<LoadReport> RunLoad(
    const LoadConfig& config,
    const std::function<void(const LoadProgress&)>& progress = nullptr);

}  // namespace loadgen

#endif  // TFTPD_TOOLS_LOADGEN_LOAD_GENERATOR_H_
