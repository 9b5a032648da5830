// The engine as a whole: the shards, one per thread, and what they share
// (the handler, the loader's and sources' threads, the statistics
// dispatcher, the upload committer, the per-address guard and the budget of
// transfers). Server (server/api/server.h) is its public face: it opens the
// root and the service sockets, and the engine runs on them.
#ifndef TFTPD_SERVER_ENGINE_ENGINE_H_
#define TFTPD_SERVER_ENGINE_ENGINE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "io/socket_address.h"
#include "io/udp_socket.h"
#include "server/api/server_config.h"
#include "server/api/server_stats.h"
#include "server/api/source_threads.h"
#include "server/api/transfer_snapshot.h"
#include "server/files/file_loader.h"
#include "server/files/root_directory.h"
#include "server/observability/stats_dispatcher.h"
#include "server/uploads/upload_committer.h"

namespace tftpd {

class AddressGuard;
class Shard;
class TransferBudget;

class Engine {
 public:
  // `config.listener` is decided (not kAuto); `sockets` holds one service
  // socket per shard, or one for all with ListenerMode::kSingle, bound to
  // `address`. The engine owns them from here, on failure too.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(
      ServerConfig config, RootDirectory root,
      const std::vector<io::OpenedSocket>& sockets,
      const io::SocketAddress& address);
  ~Engine();

  // As Server's.
  absl::Status Start();
  void Stop(bool immediate);
  void Wait();
  bool Done() const { return running_.load() == 0; }
  const io::SocketAddress& address() const { return address_; }
  const ServerConfig& config() const { return config_; }
  const RootDirectory& root() const { return root_; }
  const std::string& backend_name() const;
  const std::string& fallback_reason() const;
  ServerTotals Totals() const;
  std::vector<ServerTotals> ShardTotals() const;
  std::vector<TransferSnapshot> Transfers(std::chrono::milliseconds wait) const;
  absl::Status Offer(absl::Span<const uint8_t> datagram,
                     const io::SocketAddress& source);

 private:
  Engine(ServerConfig config, RootDirectory root);
  // --allow_write: the write root opened, an earlier run's unfinished
  // uploads removed, the committer's threads made.
  absl::Status PrepareUploads();
  void MakeShards(const std::vector<io::OpenedSocket>& sockets);

  ServerConfig config_;
  RootDirectory root_;
  // Where UploadResponse::File writes (with --allow_write).
  std::unique_ptr<RootDirectory> write_root_;
  std::shared_ptr<RequestHandler> handler_;
  std::unique_ptr<StatsDispatcher> stats_;
  io::SocketAddress address_;
  std::vector<std::unique_ptr<Shard>> shards_;
  // Declared after the shards: destroyed (its threads joined) before them,
  // since its jobs report to them.
  std::unique_ptr<FileLoader> loader_;
  std::unique_ptr<SourceThreads> sources_;
  std::unique_ptr<UploadCommitter> committer_;
  std::unique_ptr<AddressGuard> guard_;
  std::unique_ptr<TransferBudget> budget_;
  std::vector<std::thread> threads_;
  std::atomic<int> running_{0};
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_ENGINE_H_
