#include "server/api/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <future>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "server/engine/address_guard.h"
#include "server/engine/shard.h"
#include "server/observability/log.h"
#include "server/uploads/disk_upload_sink.h"

namespace tftpd {

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
  std::unique_ptr<Server> server(
      new Server(std::move(config), std::move(*root)));
  ServerConfig& c = server->config_;
  if (c.listener == ListenerMode::kAuto) {
#if defined(__linux__) || defined(__FreeBSD__)
    c.listener = ListenerMode::kReusePort;
#else
    // SO_REUSEPORT here does not spread datagrams over the sockets.
    c.listener = ListenerMode::kSingle;
#endif
  }
  if (c.inherited_socket >= 0) c.listener = ListenerMode::kSingle;
  const bool single = c.listener == ListenerMode::kSingle;
  server->requested_receive_buffer_ =
      ServiceReceiveBuffer(c, single ? 1 : static_cast<size_t>(c.threads));
  io::SocketAddress address = c.address;
  std::vector<io::OpenedSocket> sockets;
  if (c.inherited_socket >= 0) {
    io::ServiceSocketOptions options;
    options.receive_buffer = server->requested_receive_buffer_;
    absl::StatusOr<io::OpenedSocket> socket =
        io::AdoptServiceSocket(c.inherited_socket, options);
    if (!socket.ok()) return socket.status();
    address = socket->bound;
    sockets.push_back(*socket);
  }
  for (int i = 0; c.inherited_socket < 0 && i < (single ? 1 : c.threads); ++i) {
    io::ServiceSocketOptions options;
    options.receive_buffer = server->requested_receive_buffer_;
    options.reuse_port = !single;
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
  server->address_ = address;
  server->handler_ =
      c.handler != nullptr ? c.handler : std::make_shared<FileHandler>();
  if (c.on_transfer_end || c.on_server_stats) {
    Server* raw = server.get();
    server->stats_ = std::make_unique<StatsDispatcher>(
        c.on_transfer_end, c.on_server_stats, c.stats_interval,
        [raw] { return raw->ShardTotals(); }, c.max_queued_records);
  }
  server->receive_buffer_ = sockets.front().receive_buffer;
  server->loader_ = std::make_unique<FileLoader>(c.loader_threads);
  server->sources_ = std::make_unique<SourceThreads>(c.source_threads);
  if (c.allow_write) {
    absl::StatusOr<RootDirectory> write_root = RootDirectory::Open(
        c.write_root.empty() ? c.root : c.write_root, c.resolver);
    if (!write_root.ok()) {
      for (const io::OpenedSocket& s : sockets) close(s.fd);
      return write_root.status();
    }
    server->write_root_ =
        std::make_unique<RootDirectory>(std::move(*write_root));
    // What a crash left of the uploads then in progress.
    if (const size_t removed =
            RemoveUploadLeftovers(server->write_root_->path());
        removed > 0) {
      TFTPD_LOG(kInfo, "removed %d unfinished uploads left by an earlier run",
                static_cast<int>(removed));
    }
    server->committer_ =
        std::make_unique<UploadCommitter>(c.commit_threads, c.commit_queue);
  }
  server->guard_ = std::make_unique<AddressGuard>(c.address_limits);
  ShardParts parts;
  parts.config = &server->config_;
  parts.root = &server->root_;
  parts.handler = server->handler_.get();
  parts.stats = server->stats_.get();
  parts.loader = server->loader_.get();
  parts.guard = server->guard_.get();
  parts.write_root = server->write_root_.get();
  parts.committer = server->committer_.get();
  parts.sources = server->sources_.get();
  server->budget_ =
      std::make_unique<TransferBudget>(c.max_transfers, c.threads);
  parts.budget = server->budget_.get();
  for (int i = 0; i < c.threads; ++i) {
    // Single listener: the other shards answer refused requests from the
    // listener's socket, which only shard 0 reads and closes.
    server->shards_.push_back(std::make_unique<Shard>(
        i, parts, sockets[single ? 0 : i], /*owns_service=*/!single || i == 0,
        SystemEnvironment(c.io_backend)));
  }
  std::vector<Shard*> shards;
  for (auto& shard : server->shards_) shards.push_back(shard.get());
  for (auto& shard : server->shards_) shard->SetPeers(shards);
  if (single) server->shards_[0]->SetHandoffTargets(std::move(shards));
  return server;
}

Server::Server(ServerConfig config, RootDirectory root)
    : config_(std::move(config)), root_(std::move(root)) {}

Server::~Server() {
  Stop(/*immediate=*/true);
  Wait();
}

absl::Status Server::Start() {
  if (stats_ != nullptr) stats_->Start();
  std::vector<std::future<absl::Status>> ready;
  for (auto& shard : shards_) {
    auto promise = std::make_shared<std::promise<absl::Status>>();
    ready.push_back(promise->get_future());
    Shard* raw = shard.get();
    running_.fetch_add(1);
    threads_.emplace_back([this, raw, promise] {
      raw->Run([promise](absl::Status s) { promise->set_value(std::move(s)); });
      running_.fetch_sub(1);
    });
  }
  absl::Status status;
  for (auto& f : ready) {
    absl::Status s = f.get();
    if (!s.ok() && status.ok()) status = s;
  }
  if (!status.ok()) {
    Stop(/*immediate=*/true);
    Wait();
  }
  return status;
}

void Server::Stop(bool immediate) {
  for (auto& shard : shards_) shard->RequestStop(immediate);
}

void Server::Wait() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // The last records, and the last interval's counters.
  if (stats_ != nullptr) stats_->Stop();
}

const std::string& Server::backend_name() const {
  return shards_[0]->backend_name();
}

const std::string& Server::fallback_reason() const {
  return shards_[0]->fallback_reason();
}

ServerTotals Server::Totals() const {
  ServerTotals totals;
  for (const auto& shard : shards_) totals.Add(shard->counters());
  return totals;
}

std::vector<TransferSnapshot> Server::Transfers(
    std::chrono::milliseconds wait) const {
  auto collector = std::make_shared<SnapshotCollector>(shards_.size());
  for (const std::unique_ptr<Shard>& shard : shards_) {
    shard->RequestSnapshot(collector);
  }
  return collector->Wait(std::chrono::steady_clock::now() + wait);
}

absl::Status Server::Offer(absl::Span<const uint8_t> datagram,
                           const io::SocketAddress& source) {
  io::SocketAddress from = source;
  if (from.family() == AF_INET && address_.family() == AF_INET6) {
    // A dual-stack socket sees IPv4 peers as mapped addresses.
    auto mapped =
        io::SocketAddress::Parse("::ffff:" + from.HostString(), from.port());
    if (mapped.has_value()) from = *mapped;
  }
  if (from.family() != address_.family()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot answer ", source.ToString(), " from ", address_.ToString()));
  }
  io::Datagram handed;
  handed.payload = datagram;
  handed.source = from;
  handed.destination = address_;
  // As the single-port listener chooses: one source, one shard.
  const size_t shard = absl::HashOf(from.Unmapped()) % shards_.size();
  if (!shards_[shard]->HandOff(handed)) {
    return absl::ResourceExhaustedError(
        "the shard's handed requests are at their bound");
  }
  return absl::OkStatus();
}

std::vector<ServerTotals> Server::ShardTotals() const {
  std::vector<ServerTotals> shards(shards_.size());
  for (size_t i = 0; i < shards_.size(); ++i) {
    shards[i].Add(shards_[i]->counters());
  }
  return shards;
}

}  // namespace tftpd
