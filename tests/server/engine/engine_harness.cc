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
  absl::Status Write(uint64_t offset,
                     absl::Span<const uint8_t> bytes) override {
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

EngineHarness::EngineHarness(std::function<void(ServerConfig&)> configure,
                             std::shared_ptr<RequestHandler> handler, int id,
                             TransferBudget* budget) {
  ServerConfig config;
  config.root = root_.path();
  config.threads = 1;
  config.transfer.timeout = std::chrono::seconds(1);
  config.transfer.max_timeout = std::chrono::seconds(2);
  config.transfer.max_retries = 2;
  config.source_timeout = std::chrono::seconds(5);
  config.shutdown_grace = std::chrono::seconds(10);
  if (configure) configure(config);
  memory_ = std::make_unique<MemoryShard>(std::move(config), std::move(handler),
                                          id, budget);
  EXPECT_TRUE(memory_->status().ok()) << memory_->status();
}

ServerTotals EngineHarness::totals() const {
  ServerTotals totals;
  totals.Add(memory_->shard().counters());
  return totals;
}

void EngineHarness::SendToService(const io::SocketAddress& client,
                                  const std::string& bytes) {
  SendTo(kServiceFd, client, bytes);
}

void EngineHarness::SendTo(int fd, const io::SocketAddress& client,
                           const std::string& bytes) {
  memory_->Deliver(
      fd, client,
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                          bytes.size()));
}

void EngineHarness::TurnUntilIdle() {
  // Until two turns in a row handle and send nothing: a send completes in
  // the turn after it.
  int quiet = 0;
  for (int turns = 0; !finished_ && quiet < 2 && turns < 100000; ++turns) {
    std::vector<io::SentDatagram> sent;
    const uint64_t before = memory_->backend().stats().completions;
    finished_ = !memory_->Turn(&sent);
    const bool moved =
        memory_->backend().stats().completions != before || !sent.empty();
    quiet = moved ? 0 : quiet + 1;
    for (io::SentDatagram& d : sent) {
      pending_.push_back(
          Reply{d.fd, d.to, std::string(d.payload.begin(), d.payload.end())});
    }
    const absl::Status ok = memory_->shard().CheckInvariants();
    ASSERT_TRUE(ok.ok()) << ok;
    ASSERT_EQ(memory_->bad_close(), -1) << "a socket closed twice";
    ASSERT_EQ(memory_->sent_after_close(), -1) << "a send after its close";
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
    // One turn that blocks until another thread's message wakes the loop
    // through its pipe, then on without blocking.
    memory_->backend().WaitForDescriptors(true,
                                          std::chrono::milliseconds(1000));
    std::vector<io::SentDatagram> sent;
    finished_ = !memory_->Turn(&sent);
    memory_->backend().WaitForDescriptors(false, std::chrono::milliseconds(0));
    for (io::SentDatagram& d : sent) {
      pending_.push_back(
          Reply{d.fd, d.to, std::string(d.payload.begin(), d.payload.end())});
    }
    TurnUntilIdle();
  }
  EXPECT_TRUE(done()) << "not reached within " << limit.count() << " s";
  std::vector<Reply> replies;
  replies.swap(pending_);
  return replies;
}

std::vector<Reply> EngineHarness::Advance(io::Clock::duration by) {
  memory_->Advance(by);
  return Run();
}

std::vector<Reply> To(const std::vector<Reply>& replies,
                      const io::SocketAddress& client) {
  std::vector<Reply> mine;
  for (const Reply& r : replies) {
    if (r.to == client) mine.push_back(r);
  }
  return mine;
}

Response BytesHandler::Handle(const RequestContext& request) {
  if (request.path == "missing") {
    return Response::Refuse(tftp::ErrorCode::kFileNotFound, "no");
  }
  return Response::Bytes(content_);
}

UploadResponse BytesHandler::HandleUpload(const RequestContext& request) {
  return UploadResponse::Sink(uploads.Open(request.path));
}

io::SocketAddress Client(size_t i, uint16_t port) {
  io::SocketAddress address = ClientAddress(i);
  address.set_port(port);
  return address;
}

}  // namespace tftpd::testing
