// The TFTP server: binds one SO_REUSEPORT service socket per shard, runs
// each shard on its own thread, and stops them gracefully. The kernel spreads
// requests over the shards by client address and port, and each transfer
// stays on the shard that received its request.
#ifndef TFTPD_SERVER_API_SERVER_H_
#define TFTPD_SERVER_API_SERVER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "io/socket_address.h"
#include "server/api/server_config.h"
#include "server/api/server_stats.h"
#include "server/api/transfer_snapshot.h"
#include "server/files/root_directory.h"

namespace tftpd {

class Engine;  // server/engine/engine.h: what runs behind this face.

// The SO_RCVBUF each of `sockets` service sockets asks for. In single-port
// mode every transfer's ACKs arrive there rather than on a socket of its
// own: room for each transfer a socket may serve, so that a shard running
// behind delays acknowledgements instead of dropping them (each drop costs
// its client a retransmission timeout; under 100,000 clients at 1% loss the
// drops, not the loss, made clients give up).
size_t ServiceReceiveBuffer(const ServerConfig& c, size_t sockets);

class Server {
 public:
  // Opens the root and binds every shard's socket (so that a port already in
  // use or a bad root fails here, before any thread starts).
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerConfig config);
  ~Server();

  // Starts the shard threads; fails if any shard cannot create its backend
  // (for example when the kernel refuses io_uring).
  absl::Status Start();
  // Stops taking requests; transfers get config.shutdown_grace to finish
  // (or none when `immediate`).
  void Stop(bool immediate = false);
  // Returns once every shard has stopped.
  void Wait();
  // Every shard has left its loop (stopped, or failed).
  bool Done() const;

  // The bound address, with the actual port.
  const io::SocketAddress& address() const;
  // The receive buffer the kernel granted each service socket, and what was
  // asked for (ServiceReceiveBuffer).
  size_t receive_buffer() const { return receive_buffer_; }
  size_t requested_receive_buffer() const { return requested_receive_buffer_; }
  const ServerConfig& config() const;
  // After Start: the event backend the shards use, and why the preferred one
  // was refused (empty when it was not).
  const std::string& backend_name() const;
  const std::string& fallback_reason() const;
  const RootDirectory& root() const;
  // Counters since start, summed and per shard.
  ServerTotals Totals() const;
  std::vector<ServerTotals> ShardTotals() const;
  // Any thread, while running: the transfers in progress, as each shard
  // sees them on its next turn (waiting at most `wait` for the shards).
  std::vector<TransferSnapshot> Transfers(
      std::chrono::milliseconds wait = std::chrono::milliseconds(1000)) const;
  // Any thread, while running: a datagram the program received itself from
  // `source` (on a socket of its own), handled as if the server's socket had
  // received it, by the shard that source's requests go to. Fails when the
  // source cannot be answered from the server's address family, or that
  // shard already holds as many handed requests as it takes.
  absl::Status Offer(absl::Span<const uint8_t> datagram,
                     const io::SocketAddress& source);

 private:
  Server() = default;

  size_t receive_buffer_ = 0;
  size_t requested_receive_buffer_ = 0;
  std::unique_ptr<Engine> engine_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_SERVER_H_
