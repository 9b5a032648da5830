// The shard's loop: completions in, the inbox from other threads, timers,
// and shutdown.
#include "server/engine/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "io/user_data.h"
#include "server/api/log.h"
#include "server/engine/completion_kind.h"

namespace tftpd {
namespace {

// After the grace period, aborted transfers' ERRORs get this long to leave.
constexpr auto kExitDrain = std::chrono::milliseconds(200);
// How long a cleanly ended transfer's request is recognised when repeated
// (recent_transfers.h): longer than a delayed datagram takes on any network
// a boot server serves, shorter than a client waits before asking again.
constexpr auto kRecentLinger = std::chrono::seconds(2);

}  // namespace

ShardEnvironment SystemEnvironment(io::BackendKind kind) {
  ShardEnvironment env;
  env.create_backend = [kind](const io::BackendOptions& options) {
    return io::CreateBackend(kind, options);
  };
  env.now = [] { return io::Clock::now(); };
  env.wall_now = [] { return std::chrono::system_clock::now(); };
  env.open_transfer_socket = [](const io::SocketAddress& local) {
    return io::OpenTransferSocket(local);
  };
  env.close_socket = [](io::EventBackend* backend, int fd) {
    if (backend != nullptr) {
      backend->Close(fd);
    } else {
      close(fd);
    }
  };
  return env;
}

Shard::Shard(int id, const ShardParts& parts, io::OpenedSocket service,
             bool owns_service, ShardEnvironment environment)
    : id_(id),
      config_(*parts.config),
      root_(*parts.root),
      handler_(parts.handler),
      source_executor_(parts.sources != nullptr
                           ? parts.sources->executor()
                           : SourceExecutor([](std::function<void()> job,
                                               SourcePace) { job(); })),
      write_root_(parts.write_root),
      committer_(parts.committer),
      stats_(parts.stats),
      loader_(parts.loader),
      guard_(parts.guard),
      service_(service),
      owns_service_(owns_service),
      env_(std::move(environment)),
      own_budget_(parts.budget != nullptr
                      ? nullptr
                      : std::make_unique<TransferBudget>(
                            parts.config->max_transfers, 1)),
      budget_(parts.budget != nullptr ? parts.budget : own_budget_.get()),
      inbox_([this] { Wake(); }),
      files_(config_.netascii_cache_bytes),
      max_transfers_(std::max<size_t>(
          1, (config_.max_transfers + config_.threads - 1) / config_.threads)),
      eviction_draws_(static_cast<uint32_t>(id) + 1),
      recent_(kRecentLinger, max_transfers_),
      slots_(std::max<size_t>(config_.send_slots, 16)) {
  // A pipe wakes the loop (a stop, the inbox): its read end has a read
  // armed in the backend at all times. Portable, unlike eventfd.
  int wake[2];
  if (pipe(wake) == 0) {
    for (int fd : wake) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    wake_fd_ = wake[0];
    wake_write_fd_ = wake[1];
  }
}

Shard::~Shard() {
  for (uint32_t i = 0; i < transfers_.size(); ++i) {
    Transfer& t = transfers_[i];
    if (t.fd >= 0 && !t.shares_service) env_.close_socket(nullptr, t.fd);
    // The stream may outlive this shard (a cache holds it).
    if (t.stream != nullptr && t.subscription != 0) {
      t.stream->Unsubscribe(t.subscription);
    }
  }
  // Mappings the loader finished after the loop ended.
  for (InboxMessage& message : inbox_.Take()) {
    if (const auto* l = std::get_if<FileLoaded>(&message);
        l != nullptr && l->data != nullptr) {
      munmap(const_cast<uint8_t*>(l->data),
             static_cast<size_t>(l->info.st_size));
    }
  }
  if (owns_service_ && service_.fd >= 0) {
    env_.close_socket(nullptr, service_.fd);
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  if (wake_write_fd_ >= 0) close(wake_write_fd_);
}

void Shard::Wake() {
  // A full pipe already holds a wake-up: nothing is lost.
  const char one = 1;
  ssize_t unused = write(wake_write_fd_, &one, 1);
  (void)unused;
}

bool Shard::HandOff(const io::Datagram& datagram) {
  return inbox_.PostRequest(HandedRequest{
      std::string(reinterpret_cast<const char*>(datagram.payload.data()),
                  datagram.payload.size()),
      datagram.source, datagram.destination, datagram.truncated});
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
  absl::Status started = Start();
  ready(started);
  if (!started.ok()) return;
  while (Turn()) {
  }
  Close();
}

absl::Status Shard::Start() {
  if (wake_fd_ < 0) return absl::ErrnoToStatus(errno, "pipe");
  io::BackendOptions options;
  options.receive_buffers = 2048;
  options.receive_buffer_size = kReceiveBufferSize;
  // In single-port mode with uploads on, uploads' blocks come through the
  // service socket: all its receives take large buffers, as many as the
  // small ones (a datagram dirties only the pages it fills).
  options.large_receive_buffers =
      LargeServiceReceives() ? options.receive_buffers : kLargeReceiveBuffers;
  options.large_receive_buffer_size = kLargeReceiveBufferSize;
  absl::StatusOr<io::CreatedBackend> backend = env_.create_backend(options);
  if (!backend.ok()) return backend.status();
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
  ArmServiceReceive();
  ArmWake();
  now_ = env_.now();
  return absl::OkStatus();
}

bool Shard::Turn() {
  FlushReady();
  if (stopping_ && ShutdownComplete()) return false;
  // A few transfers: their next datagrams may come sooner than a sleeping
  // core wakes. None (idle) or many (never short of work): no spin.
  const size_t open = transfers_.open();
  backend_->SpinBeforeSleeping(
      open > 0 && open <= ServerConfig::kSpinningTransfers
          ? std::chrono::duration_cast<io::Clock::duration>(config_.spin)
          : io::Clock::duration::zero());
  // One clock read per batch: the completions of a batch arrived together.
  bool clock_read = false;
  absl::StatusOr<int> polled = backend_->Poll(
      NextDeadline(), [this, &clock_read](const io::Completion& c) {
        if (!clock_read) {
          now_ = env_.now();
          clock_read = true;
        }
        OnCompletion(c);
      });
  if (!polled.ok()) {
    TFTPD_LOG(kError, "shard %d: %s", id_, polled.status().message());
    return false;
  }
  now_ = env_.now();
  FireTimers();
  return true;
}

void Shard::Close() {
  if (backend_ == nullptr) return;
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
    case kTransferReceive:
      // A slot is reused only once nothing of its is in flight, so the
      // generation always matches; checking costs nothing and says so.
      if (tag.index < transfers_.size() &&
          tag.generation == (transfers_[tag.index].generation &
                             io::UserData::kGenerationMask)) {
        OnTransferReceive(tag.index, completion);
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
  if (!owns_service_) return;
  const uint64_t tag = CompletionTag(kServiceReceive, 0, 0);
  if (LargeServiceReceives()) {
    backend_->ReceiveLarge(service_.fd, tag);
  } else {
    backend_->Receive(service_.fd, tag);
  }
}

void Shard::ArmWake() {
  backend_->Read(wake_fd_, 0,
                 absl::MakeSpan(reinterpret_cast<uint8_t*>(&wake_buffer_),
                                sizeof wake_buffer_),
                 CompletionTag(kWake, 0, 0));
}

size_t ShardFor(const io::SocketAddress& client, size_t count) {
  return absl::HashOf(client.Unmapped()) % count;
}

void Shard::OnServiceReceive(const io::Completion& c) {
  if (c.datagram != nullptr) {
    if (handoff_targets_.size() > 1) {
      const size_t target =
          ShardFor(c.datagram->source, handoff_targets_.size());
      if (handoff_targets_[target] != this) {
        if (!handoff_targets_[target]->HandOff(*c.datagram)) {
          Bump(counters_.handoff_drops);
        }
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

void Shard::OnWake() {
  const int request = stop_request_.load();
  if (request > 0) BeginShutdown(request == 2);
  for (InboxMessage& message : inbox_.Take()) OnMessage(message);
  ArmWake();
}

void Shard::OnMessage(InboxMessage& message) {
  if (auto* handed = std::get_if<HandedRequest>(&message)) {
    io::Datagram datagram;
    datagram.payload = absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(handed->bytes.data()),
        handed->bytes.size());
    datagram.source = handed->source;
    datagram.destination = handed->destination;
    datagram.truncated = handed->truncated;
    OnServiceDatagram(datagram);
  } else if (auto* progress = std::get_if<StreamProgress>(&message)) {
    Transfer* t = transfers_.Live(progress->index, progress->generation);
    if (t != nullptr && t->stream != nullptr) OnStreamProgress(progress->index);
  } else if (auto* loaded = std::get_if<FileLoaded>(&message)) {
    OnFileLoaded(*loaded);
  } else if (auto* done = std::get_if<CommitDone>(&message)) {
    OnCommitDone(*done);
  } else if (auto* snapshot = std::get_if<SnapshotRequest>(&message)) {
    snapshot->collector->Add(Snapshot());
  } else if (std::holds_alternative<EvictionRequest>(message)) {
    // Another shard may have evicted meanwhile, or a transfer ended.
    if (budget_->OverLimit()) EvictOne(std::nullopt);
  }
}

void Shard::RequestEviction() { inbox_.Post(EvictionRequest{}); }

void Shard::RequestSnapshot(std::shared_ptr<SnapshotCollector> collector) {
  inbox_.Post(SnapshotRequest{std::move(collector)});
}

void Shard::BeginShutdown(bool immediate) {
  if (!stopping_) {
    stopping_ = true;
    stop_deadline_ = now_ + config_.shutdown_grace;
    TFTPD_LOG(kInfo, "shard %d stopping: %d transfers open", id_,
              transfers_.open());
    // In single-port mode the service socket carries the transfers' own
    // packets: it is read until they end (requests are refused meanwhile).
    if (owns_service_ && !config_.single_port) {
      backend_->Cancel(CompletionTag(kServiceReceive, 0, 0));
    }
  }
  if (immediate) stop_deadline_ = std::min(stop_deadline_, now_);
}

bool Shard::ShutdownComplete() {
  // A single-port listener reads every shard's packets: it stays for the
  // whole grace period, not only until its own transfers end.
  const bool serves_others = config_.single_port && handoff_targets_.size() > 1;
  if (!aborted_ &&
      ((transfers_.open() == 0 && !serves_others) || now_ >= stop_deadline_)) {
    for (uint32_t i = 0; i < transfers_.size(); ++i) {
      Transfer& t = transfers_[i];
      if (t.waiting()) {
        EndWaiting(i, std::nullopt);
      } else if (t.live()) {
        t.protocol()->Abort(tftp::ErrorCode::kNotDefined,
                            "server shutting down");
        AfterInput(i);
      }
    }
    aborted_ = true;
    exit_deadline_ = now_ + kExitDrain;
    FlushReady();
  }
  if (!aborted_) return false;
  const bool drained = transfers_.all_free() && slots_.free() == slots_.size();
  return drained || now_ >= exit_deadline_;
}

}  // namespace tftpd
