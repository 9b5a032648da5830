#include "server/api/server.h"

#include <unistd.h>

#include <algorithm>

#include "server/engine/engine.h"

namespace tftpd {
namespace {

// kAuto decided for this platform; a socket systemd passed is one listener.
ListenerMode ChooseListener(const ServerConfig& c) {
  if (c.inherited_socket >= 0) return ListenerMode::kSingle;
  if (c.listener != ListenerMode::kAuto) return c.listener;
#if defined(__linux__) || defined(__FreeBSD__)
  return ListenerMode::kReusePort;
#else
  // SO_REUSEPORT here does not spread datagrams over the sockets.
  return ListenerMode::kSingle;
#endif
}

// The service sockets: systemd's, or one per shard on one port (one in all
// with a single listener), each asking for `receive_buffer`.
absl::StatusOr<std::vector<io::OpenedSocket>> OpenServiceSockets(
    const ServerConfig& c, size_t receive_buffer) {
  io::ServiceSocketOptions options;
  options.receive_buffer = receive_buffer;
  if (c.inherited_socket >= 0) {
    absl::StatusOr<io::OpenedSocket> socket =
        io::AdoptServiceSocket(c.inherited_socket, options);
    if (!socket.ok()) return socket.status();
    return std::vector<io::OpenedSocket>{*socket};
  }
  const bool single = c.listener == ListenerMode::kSingle;
  options.reuse_port = !single;
  io::SocketAddress address = c.address;
  std::vector<io::OpenedSocket> sockets;
  for (int i = 0; i < (single ? 1 : c.threads); ++i) {
    absl::StatusOr<io::OpenedSocket> socket =
        io::OpenServiceSocket(address, options);
    if (!socket.ok()) {
      for (const io::OpenedSocket& s : sockets) close(s.fd);
      return socket.status();
    }
    // Port 0 on the first socket: the others join the port it got.
    address = socket->bound;
    sockets.push_back(*socket);
  }
  return sockets;
}

}  // namespace

size_t ServiceReceiveBuffer(const ServerConfig& c, size_t sockets) {
  if (!c.single_port) return c.receive_buffer;
  const size_t per_socket = (c.max_transfers + sockets - 1) / sockets;
  return std::max(c.receive_buffer,
                  per_socket * ServerConfig::kReceiveBufferPerTransfer);
}

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerConfig config) {
  if (config.threads < 1) {
    return absl::InvalidArgumentError("threads must be at least 1");
  }
  absl::StatusOr<RootDirectory> root =
      RootDirectory::Open(config.root, config.resolver);
  if (!root.ok()) return root.status();
  root->set_world_readable_only(!config.permissive);
  config.listener = ChooseListener(config);
  std::unique_ptr<Server> server(new Server());
  server->requested_receive_buffer_ =
      ServiceReceiveBuffer(config, config.listener == ListenerMode::kSingle
                                       ? 1
                                       : static_cast<size_t>(config.threads));
  absl::StatusOr<std::vector<io::OpenedSocket>> sockets =
      OpenServiceSockets(config, server->requested_receive_buffer_);
  if (!sockets.ok()) return sockets.status();
  server->receive_buffer_ = sockets->front().receive_buffer;
  const io::SocketAddress address = sockets->front().bound;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(std::move(config), std::move(*root), *sockets, address);
  if (!engine.ok()) return engine.status();
  server->engine_ = std::move(*engine);
  return server;
}

Server::~Server() = default;

absl::Status Server::Start() { return engine_->Start(); }
void Server::Stop(bool immediate) { engine_->Stop(immediate); }
void Server::Wait() { engine_->Wait(); }
bool Server::Done() const { return engine_->Done(); }
const io::SocketAddress& Server::address() const { return engine_->address(); }
const ServerConfig& Server::config() const { return engine_->config(); }
const RootDirectory& Server::root() const { return engine_->root(); }
const std::string& Server::backend_name() const {
  return engine_->backend_name();
}
const std::string& Server::fallback_reason() const {
  return engine_->fallback_reason();
}
ServerTotals Server::Totals() const { return engine_->Totals(); }
std::vector<ServerTotals> Server::ShardTotals() const {
  return engine_->ShardTotals();
}
std::vector<TransferSnapshot> Server::Transfers(
    std::chrono::milliseconds wait) const {
  return engine_->Transfers(wait);
}
absl::Status Server::Offer(absl::Span<const uint8_t> datagram,
                           const io::SocketAddress& source) {
  return engine_->Offer(datagram, source);
}

}  // namespace tftpd
