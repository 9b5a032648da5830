#include "tests/server/engine/engine_harness.h"

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tftpd::testing {

uint16_t Reply::block() const {
  if (bytes.size() < 4) return 0;
  return static_cast<uint16_t>((static_cast<uint8_t>(bytes[2]) << 8) |
                               static_cast<uint8_t>(bytes[3]));
}

std::string Reply::option(const std::string& name) const {
  // OACK: opcode, then name\0value\0 pairs.
  size_t at = 2;
  while (at < bytes.size()) {
    const size_t name_end = bytes.find('\0', at);
    if (name_end == std::string::npos) break;
    const size_t value_end = bytes.find('\0', name_end + 1);
    if (value_end == std::string::npos) break;
    if (bytes.substr(at, name_end - at) == name) {
      return bytes.substr(name_end + 1, value_end - name_end - 1);
    }
    at = value_end + 1;
  }
  return "";
}

std::string DataPacket(uint16_t block, const std::string& payload) {
  std::string d = {0, 3, static_cast<char>(block >> 8),
                   static_cast<char>(block & 0xff)};
  return d + payload;
}

std::string ErrorPacket(uint16_t code, const std::string& message) {
  std::string e = {0, 5, static_cast<char>(code >> 8),
                   static_cast<char>(code & 0xff)};
  return e + message + std::string(1, '\0');
}

struct MemoryUploads::State {
  mutable std::mutex mutex;
  std::map<std::string, std::string> committed;
  size_t abandoned = 0;
};

class MemorySink final : public UploadSink {
 public:
  MemorySink(std::shared_ptr<MemoryUploads::State> state, std::string path)
      : state_(std::move(state)), path_(std::move(path)) {}
  absl::Status Write(uint64_t offset, absl::Span<const uint8_t> bytes) override {
    if (bytes_.size() < offset + bytes.size()) {
      bytes_.resize(offset + bytes.size());
    }
    std::copy(bytes.begin(), bytes.end(), bytes_.begin() + offset);
    return absl::OkStatus();
  }
  absl::Status Commit(uint64_t size) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->committed[path_] = bytes_.substr(0, size);
    return absl::OkStatus();
  }
  void Abandon() override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    ++state_->abandoned;
  }

 private:
  std::shared_ptr<MemoryUploads::State> state_;
  std::string path_;
  std::string bytes_;
};

MemoryUploads::MemoryUploads() : state_(std::make_shared<State>()) {}

std::shared_ptr<UploadSink> MemoryUploads::Open(const std::string& path) {
  return std::make_shared<MemorySink>(state_, path);
}

std::optional<std::string> MemoryUploads::Committed(
    const std::string& path) const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto it = state_->committed.find(path);
  if (it == state_->committed.end()) return std::nullopt;
  return it->second;
}

size_t MemoryUploads::abandoned() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->abandoned;
}

io::SocketAddress Client(size_t i, uint16_t port) {
  io::SocketAddress address = ClientAddress(i);
  address.set_port(port);
  return address;
}

EngineHarness::EngineHarness(std::function<void(ServerConfig&)> configure,
                             std::shared_ptr<RequestHandler> handler)
    : now_(io::TimePoint() + std::chrono::hours(1)) {
  config_.root = root_.path();
  config_.threads = 1;
  config_.session.timeout = std::chrono::seconds(1);
  config_.session.max_timeout = std::chrono::seconds(2);
  config_.session.max_retries = 2;
  config_.source_timeout = std::chrono::seconds(5);
  config_.shutdown_grace = std::chrono::seconds(10);
  if (configure) configure(config_);
  absl::StatusOr<RootDirectory> root =
      RootDirectory::Open(config_.root, config_.resolver);
  EXPECT_TRUE(root.ok()) << root.status();
  root_directory_.emplace(std::move(*root));
  root_directory_->set_world_readable_only(!config_.permissive);
  handler_ = handler != nullptr ? handler : std::make_shared<FileHandler>();
  loader_ = std::make_unique<FileLoader>(1);
  guard_ = std::make_unique<AddressGuard>(config_.address_limits);
  if (config_.allow_write) {
    committer_ = std::make_unique<UploadCommitter>(1);
  }
  service_ = *io::SocketAddress::Parse("127.0.0.1", 69);
  ShardParts parts;
  parts.config = &config_;
  parts.root = &*root_directory_;
  parts.handler = handler_.get();
  parts.loader = loader_.get();
  parts.guard = guard_.get();
  parts.write_root = &*root_directory_;
  parts.committer = committer_.get();
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
  env.open_transfer_socket = [this](const io::SocketAddress& local)
      -> absl::StatusOr<io::OpenedSocket> {
    const int fd = next_fd_++;
    open_sockets_.insert(fd);
    io::SocketAddress bound = local;
    bound.set_port(static_cast<uint16_t>(fd + 20000));
    return io::OpenedSocket{fd, bound, 0};
  };
  env.close_socket = [this](int fd) {
    if (fd != kServiceFd) {
      EXPECT_EQ(open_sockets_.erase(fd), 1u) << "socket " << fd;
    }
  };
  shard_ = std::make_unique<Shard>(0, parts,
                                   io::OpenedSocket{kServiceFd, service_, 0},
                                   /*owns_service=*/true, std::move(env));
  const absl::Status started = shard_->Start();
  EXPECT_TRUE(started.ok()) << started;
}

EngineHarness::~EngineHarness() {
  shard_->Close();
  shard_.reset();
}

ServerTotals EngineHarness::totals() const {
  ServerTotals totals;
  totals.Add(shard_->counters());
  return totals;
}

void EngineHarness::SendToService(const io::SocketAddress& client,
                                  const std::string& bytes) {
  SendTo(kServiceFd, client, bytes);
}

void EngineHarness::SendTo(int fd, const io::SocketAddress& client,
                           const std::string& bytes) {
  backend_->Deliver(fd, client, service_,
                    absl::MakeConstSpan(
                        reinterpret_cast<const uint8_t*>(bytes.data()),
                        bytes.size()));
}

void EngineHarness::TurnUntilIdle() {
  // Until a turn handles nothing and sends nothing: a send completes in
  // the turn after it, so two quiet turns in a row mean idle.
  int quiet = 0;
  for (int turns = 0; !finished_ && quiet < 2 && turns < 100000; ++turns) {
    const uint64_t before = backend_->stats().completions;
    finished_ = !shard_->Turn();
    const bool moved = backend_->stats().completions != before;
    quiet = moved ? 0 : quiet + 1;
    for (io::SentDatagram& sent : backend_->TakeSent()) {
      pending_.push_back(Reply{
          sent.fd, sent.to,
          std::string(sent.payload.begin(), sent.payload.end())});
      quiet = 0;
    }
    const absl::Status ok = shard_->CheckInvariants();
    ASSERT_TRUE(ok.ok()) << ok;
    if (finished_) break;
  }
}

std::vector<Reply> EngineHarness::Run() {
  TurnUntilIdle();
  std::vector<Reply> replies;
  replies.swap(pending_);
  return replies;
}

std::vector<Reply> EngineHarness::RunUntil(const std::function<bool()>& done,
                                           std::chrono::seconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  TurnUntilIdle();
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    // Another thread's message wakes the loop through its pipe.
    backend_->WaitForDescriptors(true, std::chrono::milliseconds(1000));
    TurnUntilIdle();
    backend_->WaitForDescriptors(false, std::chrono::milliseconds(0));
    TurnUntilIdle();
  }
  EXPECT_TRUE(done()) << "not reached within " << limit.count() << " s";
  std::vector<Reply> replies;
  replies.swap(pending_);
  return replies;
}

std::vector<Reply> EngineHarness::Advance(io::Clock::duration by) {
  now_ += by;
  return Run();
}

}  // namespace tftpd::testing
