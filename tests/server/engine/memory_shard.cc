#include "tests/server/engine/memory_shard.h"

namespace tftpd::testing {

MemoryShard::MemoryShard(ServerConfig config,
                         std::shared_ptr<RequestHandler> handler, int id,
                         TransferBudget* budget)
    : config_(std::move(config)),
      now_(io::TimePoint() + std::chrono::hours(1)) {
  absl::StatusOr<RootDirectory> root =
      RootDirectory::Open(config_.root, config_.resolver);
  if (!root.ok()) {
    status_ = root.status();
    return;
  }
  root_.emplace(std::move(*root));
  root_->set_world_readable_only(!config_.permissive);
  handler_ =
      handler != nullptr ? std::move(handler) : std::make_shared<FileHandler>();
  loader_ = std::make_unique<FileLoader>(1);
  guard_ = std::make_unique<AddressGuard>(config_.address_limits);
  if (config_.allow_write)
    committer_ = std::make_unique<UploadCommitter>(1, config_.commit_queue);
  service_ = *io::SocketAddress::Parse("127.0.0.1", 69);
  ShardParts parts;
  parts.config = &config_;
  parts.root = &*root_;
  parts.handler = handler_.get();
  parts.loader = loader_.get();
  parts.guard = guard_.get();
  parts.write_root = &*root_;
  parts.committer = committer_.get();
  parts.budget = budget;
  if (config_.on_transfer_end) {
    // Records reach the test on the dispatcher's thread, as in a server.
    stats_ = std::make_unique<StatsDispatcher>(
        config_.on_transfer_end, nullptr, std::chrono::hours(1),
        [] { return std::vector<ServerTotals>{}; }, config_.max_queued_records);
    stats_->Start();
    parts.stats = stats_.get();
  }
  ShardEnvironment env;
  env.create_backend = [this](const io::BackendOptions& options)
      -> absl::StatusOr<io::CreatedBackend> {
    auto backend =
        std::make_unique<io::MemoryBackend>(options, [this] { return now_; });
    backend_ = backend.get();
    return io::CreatedBackend{std::move(backend), ""};
  };
  env.now = [this] { return now_; };
  env.wall_now = [] { return std::chrono::system_clock::now(); };
  env.open_transfer_socket =
      [this](
          const io::SocketAddress& local) -> absl::StatusOr<io::OpenedSocket> {
    if (open_sockets_.size() >= socket_limit_) {
      return absl::ResourceExhaustedError("socket: Too many open files");
    }
    const int fd = next_fd_++;
    open_sockets_.insert(fd);
    io::SocketAddress bound = local;
    bound.set_port(static_cast<uint16_t>(20000 + fd % 40000));
    return io::OpenedSocket{fd, bound, 0};
  };
  env.close_socket = [this](io::EventBackend*, int fd) {
    if (fd == kServiceFd) return;
    if (open_sockets_.erase(fd) != 1 && bad_close_ < 0) bad_close_ = fd;
    closed_sockets_.insert(fd);
    // After Close the backend is gone: nothing can be sent any more.
    closed_after_send_[fd] =
        backend_ != nullptr ? backend_->sends_submitted() : UINT64_MAX;
  };
  shard_ = std::make_unique<Shard>(id, parts,
                                   io::OpenedSocket{kServiceFd, service_, 0},
                                   /*owns_service=*/true, std::move(env));
  status_ = shard_->Start();
}

MemoryShard::~MemoryShard() {
  if (shard_ != nullptr) shard_->Close();
  backend_ = nullptr;  // The shard's Close destroyed it.
  // The loader's and committer's jobs report to the shard: their threads
  // end first (as the server's do).
  loader_.reset();
  committer_.reset();
  shard_.reset();
}

void MemoryShard::Deliver(int fd, const io::SocketAddress& client,
                          absl::Span<const uint8_t> bytes) {
  backend_->Deliver(fd, client, service_, bytes);
}

bool MemoryShard::Turn(std::vector<io::SentDatagram>* sent) {
  if (ended_) return false;
  ended_ = !shard_->Turn();
  for (io::SentDatagram& datagram : backend_->TakeSent()) {
    auto closed = closed_after_send_.find(datagram.fd);
    if (closed != closed_after_send_.end() &&
        datagram.send_number > closed->second && sent_after_close_ < 0) {
      sent_after_close_ = datagram.fd;
    }
    sent->push_back(std::move(datagram));
  }
  return !ended_;
}

bool MemoryShard::TurnUntilIdle(std::vector<io::SentDatagram>* sent,
                                int max_turns) {
  int quiet = 0;
  for (int turns = 0; quiet < 2 && turns < max_turns; ++turns) {
    const uint64_t completions = backend_->stats().completions;
    const size_t sent_before = sent->size();
    if (!Turn(sent)) return false;
    const bool moved = backend_->stats().completions != completions ||
                       sent->size() != sent_before;
    quiet = moved ? 0 : quiet + 1;
  }
  return true;
}

}  // namespace tftpd::testing
