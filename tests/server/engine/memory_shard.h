// A shard with everything it uses made in memory: the in-memory event
// backend, a clock that moves only when told, transfer sockets that are
// only numbers (their closing recorded), and the server-wide parts it
// shares (guard, loader, committer). For the engine's tests and its fuzzer;
// it asserts nothing itself.
#ifndef TFTPD_TESTS_SERVER_ENGINE_MEMORY_SHARD_H_
#define TFTPD_TESTS_SERVER_ENGINE_MEMORY_SHARD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/memory_backend.h"
#include "server/engine/shard.h"
#include "server/engine/transfer_budget.h"

namespace tftpd::testing {

class MemoryShard {
 public:
  static constexpr int kServiceFd = 100;

  // `config.root` must name a directory; `handler` null serves its files.
  // `budget` (null: the shard's own) is shared with other shards, in which
  // this one is shard `id`.
  MemoryShard(ServerConfig config, std::shared_ptr<RequestHandler> handler,
              int id = 0, TransferBudget* budget = nullptr);
  ~MemoryShard();

  // Start's outcome.
  const absl::Status& status() const { return status_; }
  const ServerConfig& config() const { return config_; }
  Shard& shard() { return *shard_; }
  io::MemoryBackend& backend() { return *backend_; }
  const io::SocketAddress& service() const { return service_; }

  // A datagram from `client` to the socket `fd` (kServiceFd: the service).
  void Deliver(int fd, const io::SocketAddress& client,
               absl::Span<const uint8_t> bytes);
  // One turn of the loop; false once the loop has ended. Sends since the
  // last turn are appended to `sent`.
  bool Turn(std::vector<io::SentDatagram>* sent);
  // Turns until two in a row handle and send nothing (a send completes in
  // the turn after it), or the loop ends, or `max_turns`.
  bool TurnUntilIdle(std::vector<io::SentDatagram>* sent,
                     int max_turns = 100000);
  void Advance(io::Clock::duration by) { now_ += by; }
  io::TimePoint now() const { return now_; }

  // Transfer sockets may be open at once; more fail as with EMFILE.
  void set_socket_limit(size_t limit) { socket_limit_ = limit; }
  // Transfer sockets opened and not yet closed; and every one ever closed.
  const std::set<int>& open_sockets() const { return open_sockets_; }
  const std::set<int>& closed_sockets() const { return closed_sockets_; }
  // A socket closed twice or one never opened: the first such, or -1.
  int bad_close() const { return bad_close_; }
  // A socket something was sent from after it was closed: the first, or -1.
  int sent_after_close() const { return sent_after_close_; }

 private:
  ServerConfig config_;
  std::optional<RootDirectory> root_;
  std::shared_ptr<RequestHandler> handler_;
  std::unique_ptr<FileLoader> loader_;
  std::unique_ptr<AddressGuard> guard_;
  std::unique_ptr<UploadCommitter> committer_;
  std::unique_ptr<StatsDispatcher> stats_;
  io::SocketAddress service_;
  io::TimePoint now_;
  io::MemoryBackend* backend_ = nullptr;  // Owned by the shard.
  std::unique_ptr<Shard> shard_;
  absl::Status status_;
  int next_fd_ = 1000;
  size_t socket_limit_ = SIZE_MAX;
  std::set<int> open_sockets_;
  std::set<int> closed_sockets_;
  std::map<int, uint64_t> closed_after_send_;  // fd -> sends before its close.
  int sent_after_close_ = -1;
  int bad_close_ = -1;
  bool ended_ = false;
};

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_SERVER_ENGINE_MEMORY_SHARD_H_
