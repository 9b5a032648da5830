#include "server/engine/engine.h"

#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "absl/strings/str_cat.h"
#include "server/api/log.h"
#include "server/engine/address_guard.h"
#include "server/engine/shard.h"
#include "server/engine/snapshot_collector.h"
#include "server/engine/transfer_budget.h"
#include "server/uploads/disk_upload_sink.h"

namespace tftpd {

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(
    ServerConfig config, RootDirectory root,
    const std::vector<io::OpenedSocket>& sockets,
    const io::SocketAddress& address) {
  std::unique_ptr<Engine> engine(
      new Engine(std::move(config), std::move(root)));
  if (absl::Status s = engine->PrepareUploads(); !s.ok()) {
    for (const io::OpenedSocket& socket : sockets) close(socket.fd);
    return s;
  }
  const ServerConfig& c = engine->config_;
  engine->address_ = address;
  engine->handler_ =
      c.handler != nullptr ? c.handler : std::make_shared<FileHandler>();
  if (c.on_transfer_end || c.on_server_stats) {
    Engine* raw = engine.get();
    engine->stats_ = std::make_unique<StatsDispatcher>(
        c.on_transfer_end, c.on_server_stats, c.stats_interval,
        [raw] { return raw->ShardTotals(); }, c.max_queued_records);
  }
  engine->loader_ = std::make_unique<FileLoader>(c.loader_threads);
  engine->sources_ = std::make_unique<SourceThreads>(c.source_threads);
  engine->guard_ = std::make_unique<AddressGuard>(c.address_limits);
  engine->budget_ =
      std::make_unique<TransferBudget>(c.max_transfers, c.threads);
  engine->MakeShards(sockets);
  return engine;
}

Engine::Engine(ServerConfig config, RootDirectory root)
    : config_(std::move(config)), root_(std::move(root)) {}

Engine::~Engine() {
  Stop(/*immediate=*/true);
  Wait();
}

absl::Status Engine::PrepareUploads() {
  const ServerConfig& c = config_;
  if (!c.allow_write) return absl::OkStatus();
  absl::StatusOr<RootDirectory> write_root = RootDirectory::Open(
      c.write_root.empty() ? c.root : c.write_root, c.resolver);
  if (!write_root.ok()) return write_root.status();
  write_root_ = std::make_unique<RootDirectory>(std::move(*write_root));
  // What a crash left of the uploads then in progress.
  if (const size_t removed = RemoveUploadLeftovers(write_root_->path());
      removed > 0) {
    TFTPD_LOG(kInfo, "removed %d unfinished uploads left by an earlier run",
              static_cast<int>(removed));
  }
  committer_ =
      std::make_unique<UploadCommitter>(c.commit_threads, c.commit_queue);
  return absl::OkStatus();
}

void Engine::MakeShards(const std::vector<io::OpenedSocket>& sockets) {
  const ServerConfig& c = config_;
  ShardParts parts;
  parts.config = &config_;
  parts.root = &root_;
  parts.handler = handler_.get();
  parts.stats = stats_.get();
  parts.loader = loader_.get();
  parts.guard = guard_.get();
  parts.write_root = write_root_.get();
  parts.committer = committer_.get();
  parts.sources = sources_.get();
  parts.budget = budget_.get();
  const bool single = c.listener == ListenerMode::kSingle;
  for (int i = 0; i < c.threads; ++i) {
    // Single listener: the other shards answer refused requests from the
    // listener's socket, which only shard 0 reads and closes.
    shards_.push_back(std::make_unique<Shard>(
        i, parts, sockets[single ? 0 : i], /*owns_service=*/!single || i == 0,
        SystemEnvironment(c.io_backend)));
  }
  std::vector<Shard*> shards;
  for (auto& shard : shards_) shards.push_back(shard.get());
  for (auto& shard : shards_) shard->SetPeers(shards);
  if (single) shards_[0]->SetHandoffTargets(std::move(shards));
}

absl::Status Engine::Start() {
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

void Engine::Stop(bool immediate) {
  for (auto& shard : shards_) shard->RequestStop(immediate);
}

void Engine::Wait() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // The last records, and the last interval's counters.
  if (stats_ != nullptr) stats_->Stop();
}

const std::string& Engine::backend_name() const {
  return shards_[0]->backend_name();
}

const std::string& Engine::fallback_reason() const {
  return shards_[0]->fallback_reason();
}

ServerTotals Engine::Totals() const {
  ServerTotals totals;
  for (const auto& shard : shards_) totals.Add(shard->counters());
  return totals;
}

std::vector<ServerTotals> Engine::ShardTotals() const {
  std::vector<ServerTotals> shards(shards_.size());
  for (size_t i = 0; i < shards_.size(); ++i) {
    shards[i].Add(shards_[i]->counters());
  }
  return shards;
}

std::vector<TransferSnapshot> Engine::Transfers(
    std::chrono::milliseconds wait) const {
  auto collector = std::make_shared<SnapshotCollector>(shards_.size());
  for (const std::unique_ptr<Shard>& shard : shards_) {
    shard->RequestSnapshot(collector);
  }
  return collector->Wait(std::chrono::steady_clock::now() + wait);
}

absl::Status Engine::Offer(absl::Span<const uint8_t> datagram,
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
  // As the single listener chooses.
  if (!shards_[ShardFor(from, shards_.size())]->HandOff(handed)) {
    return absl::ResourceExhaustedError(
        "the shard's handed requests are at their bound");
  }
  return absl::OkStatus();
}

}  // namespace tftpd
