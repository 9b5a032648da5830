// A shard run by the test itself, over the in-memory backend and a clock
// the test moves: clients are addresses, sockets are numbers, and every
// datagram the shard sends is there to read. No socket, no sleep.
#ifndef TFTPD_TESTS_SERVER_ENGINE_ENGINE_HARNESS_H_
#define TFTPD_TESTS_SERVER_ENGINE_ENGINE_HARNESS_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/memory_backend.h"
#include "server/engine/shard.h"
#include "tests/server/engine/memory_shard.h"
#include "tests/testing/files.h"
#include "tests/testing/packets.h"

namespace tftpd::testing {

// A datagram the shard sent, as the tests read it.
struct Reply {
  int fd;  // The socket it left from: a transfer's own, or the service's.
  io::SocketAddress to;
  std::string bytes;
  int opcode() const { return OpcodeOf(bytes); }
  uint16_t block() const;  // DATA, ACK.
  int error_code() const { return ErrorCodeOf(bytes); }
  std::string payload() const { return bytes.substr(4); }  // DATA.
  std::string option(const std::string& name) const;       // OACK.
};

std::string DataPacket(uint16_t block, const std::string& payload);
std::string ErrorPacket(uint16_t code, const std::string& message);

// Keeps what each upload committed, by path.
class MemoryUploads {
 public:
  MemoryUploads();
  std::shared_ptr<UploadSink> Open(const std::string& path);
  std::optional<std::string> Committed(const std::string& path) const;
  size_t abandoned() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  friend class MemorySink;
};

// Serves `content` for every name but "missing" (ERROR 1), and takes
// uploads into memory.
class BytesHandler : public RequestHandler {
 public:
  explicit BytesHandler(std::string content) : content_(std::move(content)) {}
  Response Handle(const RequestContext& request) override;
  UploadResponse HandleUpload(const RequestContext& request) override;
  MemoryUploads uploads;

 private:
  const std::string content_;
};

class EngineHarness {
 public:
  static constexpr int kServiceFd = MemoryShard::kServiceFd;

  // `configure` adjusts the defaults (one shard, short timeouts); `handler`
  // null serves files from root(). `budget` (null: the shard's own) is
  // shared with other harnesses' shards, among which this is shard `id`.
  explicit EngineHarness(std::function<void(ServerConfig&)> configure = {},
                         std::shared_ptr<RequestHandler> handler = nullptr,
                         int id = 0, TransferBudget* budget = nullptr);

  const TempDir& root() const { return root_; }
  Shard& shard() { return memory_->shard(); }
  MemoryShard& memory() { return *memory_; }
  io::MemoryBackend& backend() { return memory_->backend(); }
  ServerTotals totals() const;

  // A datagram from `client` to the service port, or to the socket `fd`.
  void SendToService(const io::SocketAddress& client, const std::string& bytes);
  void SendTo(int fd, const io::SocketAddress& client,
              const std::string& bytes);
  // Turns the loop until nothing is left to do now (checking the shard's
  // invariants after each turn); then every datagram sent since the last
  // call.
  std::vector<Reply> Run();
  // The same, waiting (at most `limit`) for another thread's message (a
  // loader, a committer) until `done` holds.
  std::vector<Reply> RunUntil(
      const std::function<bool()>& done,
      std::chrono::seconds limit = std::chrono::seconds(20));
  // Moves the clock, then Run.
  std::vector<Reply> Advance(io::Clock::duration by);
  // The loop ended (a stop completed).
  bool finished() const { return finished_; }
  // Transfer sockets opened and not yet closed.
  const std::set<int>& open_sockets() const { return memory_->open_sockets(); }

 private:
  void TurnUntilIdle();

  TempDir root_;
  std::unique_ptr<MemoryShard> memory_;
  std::vector<Reply> pending_;
  bool finished_ = false;
};

// Statistics records, as the dispatcher's thread delivers them.
struct Records {
  std::mutex mutex;
  std::vector<TransferStats> list;
  size_t size() {
    std::lock_guard<std::mutex> lock(mutex);
    return list.size();
  }
  // A ServerConfig::on_transfer_end that keeps each record in `records`.
  static std::function<void(const TransferStats&)> Keep(
      std::shared_ptr<Records> records) {
    return [records](const TransferStats& s) {
      std::lock_guard<std::mutex> lock(records->mutex);
      records->list.push_back(s);
    };
  }
};

// A client at 127.1.x.y:port.
io::SocketAddress Client(size_t i, uint16_t port = 40000);

// The replies that went to `client`, in order.
std::vector<Reply> To(const std::vector<Reply>& replies,
                      const io::SocketAddress& client);

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_SERVER_ENGINE_ENGINE_HARNESS_H_
