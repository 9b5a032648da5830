// One worker thread's share of the server: its own event backend (one
// io_uring), its own SO_REUSEPORT service socket, and every transfer whose
// request that socket received, for the transfer's whole life. Nothing on
// the packet path is shared with other shards, so nothing is locked.
//
// The shard's methods are spread over files by role: shard.cc (the loop,
// the inbox, shutdown), shard_requests.cc (a request's way to a transfer),
// shard_transfers.cc (a transfer's packets, timers and end), send_path.cc
// (send slots, GSO trains, ERRORs) and uploads.cc.
#ifndef TFTPD_SERVER_ENGINE_SHARD_H_
#define TFTPD_SERVER_ENGINE_SHARD_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "io/backend_factory.h"
#include "io/deadline_queue.h"
#include "io/event_backend.h"
#include "io/udp_socket.h"
#include "protocol/packet.h"
#include "server/api/request_handler.h"
#include "server/api/server_config.h"
#include "server/api/server_stats.h"
#include "server/api/source_threads.h"
#include "server/engine/address_guard.h"
#include "server/engine/inbox.h"
#include "server/engine/recent_transfers.h"
#include "server/engine/refusal.h"
#include "server/engine/response_resolution.h"
#include "server/engine/send_slots.h"
#include "server/engine/transfer_budget.h"
#include "server/engine/transfer_table.h"
#include "server/files/file_cache.h"
#include "server/files/file_loader.h"
#include "server/files/root_directory.h"
#include "server/observability/line_budget.h"
#include "server/observability/stats_dispatcher.h"
#include "server/uploads/upload_committer.h"

namespace tftpd {

// What a shard takes from the system. Tests give it an in-memory backend,
// a clock they move, and sockets that are only numbers.
struct ShardEnvironment {
  std::function<absl::StatusOr<io::CreatedBackend>(const io::BackendOptions&)>
      create_backend;
  std::function<io::TimePoint()> now;
  std::function<std::chrono::system_clock::time_point()> wall_now;
  // A transfer's own socket, answering from `local` (see io/udp_socket.h).
  std::function<absl::StatusOr<io::OpenedSocket>(const io::SocketAddress&)>
      open_transfer_socket;
  // Closes a socket: queued through `backend` with the operations before it
  // when one is given, at once when null (the shard is ending).
  std::function<void(io::EventBackend* backend, int fd)> close_socket;
};

// The kernel's: `kind`'s backend, the steady and system clocks, UDP sockets.
ShardEnvironment SystemEnvironment(io::BackendKind kind);

// Everything a shard uses that the server owns and shares between shards.
// `stats` may be null; `write_root` and `committer` are null unless
// uploads are on.
struct ShardParts {
  const ServerConfig* config = nullptr;
  const RootDirectory* root = nullptr;
  RequestHandler* handler = nullptr;
  StatsDispatcher* stats = nullptr;
  FileLoader* loader = nullptr;
  AddressGuard* guard = nullptr;
  const RootDirectory* write_root = nullptr;
  UploadCommitter* committer = nullptr;
  // Null: sources are read on the shard's own thread (engine tests only).
  SourceThreads* sources = nullptr;
  // The places for transfers, shared by the server's shards. Null: the
  // shard has --max_transfers of its own (engine tests only).
  TransferBudget* budget = nullptr;
};

// Which of `count` shards a client's requests go to when one socket takes
// them for all (a single listener, a program's Server::Offer): one shard per
// client, by address and port, so that a repeated request meets the
// transfer it repeats.
size_t ShardFor(const io::SocketAddress& client, size_t count);

// Receive buffers: many small ones for requests and ACKs, and a few large
// ones for uploads, which hold a DATA header and the largest blksize (RFC
// 2348: 65464), so no block is ever cut whatever a client sends.
inline constexpr size_t kReceiveBufferSize = 2048;
inline constexpr size_t kLargeReceiveBufferSize = 65536;
inline constexpr unsigned kLargeReceiveBuffers = 64;

class Shard {
 public:
  // `service` is this shard's socket on the service port. With
  // `owns_service` false it is the listener shard's, used only to answer
  // requests handed over from there (single-listener mode).
  Shard(int id, const ShardParts& parts, io::OpenedSocket service,
        bool owns_service, ShardEnvironment environment);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // Runs the event loop on the calling thread until stopped. `ready` is
  // called once, with the outcome of creating the backend.
  void Run(const std::function<void(absl::Status)>& ready);
  // Run in steps, for tests that drive the loop themselves: Start, then
  // Turn until it returns false, then Close. One Turn sends what is ready,
  // polls the backend once, and fires the timers that are due.
  absl::Status Start();
  bool Turn();
  void Close();

  // Any thread: stop taking requests and let transfers finish for the grace
  // period (or end them at once), then return from Run.
  void RequestStop(bool immediate);
  // Single-listener mode: the listener shard receives every request and
  // hands each to `shards[hash(client) % size]`. Set before Run.
  void SetHandoffTargets(std::vector<Shard*> shards) {
    handoff_targets_ = std::move(shards);
  }
  // Any thread: a request for this shard to handle; false (dropped) when
  // the shard has too many waiting already (Inbox::kMaxHanded).
  bool HandOff(const io::Datagram& datagram);
  // The server's shards, this one included, indexed by id: where a full
  // shard asks for an eviction (TransferBudget). Set before Run.
  void SetPeers(std::vector<Shard*> shards) { peers_ = std::move(shards); }
  // Any thread: evict an unanswered transfer on the next turn if the
  // server is still over --max_transfers.
  void RequestEviction();
  const ShardCounters& counters() const { return counters_; }
  // Any thread: the shard adds its transfers in progress to `collector`
  // on its next turn.
  void RequestSnapshot(std::shared_ptr<SnapshotCollector> collector);
  // Set once Start succeeded: the backend in use, and why the preferred
  // one was not (empty when it was).
  const std::string& backend_name() const { return backend_name_; }
  const std::string& fallback_reason() const { return fallback_reason_; }

  // Shard thread, for tests and the fuzzer: an error naming the first
  // broken rule of the transfer table and send slots, else OK.
  absl::Status CheckInvariants() const;
  size_t open_transfers() const { return transfers_.open(); }

 private:
  // shard.cc: the loop.
  void OnCompletion(const io::Completion& completion);
  void OnServiceReceive(const io::Completion& completion);
  void ArmServiceReceive();
  bool LargeServiceReceives() const {
    return config_.single_port && config_.allow_write;
  }
  void ArmWake();
  void Wake();  // Any thread: makes the loop take the inbox.
  void OnWake();
  void OnMessage(InboxMessage& message);
  std::vector<TransferSnapshot> Snapshot() const;
  void BeginShutdown(bool immediate);
  bool ShutdownComplete();
  std::optional<io::TimePoint> NextDeadline() const;

  // shard_requests.cc: a request's way to a transfer.
  // A datagram on the service port: in single-port mode it may belong to
  // an open transfer; otherwise it is a request (or is ignored).
  void OnServiceDatagram(const io::Datagram& datagram);
  void OnRequest(const io::Datagram& datagram);
  // A repeat of the request that opened transfer `index`, which its client
  // has not answered: the first packet again once the transfer has gone
  // quiet (see the definition).
  void MaybeAnswerAgain(uint32_t index, size_t fingerprint);
  // A request that is not a repeat of an open transfer's: refuse it or
  // open its transfer. `request` views `datagram`.
  void StartTransfer(const io::Datagram& datagram,
                     const tftp::Request& request);
  // A transfer that waits for its response: in the peer table, no socket.
  uint32_t StartWaiting(const io::Datagram& datagram,
                        const tftp::Request& request, RequestContext context,
                        TransferPhase phase);
  void OnFileLoaded(const FileLoaded& loaded);
  void OnStreamProgress(uint32_t index);
  // Opens a read: negotiates, opens its socket, starts sending. `index` is
  // the waiting transfer it continues, if any.
  // What the handler's resolved answer to a read asks for: a refusal, the
  // transfer launched, or a wait for the loader or the stream.
  void ActOn(const io::Datagram& datagram, const tftp::Request& request,
             RequestContext context, Resolution resolution);
  void Launch(const io::Datagram& datagram, const tftp::Request& request,
              RequestContext context, ResolvedResponse response,
              std::optional<uint32_t> index);
  // Launch could not start it: refused, or given up without a word when
  // `refusal` is empty; what the response held is released.
  void GiveUpLaunch(const io::Datagram& datagram, const tftp::Request& request,
                    const RequestContext& context, ResolvedResponse& response,
                    std::optional<uint32_t> index,
                    std::optional<Refusal> refusal);
  // The read's slot in kSending (the waiting one at `index`, or a new one),
  // holding the response; its index.
  uint32_t PlaceRead(const io::Datagram& datagram, const tftp::Request& request,
                     RequestContext context, ResolvedResponse response,
                     std::optional<uint32_t> index);
  // The read's protocol side made and started, its first packets queued.
  void StartReading(uint32_t index, const tftp::Request& request,
                    const tftp::NegotiatedOptions& negotiated,
                    const tftp::TransferConfig& config);
  // A waiting transfer's response is ready.
  void Resume(uint32_t index, ResolvedResponse response);
  // A waiting transfer ends before any packet of it was sent: refused, or
  // (evicted, or at shutdown) without a word. Either way its record goes
  // out, with `session` (else its stream's; stats_callbacks.h).
  void EndWaiting(uint32_t index, std::optional<Refusal> refusal,
                  std::shared_ptr<void> session = nullptr);
  // A request that ends before its transfer began, refused or given up
  // without a word: its record goes out either way, with `session`.
  void EndUnstarted(const io::SocketAddress& to, const io::SocketAddress& from,
                    absl::string_view filename, std::optional<Refusal> refusal,
                    const RequestContext& context, io::TimePoint since,
                    std::shared_ptr<void> session);
  // The transfer's socket: a new one answering from the address the client
  // sent to, or in single-port mode the service socket. Sets `peer` to
  // where its packets go.
  absl::StatusOr<io::OpenedSocket> OpenTransferSocket(
      const io::Datagram& datagram, io::SocketAddress* peer);
  // The one place a request's ERROR is counted, logged and sent.
  // With `context`, the handler saw the request: a statistics record
  // (RecordRefusal) goes out too, timed from `since`.
  void Refuse(const io::SocketAddress& to, const io::SocketAddress& from,
              absl::string_view filename, const Refusal& refusal,
              const RequestContext* context = nullptr,
              std::optional<io::TimePoint> since = std::nullopt);
  // A refusal's log line, within refusal_lines_.
  void LogRefusal(const io::SocketAddress& to, absl::string_view filename,
                  const Refusal& refusal);
  // Subscribes transfer `index` to its stream's progress.
  uint64_t SubscribeToStream(uint32_t index);
  // Lists a new transfer, opened by `request`, as open (on probation when it
  // repeats a transfer that just ended).
  uint32_t OpenTransfer(const io::SocketAddress& key, TransferPhase phase,
                        const tftp::Request& request);
  // Ends the open transfer, other than `except`, that a new request may
  // take the place of (eviction.h); false when there is none.
  bool EvictOne(std::optional<uint32_t> except);
  // Whether a new transfer has a place: a free one; else one an unanswered
  // transfer of this shard gives up; else one beyond the limit while
  // another shard evicts such a transfer.
  bool FindPlace();
  // `request` failed to parse only for its mode, and the handler answers
  // such requests itself (RequestHandler::SeesUnsupportedModes).
  bool HandlerSeesMode(const tftp::Request& request) const {
    return request.mode == tftp::TransferMode::kUnsupported &&
           request.opcode == tftp::Opcode::kRrq &&
           handler_->SeesUnsupportedModes();
  }
  // Single-port mode: a window small enough for what one datagram earns.
  void LimitUnprovenWindow(tftp::NegotiatedOptions& negotiated) const;
  // How far ahead of its client's acknowledgements a pulled stream is read:
  // four windows (at least 64 KiB, at most 4 MiB), so the next windows are
  // ready when ACKs come and a slow source is not waited for block by block.
  static uint64_t PulledReadAhead(const tftp::NegotiatedOptions& negotiated);
  void PostStreamProgress(uint32_t index, uint32_t generation);

  // shard_transfers.cc: a transfer's packets, timers and end.
  void ArmTransferReceive(uint32_t index);
  void OnTransferReceive(uint32_t index, const io::Completion& completion);
  void DeliverToTransfer(uint32_t index, const io::Datagram& datagram);
  void AfterInput(uint32_t index);
  // A pulled stream is told how far its client has acknowledged.
  void ReportConsumed(Transfer& t);
  void Schedule(uint32_t index);
  void FireTimers();
  void OnTimer(uint32_t index);
  // The protocol side finished: recorded, out of the peer table; a request
  // parked meanwhile starts the client's next transfer.
  void EndTransfer(uint32_t index);
  // Out of the peer table and the counts (every end goes through here).
  void CloseTransfer(uint32_t index);
  // The client's first answer on transfer `index`: it counts as a transfer
  // now, and in its address's limit.
  void OnFirstAnswer(uint32_t index);
  // A datagram from transfer `index`'s peer was taken: what it earns
  // (PeerCredit), and the window that follows from it.
  void Credit(uint32_t index);
  // Whether `bytes` more may go to `t`'s peer (PeerCredit; a repeat to a
  // peer that never answered within its address's budget too); when so,
  // they are taken from its credit.
  bool MaySend(Transfer& t, size_t bytes, bool retransmission);
  io::TimePoint UnansweredDeadline(const Transfer& t) const {
    return t.unanswered_since + config_.unanswered_timeout;
  }
  // Frees an ended transfer's slot once nothing of it is in flight.
  void MaybeRecycle(uint32_t index);

  // send_path.cc: sending.
  void FlushReady();
  void SendNext(uint32_t index);
  // An ERROR outside a transfer's own packet stream, from `fd`; from the
  // local address `from` when given (a wildcard-bound service socket).
  // `index`: the transfer whose socket sends it, if any.
  void SendError(int fd, const io::SocketAddress& to,
                 const io::SocketAddress* from, tftp::ErrorCode code,
                 absl::string_view message, std::optional<uint32_t> index);
  void OnSendDone(uint32_t slot_index, const io::Completion& completion);

  // uploads.cc.
  void StartUpload(const io::Datagram& datagram, const tftp::Request& request,
                   RequestContext context);
  // The upload's transfer opened on `socket` and started.
  void StartReceiving(const io::Datagram& datagram,
                      const tftp::Request& request, RequestContext context,
                      const tftp::NegotiatedOptions& negotiated,
                      std::shared_ptr<UploadSink> sink,
                      const io::OpenedSocket& socket,
                      const io::SocketAddress& peer);
  void StartCommit(uint32_t index);
  void OnCommitDone(const CommitDone& done);

  const int id_;
  const ServerConfig& config_;
  const RootDirectory& root_;
  RequestHandler* const handler_;
  // Where pulled streams read their sources (ShardParts::sources).
  SourceExecutor source_executor_;
  uint64_t next_request_id_ = 0;
  const RootDirectory* const write_root_;
  UploadCommitter* const committer_;
  StatsDispatcher* const stats_;
  FileLoader* const loader_;
  AddressGuard* const guard_;
  io::OpenedSocket service_;
  const bool owns_service_;
  const ShardEnvironment env_;
  std::vector<Shard*> handoff_targets_;
  std::vector<Shard*> peers_;
  // Engine tests' shards, made without a server: places of their own.
  std::unique_ptr<TransferBudget> own_budget_;
  TransferBudget* const budget_;
  Inbox inbox_;
  int wake_fd_ = -1;  // Read end of the wake-up pipe.
  int wake_write_fd_ = -1;
  uint64_t wake_buffer_ = 0;
  std::atomic<int> stop_request_{0};  // 1: graceful, 2: immediate.
  std::unique_ptr<io::EventBackend> backend_;
  FileCache files_;
  io::TimePoint now_;
  // This shard's share of --max_transfers: what it remembers of recent
  // transfers is sized by it.
  const size_t max_transfers_;

  TransferTable transfers_;
  // Draws for single-port mode's eviction sample (eviction.h): seeded by
  // the shard's id, so that a run is repeatable.
  std::minstd_rand eviction_draws_;
  RecentTransfers recent_;
  SendSlots slots_;
  // UDP GSO for windows (Linux 4.18); off for good after an EIO.
  bool gso_ = true;
  // Transfers with packets to send, waiting for free send slots.
  std::deque<uint32_t> ready_;
  io::DeadlineQueue timers_;

  bool stopping_ = false;
  bool aborted_ = false;
  io::TimePoint stop_deadline_;
  io::TimePoint exit_deadline_;
  ShardCounters counters_;
  // Refusals are answered to peers that never answered, which a flood of
  // forged requests multiplies: their lines are bounded.
  static constexpr uint32_t kRefusalLinesPerSecond = 20;
  LineBudget refusal_lines_{kRefusalLinesPerSecond};
  std::string backend_name_;
  std::string fallback_reason_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_SHARD_H_
