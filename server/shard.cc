#include "server/shard.h"

#include <fcntl.h>
#include <netinet/udp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "io/control_messages.h"
#include "io/user_data.h"
#include "protocol/netascii.h"
#include "protocol/options.h"
#include "protocol/packet.h"
#include "server/disk_upload_sink.h"
#include "server/log.h"

namespace tftpd {
namespace {

enum Kind : uint8_t {
  kServiceReceive = 1,
  kSessionReceive = 2,
  kSend = 3,
  kWake = 4,
};

constexpr uint32_t kNoSession = ~uint32_t{0};
// A window of DATA goes out as one UDP GSO send of at most this many
// datagrams and bytes (the kernel's limits are 64 segments and 64 KiB).
constexpr size_t kMaxSegments = 16;
#ifdef UDP_SEGMENT
constexpr bool kGsoBuilt = true;
#else
constexpr bool kGsoBuilt = false;  // UDP GSO is Linux's (4.18).
#endif
constexpr size_t kMaxGsoBytes = 65000;
// After the grace period, aborted transfers' ERRORs get this long to leave.
constexpr auto kExitDrain = std::chrono::milliseconds(200);

uint64_t Tag(Kind kind, uint32_t index, uint32_t generation) {
  return io::UserData{kind, index, generation}.Pack();
}

// An ERROR (sent or received) ended the transfer; otherwise it completed,
// its client stopped answering, or its client moved on to another transfer.
bool EndedByError(tftp::SessionOutcome outcome) {
  return outcome != tftp::SessionOutcome::kCompleted &&
         outcome != tftp::SessionOutcome::kTimedOut &&
         outcome != tftp::SessionOutcome::kSuperseded;
}

// Equal for a request and its repeats; a different file or different
// options make a different request.
size_t RequestFingerprint(const tftp::Request& request) {
  size_t hash = absl::HashOf(static_cast<int>(request.opcode), request.filename,
                             static_cast<int>(request.mode));
  for (const tftp::RawOption& option : request.options.view()) {
    hash = absl::HashOf(hash, option.name, option.value);
  }
  return hash;
}

double Seconds(io::Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

// A copy of a request kept until its fate is known (see HandleRequest).
struct Shard::ParkedRequest {
  std::string bytes;
  io::SocketAddress source;
  io::SocketAddress destination;
  // Datagrams the transfer had received from its client when this came.
  uint64_t heard_before = 0;
};

// A request received by the listener shard for another (single-listener
// mode), copied because the receive buffer is reused at once.
struct Shard::HandedRequest {
  std::string bytes;
  io::SocketAddress source;
  io::SocketAddress destination;
  bool truncated = false;
};

struct Shard::Session {
  uint32_t generation = 0;
  bool active = false;
  bool finishing = false;
  bool receive_armed = false;
  bool in_ready = false;  // Listed in ready_; the slot is kept until it is not.
  int fd = -1;
  // Single-port mode: `fd` is the service socket, not the transfer's own;
  // the client's packets arrive there, and replies leave from `local`, the
  // address the client sent its request to.
  bool shares_service = false;
  io::SocketAddress local;
  // Operations whose completion is still due (receive, sends): the socket
  // is closed only when none is left, so no operation outlives its fd.
  uint32_t inflight = 0;
  io::SocketAddress peer;
  std::unique_ptr<tftp::ServerTransfer> transfer;
  // `transfer` as what it is: a read or an upload.
  tftp::ReadSession* reading = nullptr;
  tftp::WriteSession* writing = nullptr;
  // An upload's sink, behind the session's WriteSink; `commit_started` once
  // its commit is handed to the committer (it must not be abandoned then).
  std::shared_ptr<UploadSink> sink;
  std::unique_ptr<tftp::WriteSink> sink_adapter;
  bool commit_started = false;
  // The response: a shared file mapping, bytes made for this request, or a
  // stream (see response_stream.h).
  SharedFile* file = nullptr;
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<ResponseStream> stream;
  uint64_t subscription = 0;
  // A stream that has not begun: no socket and no transfer yet; the request
  // is kept to be negotiated once it begins.
  bool waiting_for_source = false;
  // A file being mapped by the loader: no socket and no transfer yet.
  bool waiting_for_file = false;
  // The client sent anything on this transfer's socket: until then, what
  // is sent to it counts against its address's unverified budget.
  bool peer_answered = false;
  struct stat pending_info {};
  std::string pending_request;
  io::SocketAddress pending_source;
  io::SocketAddress pending_destination;
  // When the stream last delivered (a stalled one ends the transfer).
  io::TimePoint last_progress;
  RequestContext context;
  std::chrono::system_clock::time_point started_wall;
  absl::Span<const uint8_t> response;
  std::string filename;
  io::TimePoint started;
  io::DeadlineQueue::Slot timer;
  // Cleared when a GSO send failed for this transfer (e.g. its datagrams
  // exceed the path MTU): its windows then go out datagram by datagram.
  bool gso = true;
  // A request from this transfer's client that arrived while it was open.
  std::optional<ParkedRequest> parked;
  // RequestFingerprint of the request that opened the transfer.
  size_t request_fingerprint = 0;
};

struct Shard::SendSlot {
  uint32_t generation = 0;
  msghdr message{};
  // A header and its block per datagram; several datagrams with GSO.
  iovec iov[2 * kMaxSegments]{};
  io::SocketAddress to;
  SharedFile* file = nullptr;
  uint32_t session = kNoSession;
  uint32_t session_generation = 0;
  bool segmented = false;
  uint8_t header[tftp::kMinOutgoingBuffer];
  uint8_t more_headers[kMaxSegments - 1][tftp::kDataHeaderSize];
  alignas(cmsghdr) uint8_t
      control[CMSG_SPACE(sizeof(uint16_t)) + io::kSourceAddressControlSize];
};

// An upload's commit, reported by the committer. Plain values: an
// absl::Status would share its message between the two threads.
struct Shard::CommitOutcome {
  uint32_t index;
  uint32_t generation;
  bool ok;
  tftp::ErrorCode code;
  std::string message;
};

// A mapping the loader finished, for the session that asked.
struct Shard::LoadedFile {
  uint32_t index;
  uint32_t generation;
  struct stat info;
  const uint8_t* data;  // Null when mapping failed.
  int error;
};

Shard::Shard(int id, const ServerConfig& config, const RootDirectory& root,
             RequestHandler* handler, StatsDispatcher* stats,
             FileLoader* loader, AddressGuard* guard,
             const RootDirectory* write_root, UploadCommitter* committer,
             io::OpenedSocket service, bool owns_service)
    : id_(id),
      config_(config),
      root_(root),
      handler_(handler),
      write_root_(write_root),
      committer_(committer),
      stats_(stats),
      loader_(loader),
      guard_(guard),
      service_(service),
      owns_service_(owns_service),
      max_sessions_(std::max<size_t>(
          1, (config.max_sessions + config.threads - 1) / config.threads)),
      slots_(std::max<size_t>(config.send_slots, 16)) {
  // A pipe wakes the loop (a stop, a handed-over request): its read end has
  // a read armed in the backend at all times. Portable, unlike eventfd.
  int wake[2];
  if (pipe(wake) == 0) {
    for (int fd : wake) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    wake_fd_ = wake[0];
    wake_write_fd_ = wake[1];
  }
  free_slots_.reserve(slots_.size());
  for (uint32_t i = static_cast<uint32_t>(slots_.size()); i > 0; --i) {
    free_slots_.push_back(i - 1);
  }
}

Shard::~Shard() {
  for (Session& s : sessions_) {
    if (s.fd >= 0) close(s.fd);
    // The stream may outlive this shard (a cache holds it).
    if (s.stream != nullptr && s.subscription != 0) {
      s.stream->Unsubscribe(s.subscription);
    }
  }
  // Mappings the loader finished after the loop ended.
  for (const LoadedFile& l : loaded_) {
    if (l.data != nullptr) {
      munmap(const_cast<uint8_t*>(l.data), static_cast<size_t>(l.info.st_size));
    }
  }
  if (owns_service_ && service_.fd >= 0) close(service_.fd);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (wake_write_fd_ >= 0) close(wake_write_fd_);
}

void Shard::Wake() {
  // A full pipe already holds a wake-up: nothing is lost.
  const char one = 1;
  ssize_t unused = write(wake_write_fd_, &one, 1);
  (void)unused;
}

void Shard::HandOff(const io::Datagram& datagram) {
  {
    std::lock_guard<std::mutex> lock(handoff_mutex_);
    handed_.push_back(HandedRequest{
        std::string(reinterpret_cast<const char*>(datagram.payload.data()),
                    datagram.payload.size()),
        datagram.source, datagram.destination, datagram.truncated});
  }
  Wake();
}

void Shard::TakeHandedRequests() {
  std::vector<HandedRequest> handed;
  {
    std::lock_guard<std::mutex> lock(handoff_mutex_);
    handed.swap(handed_);
  }
  for (const HandedRequest& r : handed) {
    io::Datagram datagram;
    datagram.payload = absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(r.bytes.data()), r.bytes.size());
    datagram.source = r.source;
    datagram.destination = r.destination;
    datagram.truncated = r.truncated;
    OnServiceDatagram(datagram);
  }
}

void Shard::RequestStop(bool immediate) {
  int wanted = immediate ? 2 : 1;
  int current = stop_request_.load();
  while (current < wanted &&
         !stop_request_.compare_exchange_weak(current, wanted)) {
  }
  Wake();
}

void Shard::Run(const std::function<void(absl::Status)>& ready) {
  io::BackendOptions options;
  options.receive_buffers = 2048;
  options.receive_buffer_size = 2048;
  absl::StatusOr<io::CreatedBackend> backend =
      io::CreateBackend(config_.io_backend, options);
  if (!backend.ok()) {
    ready(backend.status());
    return;
  }
  if (wake_fd_ < 0) {
    ready(absl::ErrnoToStatus(errno, "pipe"));
    return;
  }
  backend_ = std::move(backend->backend);
  if (config_.faults.has_value()) {
    io::FaultPlan plan = *config_.faults;
    plan.seed += static_cast<uint64_t>(id_);
    backend_ = io::InjectFaults(std::move(backend_), plan);
    TFTPD_LOG(kWarning,
              "shard %d: injecting faults, for testing: loss=%g duplicate=%g "
              "reorder=%g seed=%d",
              id_, plan.loss, plan.duplicate, plan.reorder, plan.seed);
  }
  backend_name_ = std::string(backend_->name());
  fallback_reason_ = backend->fallback_reason;
  ready(absl::OkStatus());

  ArmServiceReceive();
  backend_->Read(wake_fd_, 0,
                 absl::MakeSpan(reinterpret_cast<uint8_t*>(&wake_buffer_),
                                sizeof wake_buffer_),
                 Tag(kWake, 0, 0));
  now_ = io::Clock::now();
  while (true) {
    FlushReady();
    if (stopping_ && ShutdownComplete()) break;
    // One clock read per batch: the completions of a batch arrived together.
    bool clock_read = false;
    absl::StatusOr<int> polled = backend_->Poll(
        NextDeadline(), [this, &clock_read](const io::Completion& c) {
          if (!clock_read) {
            now_ = io::Clock::now();
            clock_read = true;
          }
          OnCompletion(c);
        });
    if (!polled.ok()) {
      TFTPD_LOG(kError, "shard %d: %s", id_, polled.status().message());
      break;
    }
    now_ = io::Clock::now();
    FireTimers();
  }
  if (config_.faults.has_value()) {
    const io::FaultCounts faults = io::CountFaults(*backend_);
    TFTPD_LOG(kWarning,
              "shard %d injected faults: datagrams=%d lost=%d duplicated=%d "
              "delayed=%d",
              id_, faults.datagrams, faults.lost, faults.duplicated,
              faults.delayed);
  }
  // The ring belongs to this thread (IORING_SETUP_SINGLE_ISSUER): tear it
  // down here, which also ends whatever is still in flight.
  backend_.reset();
}

std::optional<io::TimePoint> Shard::NextDeadline() const {
  std::optional<io::TimePoint> deadline = timers_.earliest();
  if (stopping_) {
    const io::TimePoint limit = aborted_ ? exit_deadline_ : stop_deadline_;
    if (!deadline.has_value() || limit < *deadline) deadline = limit;
  }
  return deadline;
}

void Shard::OnCompletion(const io::Completion& completion) {
  const io::UserData tag = io::UserData::Unpack(completion.user_data);
  switch (tag.kind) {
    case kServiceReceive:
      OnServiceReceive(completion);
      break;
    case kSessionReceive:
      // A slot is reused only once nothing of its is in flight, so the
      // generation always matches; checking costs nothing and says so.
      if (tag.index < sessions_.size() &&
          tag.generation == (sessions_[tag.index].generation &
                             io::UserData::kGenerationMask)) {
        OnSessionReceive(tag.index, completion);
      }
      break;
    case kSend:
      if (tag.index < slots_.size() &&
          tag.generation ==
              (slots_[tag.index].generation & io::UserData::kGenerationMask)) {
        OnSendDone(tag.index, completion);
      }
      break;
    case kWake:
      OnWake();
      break;
    default:
      break;
  }
}

void Shard::ArmServiceReceive() {
  if (owns_service_) backend_->Receive(service_.fd, Tag(kServiceReceive, 0, 0));
}

void Shard::OnServiceReceive(const io::Completion& c) {
  if (c.datagram != nullptr) {
    if (handoff_targets_.size() > 1) {
      // One shard per client (by address and port), so that a repeated
      // request meets the transfer it repeats.
      const size_t target =
          absl::HashOf(c.datagram->source.Unmapped()) % handoff_targets_.size();
      if (handoff_targets_[target] != this) {
        handoff_targets_[target]->HandOff(*c.datagram);
      } else {
        OnServiceDatagram(*c.datagram);
      }
    } else {
      OnServiceDatagram(*c.datagram);
    }
  }
  if (c.result < 0 && c.result != -ECANCELED && c.result != -ENOBUFS) {
    TFTPD_LOG(kWarning, "shard %d: receive on the service socket: %s", id_,
              std::strerror(-c.result));
  }
  // Out of receive buffers (or any other end): the requests wait in the
  // socket's receive buffer until the receive is armed again. In single-port
  // mode the transfers' own packets come this way too, so it stays armed
  // while they finish.
  if (!c.more && (!stopping_ || config_.single_port)) ArmServiceReceive();
}

void Shard::OnServiceDatagram(const io::Datagram& datagram) {
  if (config_.single_port) {
    // A client's ACK, DATA or ERROR for its open transfer: told apart by
    // its address and port alone, as the transfer has no port of its own.
    const std::optional<tftp::Opcode> opcode =
        tftp::PeekOpcode(datagram.payload);
    if (opcode != tftp::Opcode::kRrq && opcode != tftp::Opcode::kWrq) {
      auto open = by_peer_.find(datagram.source.Unmapped());
      if (open != by_peer_.end()) {
        const Session& s = sessions_[open->second];
        if (s.shares_service && !s.finishing) {
          DeliverToSession(open->second, datagram);
          return;
        }
      }
    }
  }
  HandleRequest(datagram);
}

void Shard::HandleRequest(const io::Datagram& datagram) {
  Bump(counters_.requests_received);
  const std::optional<tftp::Opcode> opcode = tftp::PeekOpcode(datagram.payload);
  if (opcode != tftp::Opcode::kRrq && opcode != tftp::Opcode::kWrq) {
    // Never answer stray DATA, ACK or garbage: answering would make the
    // service port a reflector.
    Bump(counters_.ignored_datagrams);
    return;
  }
  if (stopping_) return;
  Bump(opcode == tftp::Opcode::kRrq ? counters_.read_requests
                                    : counters_.write_requests);
  if (!guard_->AllowRequest(datagram.source, now_)) {
    Refuse(datagram.source, datagram.destination, tftp::ErrorCode::kNotDefined,
           "too many requests from this address",
           RefusalReason::k_rate_limited);
    return;
  }
  if (datagram.truncated) {
    Refuse(datagram.source, datagram.destination,
           tftp::ErrorCode::kIllegalOperation, "request too long",
           RefusalReason::k_malformed);
    return;
  }
  tftp::Request request;
  if (tftp::ProtocolStatus s = tftp::ParseRequest(datagram.payload, &request);
      !s.ok()) {
    Refuse(datagram.source, datagram.destination, s.code, s.message,
           RefusalReason::k_malformed);
    return;
  }
  const io::SocketAddress peer_key = datagram.source.Unmapped();
  if (auto open = by_peer_.find(peer_key); open != by_peer_.end()) {
    // Either the client repeated its request before our answer reached it
    // (the open transfer answers by retransmission), or it already ended
    // that transfer and starts a new one from the same port, and its last
    // packet (the final ACK, UEFI's ERROR 8 after the size probe) is still
    // to be read from the transfer's socket. Keep the request until the
    // open transfer tells which: if it hears from the client again, this
    // was a repeat; if it ends first, this is the next transfer.
    Session& open_session = sessions_[open->second];
    if (open_session.waiting_for_source || open_session.waiting_for_file) {
      // Its first answer is still being made: nothing can have ended.
      Bump(counters_.duplicate_requests);
      return;
    }
    if (open_session.peer_answered && !open_session.finishing &&
        open_session.transfer->SentEverything() &&
        RequestFingerprint(request) != open_session.request_fingerprint) {
      // The client has had every block of that transfer and now asks for
      // something else from the same port: it is done with it (its last ACK
      // was lost, or it never dallies). Waiting for the old transfer's retries
      // would hold the new one up for their whole schedule, and the old
      // transfer's DATA would reach the new one's client meanwhile.
      open_session.parked.reset();
      open_session.transfer->Supersede();
      Finish(open->second);
      StartTransfer(datagram, request);
      return;
    }
    open_session.parked = ParkedRequest{
        std::string(reinterpret_cast<const char*>(datagram.payload.data()),
                    datagram.payload.size()),
        datagram.source, datagram.destination,
        open_session.transfer->counters().packets_received};
    return;
  }
  StartTransfer(datagram, request);
}

// What a session sends, once the handler has answered.
struct Shard::Prepared {
  enum class Kind : uint8_t { kFile, kBytes, kStream } kind = Kind::kFile;
  SharedFile* file = nullptr;
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<ResponseStream> stream;
  absl::Span<const uint8_t> response;
  // The size announced in tsize, when known.
  std::optional<uint64_t> announced_size;
  // Every byte of `response` is there now (files, bytes); a stream's arrive.
  bool all_available = true;
  // A file not mapped yet: the loader maps it while the session waits.
  int load_fd = -1;
  struct stat load_info {};
};

void Shard::StartTransfer(const io::Datagram& datagram,
                          const tftp::Request& request) {
  const io::SocketAddress peer_key = datagram.source.Unmapped();
  const std::string filename(request.filename);
  const bool upload = request.opcode == tftp::Opcode::kWrq;
  if (upload && committer_ == nullptr) {
    RefuseRequest(datagram.source, datagram.destination, filename,
                  tftp::ErrorCode::kIllegalOperation, "uploads are disabled",
                  RefusalReason::k_uploads_disabled);
    return;
  }
  if (active_ >= max_sessions_) {
    Refuse(datagram.source, datagram.destination, tftp::ErrorCode::kNotDefined,
           "server busy, try again", RefusalReason::k_busy);
    return;
  }
  if (!guard_->SessionAllowed(peer_key)) {
    Refuse(datagram.source, datagram.destination, tftp::ErrorCode::kNotDefined,
           "too many transfers from this address",
           RefusalReason::k_per_address);
    return;
  }
  RequestContext context;
  context.requested_path = filename;
  context.path = filename;
  context.peer = peer_key;
  context.server_address = datagram.destination.family() == AF_UNSPEC
                               ? service_.bound
                               : datagram.destination.Unmapped();
  context.mode = request.mode;
  context.shard = id_;
  for (const tftp::RawOption& option : request.options.view()) {
    context.options.emplace_back(absl::AsciiStrToLower(option.name),
                                 std::string(option.value));
  }
  if (config_.remap != nullptr) {
    if (std::shared_ptr<const RemapRules> rules = config_.remap->get()) {
      RemapRules::Result mapped =
          rules->Apply(filename, /*write=*/upload, peer_key);
      if (mapped.refused) {
        RefuseRequest(datagram.source, datagram.destination, filename,
                      tftp::ErrorCode::kAccessViolation, mapped.message,
                      RefusalReason::k_remap_denied);
        return;
      }
      context.path = std::move(mapped.path);
    }
  }
  if (upload) {
    StartUpload(datagram, request, std::move(context));
    return;
  }
  std::optional<Response> response;
  try {
    response.emplace(handler_->Handle(context));
  } catch (const std::exception& e) {
    TFTPD_LOG(kWarning, "request handler threw for peer=%s file=%s: %s",
              peer_key.ToString(), filename, e.what());
    response.emplace(Response::Refuse(tftp::ErrorCode::kNotDefined,
                                      "request handler failed"));
  } catch (...) {
    response.emplace(Response::Refuse(tftp::ErrorCode::kNotDefined,
                                      "request handler failed"));
  }
  Prepared prepared;
  if (!Prepare(datagram, request, context, std::move(*response), &prepared)) {
    return;
  }
  if (prepared.load_fd >= 0) {
    // Mapped and read in by the loader; meanwhile the shard goes on.
    const uint32_t index = StartWaiting(datagram, std::move(context));
    Session& s = sessions_[index];
    s.waiting_for_file = true;
    s.pending_info = prepared.load_info;
    const uint32_t generation = s.generation;
    const struct stat info = prepared.load_info;
    loader_->Load(
        prepared.load_fd, static_cast<size_t>(info.st_size),
        [this, index, generation, info](const uint8_t* data, int error) {
          PostFileLoaded(LoadedFile{index, generation, info, data, error});
        });
    return;
  }
  if (prepared.kind == Prepared::Kind::kStream) {
    const ResponseStream::State state = prepared.stream->state();
    if (!state.begun && !state.failed) {
      // The source is still working on it: wait, holding no socket and no
      // shard time, until it begins, fails or takes too long. The client's
      // repeats of the request meanwhile are recognised as repeats.
      const uint32_t index = StartWaiting(datagram, std::move(context));
      Session& s = sessions_[index];
      s.waiting_for_source = true;
      s.stream = prepared.stream;
      const uint32_t generation = s.generation;
      s.subscription = s.stream->Subscribe(
          [this, index, generation] { PostSourceProgress(index, generation); });
      // It may have begun between state() and Subscribe.
      PostSourceProgress(index, generation);
      return;
    }
  }
  Launch(datagram.source, datagram.destination, request, std::move(context),
         std::move(prepared), std::nullopt);
}

uint32_t Shard::StartWaiting(const io::Datagram& datagram,
                             RequestContext context) {
  const uint32_t index = AllocateSession();
  Session& s = sessions_[index];
  s.active = true;
  s.peer = datagram.source.Unmapped();
  s.context = std::move(context);
  s.pending_request =
      std::string(reinterpret_cast<const char*>(datagram.payload.data()),
                  datagram.payload.size());
  s.pending_source = datagram.source;
  s.pending_destination = datagram.destination;
  s.started = now_;
  s.started_wall = std::chrono::system_clock::now();
  s.last_progress = now_;
  by_peer_[s.peer] = index;
  ++active_;
  guard_->AddSession(s.peer);
  counters_.sessions_active.store(active_, std::memory_order_relaxed);
  timers_.Schedule(index, s.generation, now_ + config_.source_timeout,
                   &s.timer);
  return index;
}

void Shard::PostFileLoaded(const LoadedFile& loaded) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(handoff_mutex_);
    first = loaded_.empty();
    loaded_.push_back(loaded);
  }
  if (first) Wake();
}

void Shard::TakeLoadedFiles() {
  std::vector<LoadedFile> loaded;
  {
    std::lock_guard<std::mutex> lock(handoff_mutex_);
    loaded.swap(loaded_);
  }
  for (const LoadedFile& l : loaded) {
    SharedFile* file =
        l.data != nullptr ? files_.Adopt(l.info, l.data) : nullptr;
    Session* s = l.index < sessions_.size() ? &sessions_[l.index] : nullptr;
    if (s == nullptr || !s->active || s->finishing ||
        s->generation != l.generation || !s->waiting_for_file) {
      if (file != nullptr) files_.Release(file);  // Its client is gone.
      continue;
    }
    const io::SocketAddress source = s->pending_source;
    const io::SocketAddress local = s->pending_destination;
    const std::string filename = s->context.requested_path;
    if (file == nullptr) {
      TFTPD_LOG(kWarning, "shard %d: mapping %s: %s", id_, filename,
                std::strerror(l.error));
      EndWaiting(l.index);
      RefuseRequest(source, local, filename, tftp::ErrorCode::kNotDefined,
                    "cannot read file", RefusalReason::k_resources);
      continue;
    }
    Prepared prepared;
    if (!UseFile(file, s->context.mode == tftp::TransferMode::kNetascii, source,
                 local, filename, &prepared)) {
      EndWaiting(l.index);
      continue;
    }
    s->waiting_for_file = false;
    Resume(l.index, std::move(prepared));
  }
}

void Shard::Resume(uint32_t index, Prepared prepared) {
  const Session& s = sessions_[index];
  // The request parsed when it came; it is parsed again from its copy.
  const std::string bytes = s.pending_request;
  tftp::Request request;
  if (!tftp::ParseRequest(
           absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                               bytes.size()),
           &request)
           .ok()) {
    if (prepared.file != nullptr) files_.Release(prepared.file);
    EndWaiting(index);
    return;
  }
  const io::SocketAddress source = s.pending_source;
  const io::SocketAddress destination = s.pending_destination;
  RequestContext context = s.context;
  Launch(source, destination, request, std::move(context), std::move(prepared),
         index);
}

void Shard::UseStream(std::shared_ptr<ResponseStream> stream, Prepared* out) {
  out->kind = Prepared::Kind::kStream;
  out->response = absl::MakeConstSpan(stream->data(), stream->max_size());
  out->stream = std::move(stream);
  out->all_available = false;
}

bool Shard::UseFile(SharedFile* file, bool netascii,
                    const io::SocketAddress& to, const io::SocketAddress& from,
                    const std::string& filename, Prepared* out) {
  out->kind = Prepared::Kind::kFile;
  out->file = file;
  out->response = file->bytes();
  if (netascii) {
    const absl::StatusOr<const std::vector<uint8_t>*> image =
        file->NetasciiImage(config_.max_netascii_size);
    if (!image.ok()) {
      files_.Release(file);
      out->file = nullptr;
      RefuseRequest(to, from, filename, tftp::ErrorCode::kNotDefined,
                    image.status().message(),
                    absl::IsResourceExhausted(image.status())
                        ? RefusalReason::k_unsupported
                        : RefusalReason::k_file_changed);
      return false;
    }
    out->response = absl::MakeConstSpan(**image);
  }
  // An empty response is announced without tsize: curl (lib/tftp.c,
  // tftp_parse_option_ack) fails any download whose OACK says "tsize 0",
  // and the empty first block tells every client the size anyway.
  if (!out->response.empty()) out->announced_size = out->response.size();
  return true;
}

bool Shard::Prepare(const io::Datagram& datagram, const tftp::Request& request,
                    const RequestContext& context, Response response,
                    Prepared* out) {
  const std::string& filename = context.requested_path;
  const bool netascii = request.mode == tftp::TransferMode::kNetascii;
  switch (response.kind()) {
    case Response::Kind::kRefusal:
      RefuseRequest(datagram.source, datagram.destination, filename,
                    response.error_code(), response.text(),
                    RefusalReason::k_handler);
      return false;
    case Response::Kind::kFile: {
      OpenedFile opened = root_.OpenFile(response.text());
      if (!opened.ok()) {
        RefuseRequest(datagram.source, datagram.destination, filename,
                      opened.error, opened.message,
                      opened.error == tftp::ErrorCode::kFileNotFound
                          ? RefusalReason::k_not_found
                          : RefusalReason::k_access_denied);
        return false;
      }
      SharedFile* file = files_.Find(opened.info);
      if (file == nullptr && opened.info.st_size == 0) {
        file = files_.Adopt(opened.info, nullptr);  // Nothing to map.
      }
      if (file == nullptr) {
        // A version no transfer on this shard has mapped: the loader maps it.
        out->kind = Prepared::Kind::kFile;
        out->load_fd = opened.fd;
        out->load_info = opened.info;
        return true;
      }
      close(opened.fd);
      return UseFile(file, netascii, datagram.source, datagram.destination,
                     filename, out);
    }
    case Response::Kind::kBytes: {
      std::string bytes = std::move(response.mutable_text());
      if (netascii) {
        const auto raw = absl::MakeConstSpan(
            reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        std::string encoded(tftp::NetasciiEncodedSize(raw), '\0');
        tftp::NetasciiEncoder encoder;
        encoder.Encode(
            raw, absl::MakeSpan(reinterpret_cast<uint8_t*>(encoded.data()),
                                encoded.size()));
        bytes = std::move(encoded);
      }
      out->kind = Prepared::Kind::kBytes;
      out->bytes = std::make_shared<const std::string>(std::move(bytes));
      out->response = absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(out->bytes->data()),
          out->bytes->size());
      break;
    }
    case Response::Kind::kStream: {
      if (netascii) {
        RefuseRequest(datagram.source, datagram.destination, filename,
                      tftp::ErrorCode::kNotDefined,
                      "netascii mode is not offered for this file",
                      RefusalReason::k_unsupported);
        return false;
      }
      const ResponseStream::State state = response.stream()->state();
      if (state.failed && !state.begun) {
        RefuseRequest(datagram.source, datagram.destination, filename,
                      state.error_code, state.error_message,
                      RefusalReason::k_source_failed);
        return false;
      }
      UseStream(response.stream(), out);
      return true;
    }
  }
  // An empty response is announced without tsize: curl (lib/tftp.c,
  // tftp_parse_option_ack) fails any download whose OACK says "tsize 0",
  // and the empty first block tells every client the size anyway.
  if (!out->response.empty()) out->announced_size = out->response.size();
  return true;
}

void Shard::Launch(const io::SocketAddress& source,
                   const io::SocketAddress& destination,
                   const tftp::Request& request, RequestContext context,
                   Prepared prepared, std::optional<uint32_t> index) {
  const io::SocketAddress peer_key = source.Unmapped();
  auto give_up = [&](tftp::ErrorCode code, absl::string_view message,
                     RefusalReason reason) {
    if (prepared.file != nullptr) files_.Release(prepared.file);
    if (index.has_value()) EndWaiting(*index);
    RefuseRequest(source, destination, context.requested_path, code, message,
                  reason);
  };
  if (prepared.kind == Prepared::Kind::kStream) {
    const ResponseStream::State state = prepared.stream->state();
    if (state.size.has_value() && *state.size > 0) {
      prepared.announced_size = state.size;
    }
  }
  tftp::NegotiatedOptions negotiated;
  if (tftp::ProtocolStatus s = tftp::NegotiateOptions(
          request, config_.limits, prepared.announced_size, &negotiated);
      !s.ok()) {
    give_up(s.code, s.message, RefusalReason::k_options);
    return;
  }
  io::SocketAddress peer;
  absl::StatusOr<io::OpenedSocket> socket =
      OpenTransferSocket(source, destination, &peer);
  if (!socket.ok()) {
    TFTPD_LOG(kWarning, "shard %d: %s", id_, socket.status().message());
    give_up(tftp::ErrorCode::kNotDefined, "out of sockets",
            RefusalReason::k_resources);
    return;
  }
  const bool fresh = !index.has_value();
  const uint32_t i = fresh ? AllocateSession() : *index;
  Session& s = sessions_[i];
  s.active = true;
  s.waiting_for_source = false;
  s.waiting_for_file = false;
  s.peer_answered = false;
  s.pending_request.clear();
  s.request_fingerprint = RequestFingerprint(request);
  s.fd = socket->fd;
  s.shares_service = config_.single_port;
  s.local = socket->bound;
  s.peer = peer;
  s.file = prepared.file;
  s.bytes = std::move(prepared.bytes);
  s.response = prepared.response;
  s.filename = context.requested_path;
  s.context = std::move(context);
  if (fresh) {
    s.started = now_;
    s.started_wall = std::chrono::system_clock::now();
    s.stream = prepared.stream;
  }
  s.last_progress = now_;
  auto reading = std::make_unique<tftp::ReadSession>(
      config_.session, negotiated,
      prepared.all_available ? std::optional<uint64_t>(prepared.response.size())
                             : std::nullopt);
  s.reading = reading.get();
  s.transfer = std::move(reading);
  if (fresh) {
    by_peer_[peer_key] = i;
    ++active_;
    guard_->AddSession(peer_key);
    counters_.sessions_active.store(active_, std::memory_order_relaxed);
  }
  Bump(counters_.sessions_started);
  TFTPD_LOG(kDebug, "RRQ peer=%s file=%s mode=%s options=%d", peer.ToString(),
            s.filename, std::string(tftp::TransferModeName(request.mode)),
            static_cast<int>(request.options.count));
  if (!s.shares_service) ArmSessionReceive(i);
  s.transfer->Start(now_);
  if (s.stream != nullptr) {
    if (s.subscription == 0) {
      const uint32_t generation = s.generation;
      s.subscription = s.stream->Subscribe(
          [this, i, generation] { PostSourceProgress(i, generation); });
    }
    OnSourceProgress(i);  // What arrived already.
    return;
  }
  AfterInput(i);
}

void Shard::PostSourceProgress(uint32_t index, uint32_t generation) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(handoff_mutex_);
    first = source_progress_.empty();
    source_progress_.emplace_back(index, generation);
  }
  if (first) Wake();
}

void Shard::TakeSourceProgress() {
  std::vector<std::pair<uint32_t, uint32_t>> progress;
  {
    std::lock_guard<std::mutex> lock(handoff_mutex_);
    progress.swap(source_progress_);
  }
  for (const auto& [index, generation] : progress) {
    if (index >= sessions_.size()) continue;
    Session& s = sessions_[index];
    if (!s.active || s.finishing || s.generation != generation ||
        s.stream == nullptr) {
      continue;
    }
    OnSourceProgress(index);
  }
}

void Shard::OnSourceProgress(uint32_t index) {
  Session& s = sessions_[index];
  const ResponseStream::State state = s.stream->Acknowledge(s.subscription);
  if (s.waiting_for_source) {
    if (state.failed) {
      const io::SocketAddress source = s.pending_source;
      const io::SocketAddress local = s.pending_destination;
      const std::string filename = s.context.requested_path;
      EndWaiting(index);
      RefuseRequest(source, local, filename, state.error_code,
                    state.error_message, RefusalReason::k_source_failed);
      return;
    }
    if (!state.begun) return;
    Prepared prepared;
    UseStream(s.stream, &prepared);
    Resume(index, std::move(prepared));
    return;
  }
  if (state.failed) {
    s.transfer->Abort(state.error_code, state.error_message);
  } else {
    s.reading->OnDataAvailable(state.available, state.complete, now_);
    s.last_progress = now_;
  }
  AfterInput(index);
}

void Shard::EndWaiting(uint32_t index) {
  Session& s = sessions_[index];
  by_peer_.erase(s.peer);
  --active_;
  guard_->EndSession(s.peer);
  counters_.sessions_active.store(active_, std::memory_order_relaxed);
  s.finishing = true;
  MaybeRelease(index);
}

void Shard::RefuseRequest(const io::SocketAddress& to,
                          const io::SocketAddress& from,
                          const std::string& filename, tftp::ErrorCode code,
                          absl::string_view message, RefusalReason reason) {
  TFTPD_LOG(kInfo, "refused request peer=%s file=%s reason=%s: error %d %s",
            to.Unmapped().ToString(), filename,
            std::string(RefusalReasonName(reason)), static_cast<int>(code),
            std::string(message));
  Refuse(to, from, code, message, reason);
}

void Shard::Refuse(const io::SocketAddress& to, const io::SocketAddress& from,
                   tftp::ErrorCode code, absl::string_view message,
                   RefusalReason reason) {
  Bump(counters_.requests_refused);
  Bump(counters_.refused_by_reason[static_cast<size_t>(reason)]);
  SendError(service_.fd, to, &from, code, message, std::nullopt);
}

void Shard::SendError(int fd, const io::SocketAddress& to,
                      const io::SocketAddress* from, tftp::ErrorCode code,
                      absl::string_view message,
                      std::optional<uint32_t> session) {
  if (free_slots_.empty()) return;  // Saturated: dropping an ERROR is safe.
  const uint32_t slot_index = free_slots_.back();
  SendSlot& slot = slots_[slot_index];
  const size_t size = tftp::EncodeError(slot.header, code, message);
  // An ERROR to a request's address counts as sent to an address that has
  // not answered (a transfer's own ERRORs are gated like its other packets).
  const bool answered =
      session.has_value() && sessions_[*session].peer_answered;
  if (!answered &&
      !guard_->AllowUnverified(to, static_cast<uint32_t>(size), now_)) {
    Bump(counters_.amplification_drops);
    return;
  }
  free_slots_.pop_back();
  slot.iov[0] = {slot.header, size};
  slot.to = to;
  slot.message = {};
  slot.message.msg_name = slot.to.mutable_get();
  slot.message.msg_namelen = slot.to.length();
  slot.message.msg_iov = slot.iov;
  slot.message.msg_iovlen = 1;
  if (from != nullptr) {
    // From the service socket, which may be bound to a wildcard address:
    // leave from the address the request reached, or a client behind a NAT
    // or on another of the host's networks never sees the ERROR.
    slot.message.msg_control = slot.control;
    io::AppendSourceAddress(&slot.message, sizeof slot.control, *from);
    if (slot.message.msg_controllen == 0) slot.message.msg_control = nullptr;
  }
  slot.session = session.value_or(kNoSession);
  if (session.has_value()) {
    Session& s = sessions_[*session];
    slot.session_generation = s.generation;
    ++s.inflight;
  }
  backend_->Send(fd, &slot.message, Tag(kSend, slot_index, slot.generation));
}

uint32_t Shard::AllocateSession() {
  if (!free_sessions_.empty()) {
    const uint32_t index = free_sessions_.back();
    free_sessions_.pop_back();
    return index;
  }
  sessions_.emplace_back();
  return static_cast<uint32_t>(sessions_.size() - 1);
}

void Shard::ArmSessionReceive(uint32_t index) {
  Session& s = sessions_[index];
  backend_->Receive(s.fd, Tag(kSessionReceive, index, s.generation));
  s.receive_armed = true;
  ++s.inflight;
}

void Shard::OnSessionReceive(uint32_t index, const io::Completion& c) {
  Session& s = sessions_[index];
  if (c.datagram != nullptr && !s.finishing) {
    if (c.datagram->source != s.peer) {
      // Another client reached this transfer's port (RFC 1350: ERROR 5);
      // the transfer carries on undisturbed.
      Bump(counters_.unknown_tid_packets);
      SendError(s.fd, c.datagram->source, nullptr,
                tftp::ErrorCode::kUnknownTransferId, "unknown transfer ID",
                index);
    } else {
      DeliverToSession(index, *c.datagram);
    }
  }
  if (!c.more) {
    --s.inflight;
    s.receive_armed = false;
    if (!s.finishing) {
      ArmSessionReceive(index);
    } else {
      MaybeRelease(index);
    }
  }
}

void Shard::DeliverToSession(uint32_t index, const io::Datagram& datagram) {
  Session& s = sessions_[index];
  Bump(counters_.packets_received);
  if (!s.peer_answered) {
    // The client is where its request said: not a spoofed address.
    s.peer_answered = true;
    guard_->Verified(s.peer, now_);
  }
  s.transfer->OnDatagram(datagram.payload, now_);
  if (s.parked.has_value() && !s.transfer->finished() &&
      s.transfer->counters().packets_received > s.parked->heard_before) {
    // The client answered this transfer after the request came: the
    // request was a repeat of the one that opened it.
    s.parked.reset();
    Bump(counters_.duplicate_requests);
  }
  AfterInput(index);
}

void Shard::AfterInput(uint32_t index) {
  Session& s = sessions_[index];
  if (s.finishing) return;
  if (s.writing != nullptr && s.writing->committing() && !s.commit_started) {
    StartCommit(index);
  }
  if (s.transfer->HasOutgoing()) {
    if (!s.in_ready) {
      s.in_ready = true;
      ready_.push_back(index);
    }
    return;
  }
  if (s.transfer->finished()) {
    Finish(index);
  } else {
    Schedule(index);
  }
}

void Shard::FlushReady() {
  while (!ready_.empty()) {
    const uint32_t index = ready_.front();
    Session& s = sessions_[index];
    while (!s.finishing && s.transfer->HasOutgoing()) {
      if (free_slots_.empty()) return;  // Sends complete, slots come back.
      SendNext(index);
    }
    ready_.pop_front();
    s.in_ready = false;
    if (s.finishing) {
      // It ended while waiting here (its final ACK came behind packets that
      // queued resends); its slot was kept until now.
      MaybeRelease(index);
    } else {
      AfterInput(index);
    }
  }
}

void Shard::SendNext(uint32_t index) {
  Session& s = sessions_[index];
  const uint32_t slot_index = free_slots_.back();
  SendSlot& slot = slots_[slot_index];
  const tftp::Outgoing out = s.transfer->NextOutgoing(slot.header);
  if (out.header_size == 0) return;
  free_slots_.pop_back();
  size_t iov_count = 0;
  // Straight from the shared mapping: no copy of file bytes in user space.
  auto add = [&](uint8_t* header, const tftp::Outgoing& packet) {
    slot.iov[iov_count++] = {header, packet.header_size};
    if (packet.payload_size > 0) {
      slot.iov[iov_count++] = {
          const_cast<uint8_t*>(s.response.data() + packet.payload_offset),
          packet.payload_size};
    }
    Bump(counters_.packets_sent);
    Bump(counters_.bytes_sent, packet.payload_size);
    if (packet.retransmission) Bump(counters_.retransmits);
  };
  add(slot.header, out);
  // The rest of a window joins the first block in one UDP GSO send: every
  // datagram but the last is a full block, as GSO requires.
  const size_t blksize = s.transfer->options().blksize;
  const size_t segment = tftp::kDataHeaderSize + blksize;
  size_t segments = 1;
  if (kGsoBuilt && gso_ && s.gso && out.opcode == tftp::Opcode::kData &&
      out.payload_size == blksize) {
    while (segments < kMaxSegments && s.transfer->NextIsData() &&
           (segments + 1) * segment <= kMaxGsoBytes) {
      uint8_t* header = slot.more_headers[segments - 1];
      const tftp::Outgoing next = s.transfer->NextOutgoing(
          absl::MakeSpan(header, tftp::kDataHeaderSize));
      add(header, next);
      ++segments;
      if (next.payload_size < blksize) break;  // The last block of the file.
    }
  }
  if (out.payload_size > 0 && s.file != nullptr) {
    slot.file = s.file;
    files_.Retain(s.file);
  }
  slot.to = s.peer;
  slot.message = {};
  slot.message.msg_name = slot.to.mutable_get();
  slot.message.msg_namelen = slot.to.length();
  slot.message.msg_iov = slot.iov;
  slot.message.msg_iovlen = iov_count;
  slot.segmented = segments > 1;
  slot.message.msg_control = slot.control;
  slot.message.msg_controllen = 0;
  if (slot.segmented) {
    io::AppendSegmentSize(&slot.message, sizeof slot.control,
                          static_cast<uint16_t>(segment));
  }
  if (s.shares_service) {
    // The service socket may be bound to a wildcard address: leave from the
    // address the client sent to, or a NAT or firewall drops the reply.
    io::AppendSourceAddress(&slot.message, sizeof slot.control, s.local);
  }
  if (slot.message.msg_controllen == 0) slot.message.msg_control = nullptr;
  if (!s.peer_answered) {
    size_t bytes = 0;
    for (size_t i = 0; i < iov_count; ++i) bytes += slot.iov[i].iov_len;
    if (!guard_->AllowUnverified(s.peer, static_cast<uint32_t>(bytes), now_)) {
      // An address that has not answered has had its share: this goes
      // unsent (the transfer's retransmission timer tries again, and ends
      // it after its retries), so a spoofed request cannot flood a victim.
      Bump(counters_.amplification_drops);
      if (slot.file != nullptr) {
        files_.Release(slot.file);
        slot.file = nullptr;
      }
      free_slots_.push_back(slot_index);
      return;
    }
  }
  slot.session = index;
  slot.session_generation = s.generation;
  ++s.inflight;
  backend_->Send(s.fd, &slot.message, Tag(kSend, slot_index, slot.generation));
}

void Shard::OnSendDone(uint32_t slot_index, const io::Completion& c) {
  SendSlot& slot = slots_[slot_index];
  if (c.result < 0) {
    Bump(counters_.send_errors);
    TFTPD_LOG(kDebug, "shard %d: send to %s: %s", id_, slot.to.ToString(),
              std::strerror(-c.result));
    if (slot.segmented && slot.session != kNoSession) {
      // The lost window is sent again, datagram by datagram, when the
      // transfer's retransmission timer fires. EIO: the device cannot
      // checksum GSO sends, so no transfer of this shard uses them any more.
      sessions_[slot.session].gso = false;
      if (c.result == -EIO && gso_) {
        gso_ = false;
        TFTPD_LOG(kWarning,
                  "shard %d: UDP GSO sends fail (%s); sending "
                  "windows datagram by datagram",
                  id_, std::strerror(-c.result));
      }
    }
  }
  if (slot.file != nullptr) {
    files_.Release(slot.file);
    slot.file = nullptr;
  }
  if (slot.session != kNoSession) {
    const uint32_t index = slot.session;
    Session& s = sessions_[index];
    --s.inflight;
    if (c.result == -EFAULT && !s.finishing) {
      // The file shrank under its mapping (rewritten in place).
      s.transfer->Abort(tftp::ErrorCode::kNotDefined,
                        "file changed while being sent");
      AfterInput(index);
    }
    MaybeRelease(index);
    slot.session = kNoSession;
  }
  ++slot.generation;
  free_slots_.push_back(slot_index);
}

void Shard::Schedule(uint32_t index) {
  Session& s = sessions_[index];
  std::optional<io::TimePoint> deadline = s.transfer->deadline();
  if (!deadline.has_value() &&
      (s.stream != nullptr ||
       (s.writing != nullptr && s.writing->committing()))) {
    // Waiting for the stream's next bytes, or for an upload's commit:
    // bounded by the source timeout.
    deadline = s.last_progress + config_.source_timeout;
  }
  if (deadline.has_value()) {
    timers_.Schedule(index, s.generation, *deadline, &s.timer);
  }
}

void Shard::FireTimers() {
  timers_.PopDue(
      now_,
      [this](uint32_t index, uint32_t generation) -> io::DeadlineQueue::Slot* {
        Session& s = sessions_[index];
        if (!s.active || s.finishing || s.generation != generation) {
          return nullptr;
        }
        return &s.timer;
      },
      [this](uint32_t index) {
        Session& s = sessions_[index];
        if (s.waiting_for_source || s.waiting_for_file) {
          if (now_ < s.started + config_.source_timeout) {
            timers_.Schedule(index, s.generation,
                             s.started + config_.source_timeout, &s.timer);
            return;
          }
          const io::SocketAddress source = s.pending_source;
          const io::SocketAddress local = s.pending_destination;
          const std::string filename = s.context.requested_path;
          EndWaiting(index);
          const bool file = s.waiting_for_file;
          RefuseRequest(source, local, filename, tftp::ErrorCode::kNotDefined,
                        file ? "file could not be read in time"
                             : "response source did not answer in time",
                        file ? RefusalReason::k_resources
                             : RefusalReason::k_source_failed);
          return;
        }
        s.transfer->OnDeadline(now_);  // Does nothing if it is not yet due.
        if (s.stream != nullptr && !s.transfer->finished() &&
            !s.transfer->deadline().has_value() &&
            now_ >= s.last_progress + config_.source_timeout) {
          s.transfer->Abort(tftp::ErrorCode::kNotDefined,
                            "response source stalled");
        }
        if (s.writing != nullptr && s.writing->committing() &&
            now_ >= s.last_progress + config_.source_timeout) {
          s.writing->OnCommitFailed(tftp::ErrorCode::kNotDefined,
                                    "the upload could not be stored in time");
        }
        AfterInput(index);
      });
}

void Shard::Finish(uint32_t index) {
  Session& s = sessions_[index];
  if (s.finishing) return;
  s.finishing = true;
  const tftp::SessionResult& result = s.transfer->result();
  const tftp::SessionCounters& counters = s.transfer->counters();
  Bump(counters_.sessions_finished);
  if (EndedByError(result.outcome)) {
    Bump(counters_.failed_by_code[ErrorCodeBucket(result.error_code)]);
  }
  if (stats_ != nullptr && stats_->wants_sessions()) PostSessionStats(s);
  switch (result.outcome) {
    case tftp::SessionOutcome::kCompleted:
      Bump(counters_.sessions_completed);
      break;
    case tftp::SessionOutcome::kPeerError:
      Bump(counters_.sessions_peer_error);
      break;
    case tftp::SessionOutcome::kTimedOut:
      Bump(counters_.sessions_timed_out);
      break;
    case tftp::SessionOutcome::kProtocolError:
      Bump(counters_.sessions_protocol_error);
      break;
    case tftp::SessionOutcome::kSuperseded:
      Bump(counters_.sessions_superseded);
      break;
    default:
      Bump(counters_.sessions_aborted);
      break;
  }
  if (LogEnabled(LogLevel::kInfo)) {
    std::string error;
    if (EndedByError(result.outcome)) {
      error = absl::StrCat(" error=", result.error_code, " message=\"",
                           result.error_message, "\"");
    }
    const tftp::NegotiatedOptions& options = s.transfer->options();
    WriteLogLine(
        LogLevel::kInfo,
        absl::StrFormat("transfer peer=%s file=%s outcome=%s bytes=%d "
                        "size=%d duration=%.3fs blksize=%d windowsize=%d "
                        "retransmits=%d%s%s",
                        s.peer.ToString(), s.filename,
                        tftp::SessionOutcomeName(result.outcome),
                        counters.bytes_transferred,
                        s.writing != nullptr  ? counters.bytes_transferred
                        : s.stream != nullptr ? s.stream->state().available
                                              : s.response.size(),
                        Seconds(now_ - s.started), options.blksize,
                        options.windowsize, counters.retransmits, error,
                        s.writing != nullptr ? " upload" : ""));
  }
  if (s.sink != nullptr && !s.commit_started) {
    // Ended before every block came: nothing of it may remain.
    committer_->Abandon(std::move(s.sink));
  }
  by_peer_.erase(s.peer.Unmapped());
  if (s.receive_armed) {
    backend_->Cancel(Tag(kSessionReceive, index, s.generation));
  }
  --active_;
  guard_->EndSession(s.peer);
  counters_.sessions_active.store(active_, std::memory_order_relaxed);
  std::optional<ParkedRequest> next = std::move(s.parked);
  s.parked.reset();
  MaybeRelease(index);
  if (next.has_value()) {
    // The transfer ended before its client spoke again: the request that
    // came meanwhile starts the client's next transfer, with no wait.
    io::Datagram datagram;
    datagram.payload = absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(next->bytes.data()),
        next->bytes.size());
    datagram.source = next->source;
    datagram.destination = next->destination;
    tftp::Request request;
    if (tftp::ParseRequest(datagram.payload, &request).ok()) {
      StartTransfer(datagram, request);  // It parsed when it came.
    }
  }
}

void Shard::PostSessionStats(const Session& s) {
  const tftp::SessionResult& result = s.transfer->result();
  const tftp::SessionCounters& counters = s.transfer->counters();
  const tftp::NegotiatedOptions& options = s.transfer->options();
  SessionStats stats;
  stats.peer = s.peer.Unmapped();
  stats.server_address = s.context.server_address;
  stats.upload = s.writing != nullptr;
  stats.requested_path = s.context.requested_path;
  stats.path = s.context.path;
  stats.shard = id_;
  stats.outcome = std::string(tftp::SessionOutcomeName(result.outcome));
  if (EndedByError(result.outcome)) {
    stats.error_code = result.error_code;
    stats.error_message = result.error_message;
  }
  stats.options_requested = s.context.options;
  for (tftp::OptionId id : options.accepted_options()) {
    uint64_t value = 0;
    switch (id) {
      case tftp::OptionId::kBlksize:
        value = options.blksize;
        break;
      case tftp::OptionId::kTimeout:
        value = options.timeout_seconds;
        break;
      case tftp::OptionId::kTsize:
        value = options.tsize.value_or(0);
        break;
      case tftp::OptionId::kWindowsize:
        value = options.windowsize;
        break;
    }
    stats.options_acknowledged.emplace_back(tftp::OptionName(id),
                                            absl::StrCat(value));
  }
  stats.start_time = s.started_wall;
  stats.duration = now_ - s.started;
  stats.packets_sent = counters.packets_sent;
  stats.packets_received = counters.packets_received;
  stats.blocks_acknowledged = counters.blocks_acknowledged;
  stats.bytes_sent = counters.payload_bytes_sent;
  stats.bytes_acknowledged = counters.bytes_transferred;
  stats.retransmits = counters.retransmits;
  stats.response_size = options.tsize;
  stats.blksize = options.blksize;
  stats.windowsize = options.windowsize;
  if (!stats_->Post(std::move(stats))) Bump(counters_.stats_dropped);
}

void Shard::MaybeRelease(uint32_t index) {
  Session& s = sessions_[index];
  // Nothing in flight may outlive the socket, and the ready queue must not
  // hold an index that a new transfer could take.
  if (!s.finishing || s.inflight > 0 || s.in_ready) return;
  if (s.fd >= 0 && !s.shares_service) close(s.fd);
  s.fd = -1;
  s.shares_service = false;
  s.local = io::SocketAddress();
  if (s.file != nullptr) files_.Release(s.file);
  s.file = nullptr;
  s.bytes.reset();
  if (s.stream != nullptr && s.subscription != 0) {
    s.stream->Unsubscribe(s.subscription);
  }
  s.stream.reset();
  s.subscription = 0;
  s.waiting_for_source = false;
  s.pending_request.clear();
  s.context = RequestContext();
  s.transfer.reset();
  s.reading = nullptr;
  s.writing = nullptr;
  s.sink.reset();
  s.sink_adapter.reset();
  s.commit_started = false;
  s.filename.clear();
  s.active = false;
  s.finishing = false;
  s.gso = true;
  s.parked.reset();
  s.request_fingerprint = 0;
  s.timer = {};
  ++s.generation;
  free_sessions_.push_back(index);
}

void Shard::OnWake() {
  const int request = stop_request_.load();
  if (request > 0) BeginShutdown(request == 2);
  TakeHandedRequests();
  TakeSourceProgress();
  TakeLoadedFiles();
  TakeCommits();
  backend_->Read(wake_fd_, 0,
                 absl::MakeSpan(reinterpret_cast<uint8_t*>(&wake_buffer_),
                                sizeof wake_buffer_),
                 Tag(kWake, 0, 0));
}

void Shard::BeginShutdown(bool immediate) {
  if (!stopping_) {
    stopping_ = true;
    stop_deadline_ = now_ + config_.shutdown_grace;
    // In single-port mode the service socket carries the transfers' own
    // packets: it is read until they end (requests are refused meanwhile).
    if (owns_service_ && !config_.single_port) {
      backend_->Cancel(Tag(kServiceReceive, 0, 0));
    }
  }
  if (immediate) stop_deadline_ = std::min(stop_deadline_, now_);
}

bool Shard::ShutdownComplete() {
  // A single-port listener reads every shard's packets: it stays for the
  // whole grace period, not only until its own transfers end.
  const bool serves_others = config_.single_port && handoff_targets_.size() > 1;
  if (!aborted_ &&
      ((active_ == 0 && !serves_others) || now_ >= stop_deadline_)) {
    for (uint32_t i = 0; i < sessions_.size(); ++i) {
      Session& s = sessions_[i];
      if (!s.active || s.finishing) continue;
      if (s.waiting_for_source || s.waiting_for_file) {
        EndWaiting(i);
        continue;
      }
      s.transfer->Abort(tftp::ErrorCode::kNotDefined, "server shutting down");
      AfterInput(i);
    }
    aborted_ = true;
    exit_deadline_ = now_ + kExitDrain;
    FlushReady();
  }
  if (!aborted_) return false;
  const bool drained = free_sessions_.size() == sessions_.size() &&
                       free_slots_.size() == slots_.size();
  return drained || now_ >= exit_deadline_;
}

namespace {

// An upload's sink seen as the protocol's WriteSink: bytes go straight to
// it on the shard thread; the commit comes later, from the committer.
class UploadSinkAdapter final : public tftp::WriteSink {
 public:
  explicit UploadSinkAdapter(UploadSink* sink) : sink_(sink) {}

  tftp::ProtocolStatus Write(uint64_t offset,
                             absl::Span<const uint8_t> bytes) override {
    absl::Status status;
    try {
      status = sink_->Write(offset, bytes);
    } catch (const std::exception& e) {
      status = absl::InternalError(e.what());
    }
    if (status.ok()) return tftp::ProtocolStatus::Ok();
    message_ = std::string(status.message());  // Outlives the ERROR's copy.
    return tftp::ProtocolStatus{UploadErrorCode(status), message_.c_str()};
  }
  tftp::ProtocolStatus Finish(uint64_t) override {
    return tftp::ProtocolStatus::Ok();
  }
  bool CommitsLater() const override { return true; }

 private:
  UploadSink* const sink_;
  std::string message_;
};

RefusalReason UploadRefusalReason(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return RefusalReason::k_not_found;
    case absl::StatusCode::kPermissionDenied:
      return RefusalReason::k_access_denied;
    case absl::StatusCode::kAlreadyExists:
      return RefusalReason::k_file_exists;
    default:
      return RefusalReason::k_resources;
  }
}

}  // namespace

absl::StatusOr<io::OpenedSocket> Shard::OpenTransferSocket(
    const io::SocketAddress& source, const io::SocketAddress& destination,
    io::SocketAddress* peer) {
  // Answer from the address the client sent to (several may be configured
  // on the host), from a new port: the transfer's own TID.
  io::SocketAddress local = destination;
  *peer = source.Unmapped();
  if (local.family() == AF_UNSPEC) {
    local = service_.bound;
    *peer = source;
  } else if (local.family() != peer->family()) {
    *peer = source;
  }
  if (config_.single_port) {
    // No socket of its own: the transfer answers from the service port.
    return io::OpenedSocket{service_.fd, local, 0};
  }
  return io::OpenTransferSocket(local);
}

void Shard::StartUpload(const io::Datagram& datagram,
                        const tftp::Request& request, RequestContext context) {
  const std::string filename = context.requested_path;
  auto refuse = [&](tftp::ErrorCode code, absl::string_view message,
                    RefusalReason reason) {
    RefuseRequest(datagram.source, datagram.destination, filename, code,
                  message, reason);
  };
  if (request.mode == tftp::TransferMode::kNetascii) {
    refuse(tftp::ErrorCode::kNotDefined,
           "netascii uploads are not supported; send in octet mode",
           RefusalReason::k_unsupported);
    return;
  }
  std::optional<UploadResponse> response;
  try {
    response.emplace(handler_->HandleUpload(context));
  } catch (const std::exception& e) {
    TFTPD_LOG(kWarning, "upload handler threw for peer=%s file=%s: %s",
              context.peer.ToString(), filename, e.what());
    response.emplace(UploadResponse::Refuse(tftp::ErrorCode::kNotDefined,
                                            "request handler failed"));
  } catch (...) {
    response.emplace(UploadResponse::Refuse(tftp::ErrorCode::kNotDefined,
                                            "request handler failed"));
  }
  if (response->kind() == UploadResponse::Kind::kRefusal) {
    refuse(response->error_code(), response->text(), RefusalReason::k_handler);
    return;
  }
  // Size first: an upload announced too large is refused before anything
  // is opened for it.
  tftp::NegotiatedOptions negotiated;
  if (tftp::ProtocolStatus s = tftp::NegotiateOptions(
          request, config_.limits, std::nullopt, &negotiated);
      !s.ok()) {
    refuse(s.code, s.message,
           s.code == tftp::ErrorCode::kDiskFull ? RefusalReason::k_too_large
                                                : RefusalReason::k_options);
    return;
  }
  std::shared_ptr<UploadSink> sink = response->sink();
  if (response->kind() == UploadResponse::Kind::kFile) {
    absl::StatusOr<std::unique_ptr<UploadSink>> opened =
        OpenDiskUpload(*write_root_, response->text(), config_.upload_policy);
    if (!opened.ok()) {
      refuse(UploadErrorCode(opened.status()), opened.status().message(),
             UploadRefusalReason(opened.status()));
      return;
    }
    sink = std::move(*opened);
  }
  io::SocketAddress peer;
  absl::StatusOr<io::OpenedSocket> socket =
      OpenTransferSocket(datagram.source, datagram.destination, &peer);
  if (!socket.ok()) {
    TFTPD_LOG(kWarning, "shard %d: %s", id_, socket.status().message());
    committer_->Abandon(std::move(sink));
    refuse(tftp::ErrorCode::kNotDefined, "out of sockets",
           RefusalReason::k_resources);
    return;
  }
  const uint32_t i = AllocateSession();
  Session& s = sessions_[i];
  s.active = true;
  s.peer_answered = false;
  s.request_fingerprint = RequestFingerprint(request);
  s.fd = socket->fd;
  s.shares_service = config_.single_port;
  s.local = socket->bound;
  s.peer = peer;
  s.filename = filename;
  s.context = std::move(context);
  s.started = now_;
  s.started_wall = std::chrono::system_clock::now();
  s.last_progress = now_;
  s.sink = std::move(sink);
  s.sink_adapter = std::make_unique<UploadSinkAdapter>(s.sink.get());
  auto writing = std::make_unique<tftp::WriteSession>(
      config_.session, negotiated, config_.limits.max_upload_size,
      s.sink_adapter.get());
  s.writing = writing.get();
  s.transfer = std::move(writing);
  const io::SocketAddress peer_key = datagram.source.Unmapped();
  by_peer_[peer_key] = i;
  ++active_;
  guard_->AddSession(peer_key);
  counters_.sessions_active.store(active_, std::memory_order_relaxed);
  Bump(counters_.sessions_started);
  TFTPD_LOG(kDebug, "WRQ peer=%s file=%s options=%d", peer.ToString(),
            s.filename, static_cast<int>(request.options.count));
  if (!s.shares_service) ArmSessionReceive(i);
  s.transfer->Start(now_);
  AfterInput(i);
}

void Shard::StartCommit(uint32_t index) {
  Session& s = sessions_[index];
  s.commit_started = true;
  s.last_progress = now_;  // The commit's wait is bounded from here.
  const uint32_t generation = s.generation;
  committer_->Commit(
      s.sink, s.writing->counters().bytes_transferred,
      [this, index, generation](const absl::Status& status) {
        PostCommitted(CommitOutcome{index, generation, status.ok(),
                                    UploadErrorCode(status),
                                    std::string(status.message())});
      });
}

void Shard::PostCommitted(CommitOutcome outcome) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(handoff_mutex_);
    first = committed_.empty();
    committed_.push_back(std::move(outcome));
  }
  if (first) Wake();
}

void Shard::TakeCommits() {
  std::vector<CommitOutcome> committed;
  {
    std::lock_guard<std::mutex> lock(handoff_mutex_);
    committed.swap(committed_);
  }
  for (const CommitOutcome& c : committed) {
    if (c.index >= sessions_.size()) continue;
    Session& s = sessions_[c.index];
    if (!s.active || s.finishing || s.generation != c.generation ||
        s.writing == nullptr) {
      continue;  // The transfer ended meanwhile (timed out, shut down).
    }
    if (c.ok) {
      s.writing->OnCommitted(now_);
    } else {
      TFTPD_LOG(kWarning, "upload peer=%s file=%s not stored: %s",
                s.peer.ToString(), s.filename, c.message);
      s.writing->OnCommitFailed(c.code, c.message);
    }
    AfterInput(c.index);
  }
}

}  // namespace tftpd
