// Everything the server needs to run, normally filled from flags by tftpd.
#ifndef TFTPD_SERVER_API_SERVER_CONFIG_H_
#define TFTPD_SERVER_API_SERVER_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "io/backend_factory.h"
#include "io/fault_injecting_backend.h"
#include "io/socket_address.h"
#include "protocol/options.h"
#include "protocol/transfer.h"
#include "server/api/request_handler.h"
#include "server/api/stats_callbacks.h"
#include "server/api/upload_policy.h"
#include "server/files/remap_rules.h"
#include "server/files/root_directory.h"

namespace tftpd {

// Limits per client: the engine's address guard keeps them (see
// server/engine/address_guard.h for why a forger cannot use them up).
struct AddressLimits {
  // Open transfers per address whose client answered; 0: unlimited.
  uint32_t max_transfers = 128;
  // Requests per second per address and port; 0: unlimited.
  uint32_t requests_per_second = 1000;
  // Bytes per minute sent to an address that has not answered, beyond each
  // request's first answer (retransmissions, ERRORs); 0: unlimited.
  uint32_t unverified_bytes = 8192;
};

// How requests reach the shards.
enum class ListenerMode {
  // Linux and FreeBSD (SO_REUSEPORT_LB): reuseport; elsewhere single.
  kAuto,
  // Each shard has its own SO_REUSEPORT socket; the kernel spreads requests.
  kReusePort,
  // Shard 0 owns the only service socket and hands each request to the
  // shard its client's address and port hash to (for OSes whose
  // SO_REUSEPORT does not balance, such as macOS).
  kSingle,
};

struct ServerConfig {
  std::string root;
  RootDirectory::Resolver resolver = RootDirectory::Resolver::kAuto;
  // Serve files that are not world-readable too (tftpd-hpa's --permissive).
  bool permissive = false;
  // Port 0 binds an ephemeral port (shared by every shard).
  io::SocketAddress address;
  // A bound UDP socket to serve on instead of binding `address` (systemd's
  // socket activation passes one); read by one listener shard, which hands
  // requests to the others.
  int inherited_socket = -1;
  int threads = 1;
  io::BackendKind io_backend = io::BackendKind::kAuto;
  // Tests only: every shard loses, duplicates and delays datagrams as the
  // plan says (shard i uses seed + i).
  std::optional<io::FaultPlan> faults;
  ListenerMode listener = ListenerMode::kAuto;
  // Every transfer answers from the service port itself, told apart from the
  // others by its client's address and port (for clients behind NAT or
  // firewalls that let only port 69 through). Off: each transfer has its
  // own port, its TID, as RFC 1350 intends.
  bool single_port = false;
  // With single_port and allow_write: uploads are accepted there too. Off by
  // default: nothing received on the service port proves where it came
  // from, so a forger who never reads a reply could upload under any
  // address, past every rule that trusts the peer's address.
  bool single_port_uploads = false;
  tftp::OptionLimits limits;
  tftp::TransferConfig transfer;
  size_t max_transfers = 10000;
  // Per client address: transfers, request rate, unverified bytes.
  AddressLimits address_limits;
  // A transfer whose client never answered ends this long after it last
  // sent to it, and is the first to make room when the table is full.
  // Longer than a client's longest wait between its own retransmissions
  // (8 s is common, and transfer.max_timeout's default) plus a round trip:
  // a client whose every answer was lost is still heard when it repeats.
  std::chrono::milliseconds unanswered_timeout{10000};
  // SO_RCVBUF of each service socket: room for a burst of requests. In
  // single-port mode at least kReceiveBufferPerTransfer for each transfer
  // the socket may serve (see ServiceReceiveBuffer).
  size_t receive_buffer = 16 << 20;
  // The kernel doubles what SO_RCVBUF asks for and counts 832 bytes for a
  // queued ACK on Linux 6.1: this is room for an ACK and its repeat.
  static constexpr size_t kReceiveBufferPerTransfer = 1024;
  // Netascii responses are encoded in memory; larger files are refused,
  // and each shard keeps at most netascii_cache_bytes of such images (idle
  // files' images make room; a request finding every byte in use is
  // refused with ERROR 0, counted in netascii_images_dropped and
  // refused_resources).
  uint64_t max_netascii_size = 16 << 20;
  uint64_t netascii_cache_bytes = 64 << 20;
  // While a shard serves 1 to kSpinningTransfers transfers, it looks for
  // completions this long before sleeping (zero: never); see
  // io/spin_backoff.h.
  std::chrono::microseconds spin{50};
  static constexpr size_t kSpinningTransfers = 8;
  // On Stop, transfers in progress get this long to finish.
  std::chrono::milliseconds shutdown_grace{2000};
  // Datagram sends in flight per shard; transfers wait for a free one.
  size_t send_slots = 4096;
  // Threads that map files and read them in (the first request of each file
  // version on a shard), so that shards never wait for a disk.
  int loader_threads = 2;

  // Uploads (WRQ), off unless allow_write. The handler decides where each
  // goes; UploadResponse::File writes beneath `write_root` (empty: `root`)
  // under `upload_policy`. The upload size limit is limits.max_upload_size.
  bool allow_write = false;
  std::string write_root;
  DiskUploadPolicy upload_policy;
  // Threads that commit uploads (fsync, rename, a database), and the
  // completed uploads that may wait for one; an upload completed while that
  // many wait is refused with ERROR 0 (counted in commits_refused).
  int commit_threads = 2;
  size_t commit_queue = 256;

  // The framework (request_handler.h). Null: FileHandler, serving `root`.
  std::shared_ptr<RequestHandler> handler;
  // Rewrites requested names before the handler sees them (--map_file);
  // null or empty: names are used as sent.
  std::shared_ptr<RemapTable> remap;
  // Threads that read pulled responses (response_source.h) and close their
  // sources, at most; a source that blocks holds one. They start as reads
  // wait for one (source_threads.h); an eighth of them are kept for sources
  // whose reads are fast, so that past this many slow sources, the slow
  // wait behind each other and never in front of a fast one.
  int source_threads = 256;
  // A streaming response that sends nothing for this long (before it begins,
  // or between bytes while a client waits) ends with ERROR 0.
  std::chrono::milliseconds source_timeout{30000};
  // Statistics callbacks (stats_callbacks.h), run on a thread of their own.
  TransferStatsCallback on_transfer_end;
  ServerStatsCallback on_server_stats;
  std::chrono::milliseconds stats_interval{60000};
  // Transfer records waiting for on_transfer_end: past this many, a
  // callback that fell behind loses records (counted in stats_dropped).
  size_t max_queued_records = 65536;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_SERVER_CONFIG_H_
