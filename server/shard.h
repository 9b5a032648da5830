// One worker thread's share of the server: its own event backend (one
// io_uring), its own SO_REUSEPORT service socket, and every transfer whose
// request that socket received, for the transfer's whole life. Nothing on
// the packet path is shared with other shards, so nothing is locked.
#ifndef TFTPD_SERVER_SHARD_H_
#define TFTPD_SERVER_SHARD_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "io/deadline_queue.h"
#include "io/event_backend.h"
#include "io/udp_socket.h"
#include "protocol/packet.h"
#include "protocol/read_session.h"
#include "protocol/server_transfer.h"
#include "protocol/write_session.h"
#include "server/address_guard.h"
#include "server/file_cache.h"
#include "server/file_loader.h"
#include "server/request_handler.h"
#include "server/root_directory.h"
#include "server/server_config.h"
#include "server/server_stats.h"
#include "server/stats_dispatcher.h"
#include "server/upload_committer.h"

namespace tftpd {

class Shard {
 public:
  // `service` is this shard's socket on the service port. With
  // `owns_service` false it is the listener shard's, used only to answer
  // requests handed over from there (single-listener mode).
  // `stats` (may be null) takes the records of ended transfers.
  // `write_root` and `committer` are null unless uploads are on.
  Shard(int id, const ServerConfig& config, const RootDirectory& root,
        RequestHandler* handler, StatsDispatcher* stats, FileLoader* loader,
        AddressGuard* guard, const RootDirectory* write_root,
        UploadCommitter* committer, io::OpenedSocket service,
        bool owns_service = true);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // Runs the event loop on the calling thread until stopped. `ready` is
  // called once, with the outcome of creating the backend.
  void Run(const std::function<void(absl::Status)>& ready);
  // Any thread: stop taking requests and let transfers finish for the grace
  // period (or end them at once), then return from Run.
  void RequestStop(bool immediate);
  // Single-listener mode: the listener shard receives every request and
  // hands each to `shards[hash(client) % size]`. Set before Run.
  void SetHandoffTargets(std::vector<Shard*> shards) {
    handoff_targets_ = std::move(shards);
  }
  // Any thread: a request for this shard to handle.
  void HandOff(const io::Datagram& datagram);
  const ShardCounters& counters() const { return counters_; }
  // Set before Run reports ready: the backend in use, and why the preferred
  // one was not (empty when it was).
  const std::string& backend_name() const { return backend_name_; }
  const std::string& fallback_reason() const { return fallback_reason_; }

 private:
  struct ParkedRequest;
  struct HandedRequest;
  struct Session;
  struct SendSlot;
  struct Prepared;
  struct LoadedFile;
  struct CommitOutcome;

  void OnCompletion(const io::Completion& completion);
  void OnServiceReceive(const io::Completion& completion);
  void OnSessionReceive(uint32_t index, const io::Completion& completion);
  void OnSendDone(uint32_t slot_index, const io::Completion& completion);
  void OnWake();
  // Any thread: makes the loop run OnWake.
  void Wake();
  void TakeHandedRequests();

  // A datagram on the service port: in single-port mode it may belong to an
  // open transfer; otherwise it is a request (or is ignored).
  void OnServiceDatagram(const io::Datagram& datagram);
  // A datagram from a transfer's client, to its transfer.
  void DeliverToSession(uint32_t index, const io::Datagram& datagram);
  void HandleRequest(const io::Datagram& datagram);
  // A request that is not a repeat of an open transfer's: refuse it or open
  // its transfer. `request` views `datagram`.
  void StartTransfer(const io::Datagram& datagram,
                     const tftp::Request& request);
  // What `response` (the handler's answer) sends; false after refusing.
  bool Prepare(const io::Datagram& datagram, const tftp::Request& request,
               const RequestContext& context, Response response, Prepared* out);
  // Opens the transfer: negotiates, opens its socket, starts sending. Takes
  // `index` when the session waited for its source, else a new slot.
  void Launch(const io::SocketAddress& source,
              const io::SocketAddress& destination,
              const tftp::Request& request, RequestContext context,
              Prepared prepared, std::optional<uint32_t> index);
  // A streaming response's state changed (any thread posts; the loop runs
  // OnSourceProgress).
  void PostSourceProgress(uint32_t index, uint32_t generation);
  void TakeSourceProgress();
  void OnSourceProgress(uint32_t index);
  // A session that waits (for its source or the loader): by_peer_ knows
  // it, its timer bounds the wait.
  uint32_t StartWaiting(const io::Datagram& datagram, RequestContext context);
  // Any thread (the loader): a file this shard asked for is mapped.
  void PostFileLoaded(const LoadedFile& loaded);
  void TakeLoadedFiles();
  // `file` (one reference, handed over) as the response, in the transfer
  // mode; false after refusing.
  bool UseFile(SharedFile* file, bool netascii, const io::SocketAddress& to,
               const io::SocketAddress& from, const std::string& filename,
               Prepared* out);
  // A stream as the response; it is sent as its bytes arrive.
  void UseStream(std::shared_ptr<ResponseStream> stream, Prepared* out);
  // A WRQ that passed the common checks: asks the handler where it goes,
  // opens the sink and starts the transfer, or refuses.
  void StartUpload(const io::Datagram& datagram, const tftp::Request& request,
                   RequestContext context);
  // Every block of an upload arrived: its sink commits on a committer
  // thread, which posts the outcome back (the final ACK waits for it).
  void StartCommit(uint32_t index);
  void PostCommitted(CommitOutcome outcome);
  void TakeCommits();
  // A socket for a new transfer, answering from the address the client sent
  // to (its `bound`); `peer` is where the transfer's packets go. In
  // single-port mode, the service socket.
  absl::StatusOr<io::OpenedSocket> OpenTransferSocket(
      const io::SocketAddress& source, const io::SocketAddress& destination,
      io::SocketAddress* peer);
  // A waiting session's response is ready: opens its transfer.
  void Resume(uint32_t index, Prepared prepared);
  // A session that waited for its source ends without a transfer.
  void EndWaiting(uint32_t index);
  // A request's ERROR, to the client `to` from the local address `from` the
  // request reached (AF_UNSPEC: the kernel picks).
  void RefuseRequest(const io::SocketAddress& to, const io::SocketAddress& from,
                     const std::string& filename, tftp::ErrorCode code,
                     absl::string_view message, RefusalReason reason);
  void Refuse(const io::SocketAddress& to, const io::SocketAddress& from,
              tftp::ErrorCode code, absl::string_view message,
              RefusalReason reason);
  // Sends an ERROR from `fd` outside any transfer's own packet stream; from
  // the local address `from` when given (a wildcard-bound service socket).
  void SendError(int fd, const io::SocketAddress& to,
                 const io::SocketAddress* from, tftp::ErrorCode code,
                 absl::string_view message, std::optional<uint32_t> session);

  uint32_t AllocateSession();
  void ArmServiceReceive();
  void ArmSessionReceive(uint32_t index);
  void AfterInput(uint32_t index);
  void FlushReady();
  void SendNext(uint32_t index);
  void Schedule(uint32_t index);
  void FireTimers();
  void Finish(uint32_t index);
  void PostSessionStats(const Session& s);
  void MaybeRelease(uint32_t index);
  void BeginShutdown(bool immediate);
  bool ShutdownComplete();
  std::optional<io::TimePoint> NextDeadline() const;

  const int id_;
  const ServerConfig& config_;
  const RootDirectory& root_;
  RequestHandler* const handler_;
  const RootDirectory* const write_root_;
  UploadCommitter* const committer_;
  StatsDispatcher* const stats_;
  FileLoader* const loader_;
  AddressGuard* const guard_;
  io::OpenedSocket service_;
  const bool owns_service_;
  std::vector<Shard*> handoff_targets_;
  std::mutex handoff_mutex_;
  std::vector<HandedRequest> handed_;  // Guarded by handoff_mutex_.
  // (index, generation) of sessions whose source changed; same guard.
  std::vector<std::pair<uint32_t, uint32_t>> source_progress_;
  std::vector<LoadedFile> loaded_;        // From the loader; same guard.
  std::vector<CommitOutcome> committed_;  // From the committer; same guard.
  int wake_fd_ = -1;                      // Read end of the wake-up pipe.
  int wake_write_fd_ = -1;
  uint64_t wake_buffer_ = 0;
  std::atomic<int> stop_request_{0};  // 1: graceful, 2: immediate.
  std::unique_ptr<io::EventBackend> backend_;
  FileCache files_;
  io::TimePoint now_;
  size_t max_sessions_;
  size_t active_ = 0;
  // UDP GSO for windows (Linux 4.18); off for good after an EIO.
  bool gso_ = true;

  // Stable addresses: a deque never moves its elements when it grows.
  std::deque<Session> sessions_;
  std::vector<uint32_t> free_sessions_;
  std::vector<SendSlot> slots_;
  std::vector<uint32_t> free_slots_;
  // Open transfers by client address and port: a repeated request from the
  // same client is not a second transfer.
  absl::flat_hash_map<io::SocketAddress, uint32_t> by_peer_;
  // Sessions with packets to send, waiting for free send slots.
  std::deque<uint32_t> ready_;
  io::DeadlineQueue timers_;

  bool stopping_ = false;
  bool aborted_ = false;
  io::TimePoint stop_deadline_;
  io::TimePoint exit_deadline_;
  ShardCounters counters_;
  std::string backend_name_;
  std::string fallback_reason_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_SHARD_H_
