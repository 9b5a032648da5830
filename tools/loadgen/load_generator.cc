#include "tools/loadgen/load_generator.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "io/backend_factory.h"
#include "io/control_messages.h"
#include "io/deadline_queue.h"
#include "io/event_backend.h"
#include "io/udp_socket.h"
#include "io/user_data.h"
#include "protocol/download_transfer.h"
#include "protocol/packet.h"

namespace loadgen {
namespace {

using io::Clock;
using io::TimePoint;

enum Kind : uint8_t { kReceive = 1, kSend = 2, kSharedReceive = 3 };

// Simulated clients' addresses: 127.1.0.0 onwards, short of 127.255.255.255
// (the loopback network's broadcast address).
constexpr uint32_t kFirstClientAddress = 0x7F010000;
constexpr uint32_t kClientAddresses = 0x7FFFFFFF - kFirstClientAddress;

io::SocketAddress ClientAddress(uint32_t n) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(kFirstClientAddress + n);
  return io::SocketAddress(reinterpret_cast<sockaddr*>(&address),
                           sizeof address);
}

uint32_t Ipv4Of(const io::SocketAddress& address) {
  if (address.family() != AF_INET) return 0;
  return ntohl(
      reinterpret_cast<const sockaddr_in*>(address.get())->sin_addr.s_addr);
}

// What a datagram of `payload` bytes takes of a receive buffer once queued:
// the kernel counts its whole buffer and bookkeeping (832 bytes for an ACK,
// 2,304 for 1,428 bytes of DATA on loopback, measured on Linux 6.1).
size_t QueuedDatagramSize(size_t payload) { return payload + 1024; }

uint64_t Tag(Kind kind, uint32_t index, uint32_t generation) {
  return io::UserData{kind, index, generation}.Pack();
}

struct File {
  std::string name;
  std::string content;  // The local copy, when verifying content.
  bool have_content = false;
};

// Checks a download against its local copy (or its announced size) as the
// bytes arrive, keeping nothing.
class CheckingSink : public tftp::WriteSink {
 public:
  void Reset(const File* file) {
    file_ = file;
    content_mismatch_ = false;
    total_ = 0;
  }
  tftp::ProtocolStatus Write(uint64_t offset,
                             absl::Span<const uint8_t> bytes) override {
    // Bytes beyond the local copy show up as a size mismatch instead.
    if (file_->have_content && offset < file_->content.size()) {
      const size_t overlap = std::min<size_t>(
          bytes.size(), file_->content.size() - static_cast<size_t>(offset));
      if (std::memcmp(file_->content.data() + offset, bytes.data(), overlap) !=
          0) {
        content_mismatch_ = true;
      }
    }
    return tftp::ProtocolStatus::Ok();
  }
  tftp::ProtocolStatus Finish(uint64_t total) override {
    total_ = total;
    return tftp::ProtocolStatus::Ok();
  }
  bool content_mismatch() const { return content_mismatch_; }
  uint64_t total() const { return total_; }

 private:
  const File* file_ = nullptr;
  bool content_mismatch_ = false;
  uint64_t total_ = 0;
};

// One simulated client transfer, on its own socket or the worker's shared one.
struct Transfer {
  uint32_t generation = 0;
  bool in_use = false;
  bool active = false;  // Still downloading (not yet recorded).
  int fd = -1;
  uint32_t inflight = 0;  // Receive and send operations still due.
  bool send_in_flight = false;
  std::optional<tftp::DownloadTransfer> transfer;
  CheckingSink sink;
  std::optional<io::SocketAddress> tid;
  const File* file = nullptr;
  bool probing = false;
  TimePoint started;
  io::DeadlineQueue::Slot timer;
  // On the shared socket: the client's own address, set on each send.
  io::SocketAddress local;
  msghdr message{};
  iovec iov{};
  io::SocketAddress to;
  alignas(cmsghdr) uint8_t control[io::kSourceAddressControlSize];
  uint8_t buffer[tftp::kMaxRequestPacket];
};

struct Shared {
  std::atomic<int64_t> started{0};
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> ok{0};
  std::atomic<uint64_t> bytes{0};
};

class Worker {
 public:
  // `source_base`: the first client address index this worker uses;
  // `source_count`: how many it may use on the shared socket.
  Worker(const LoadConfig& config, const std::vector<File>& files,
         int64_t transfers, int concurrency, uint32_t source_base,
         uint32_t source_count, Shared* shared)
      : config_(config),
        files_(files),
        transfers_(transfers),
        concurrency_(std::max(1, concurrency)),
        source_base_(source_base),
        source_count_(std::max<uint32_t>(1, source_count)),
        distinct_sources_(config.distinct_sources &&
                          config.server.family() == AF_INET &&
                          config.server.HostString().rfind("127.", 0) == 0),
        shared_(shared) {
    transfer_config_.timeout = config.timeout;
    transfer_config_.max_timeout =
        std::max<tftp::Duration>(config.timeout, std::chrono::seconds(8));
    transfer_config_.max_retries = config.retries;
  }

  absl::Status Run(TimePoint start);
  // A window can be taken in one receive when the server sends it with GSO.
  bool gro() const { return config_.windowsize > 1; }
  // Lets `fd` take a window coalesced (UDP GRO) when windows are asked for.
  void MaybeEnableGro(int fd) const {
#ifdef UDP_GRO
    if (gro()) {
      const int on = 1;
      setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on);
    }
#endif
  }
  LoadReport& report() { return report_; }
  std::vector<double>& latencies() { return latencies_; }

 private:
  void Launch(TimePoint now, const File* file, bool probing, TimePoint started);
  bool OpenSocket(Transfer& t, uint32_t index);
  void OnCompletion(const io::Completion& c);
  void OnSharedReceive(const io::Completion& c);
  void Deliver(uint32_t index, const io::Datagram& datagram);
  void SendUnknownTransferId(Transfer& t, const io::SocketAddress& to);
  void AfterInput(uint32_t index);
  void Flush(uint32_t index);
  void Complete(uint32_t index);
  void Record(Transfer& t);
  void MaybeRelease(uint32_t index);
  uint32_t Allocate();
  bool OnSharedSocket(const Transfer& t) const {
    return shared_fd_ >= 0 && t.fd == shared_fd_;
  }

  const LoadConfig& config_;
  const std::vector<File>& files_;
  const int64_t transfers_;
  const int concurrency_;
  const uint32_t source_base_;
  const uint32_t source_count_;
  const bool distinct_sources_;
  Shared* shared_;
  tftp::TransferConfig transfer_config_;
  std::unique_ptr<io::EventBackend> backend_;
  std::deque<Transfer> slots_;
  std::vector<uint32_t> free_;
  int shared_fd_ = -1;
  // Shared socket: client address (host order) -> slot, and how many
  // addresses were handed out.
  absl::flat_hash_map<uint32_t, uint32_t> slot_by_address_;
  uint32_t addresses_used_ = 0;
  io::DeadlineQueue timers_;
  TimePoint now_;
  TimePoint run_start_;
  int64_t started_ = 0;
  int64_t finished_ = 0;
  int active_ = 0;
  size_t open_ = 0;
  LoadReport report_;
  std::vector<double> latencies_;
};

absl::Status Worker::Run(TimePoint start) {
  run_start_ = start;
  io::BackendOptions options;
  const unsigned payload =
      std::max<unsigned>(config_.blksize, tftp::kDefaultBlockSize) + 4;
  // Windows may arrive coalesced (UDP GRO) from servers that send them with
  // GSO: up to 64 KiB in one receive.
  const unsigned largest = gro() ? 65536 : payload;
  options.receive_buffer_size = (largest + 512 + 255) / 256 * 256;
  unsigned count = 4096;
  while (count > 256 && count * options.receive_buffer_size > (32u << 20)) {
    count /= 2;
  }
  options.receive_buffers = count;
  absl::StatusOr<io::CreatedBackend> backend =
      io::CreateBackend(config_.io_backend, options);
  if (!backend.ok()) return backend.status();
  backend_ = std::move(backend->backend);
  if (config_.faults.has_value()) {
    io::FaultPlan plan = *config_.faults;
    plan.seed += source_base_;  // Each thread its own draws.
    backend_ = io::InjectFaults(std::move(backend_), plan);
  }
  if (config_.shared_socket) {
    io::ServiceSocketOptions socket_options;
    socket_options.reuse_port = false;
    // Every client's reply lands here: room for what all of them can have
    // in flight at once (a window each), so that a generator running behind
    // delays its clients' replies rather than losing them.
    socket_options.receive_buffer = std::max<size_t>(
        64 << 20, size_t{static_cast<unsigned>(concurrency_)} *
                      std::max<uint16_t>(1, config_.windowsize) *
                      QueuedDatagramSize(payload));
    absl::StatusOr<io::OpenedSocket> opened = io::OpenServiceSocket(
        *io::SocketAddress::Parse("0.0.0.0", 0), socket_options);
    if (!opened.ok()) return opened.status();
    shared_fd_ = opened->fd;
    MaybeEnableGro(shared_fd_);
    backend_->Receive(shared_fd_, Tag(kSharedReceive, 0, 0));
  }
  const TimePoint limit = start + config_.time_limit;
  size_t next_file = 0;
  now_ = Clock::now();
  while (true) {
    // Launch: the first `concurrency_` spread over the ramp-up, then a new
    // transfer whenever one ends.
    std::optional<TimePoint> next_launch;
    while (started_ < transfers_ && active_ < concurrency_) {
      TimePoint at = now_;
      if (started_ < concurrency_ && config_.ramp_up.count() > 0) {
        at = start + config_.ramp_up * started_ / concurrency_;
      }
      if (at > now_) {
        next_launch = at;
        break;
      }
      const File* file = &files_[next_file++ % files_.size()];
      ++started_;
      ++active_;
      shared_->started.fetch_add(1, std::memory_order_relaxed);
      Launch(now_, file, config_.uefi_probe, now_);
    }
    if (finished_ == transfers_ && open_ == 0) break;
    if (now_ >= limit) {
      for (uint32_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].active) {
          // Tell the server, then record the transfer as cut short.
          slots_[i].transfer->Abort(tftp::ErrorCode::kNotDefined, "time limit");
          AfterInput(i);
        }
      }
      report_.failures["not_started"] += transfers_ - started_;
      started_ = transfers_;
      if (open_ == 0 || now_ >= limit + std::chrono::seconds(1)) break;
    }
    std::optional<TimePoint> deadline = timers_.earliest();
    for (TimePoint t : {next_launch.value_or(TimePoint::max()), limit}) {
      if (!deadline.has_value() || t < *deadline) deadline = t;
    }
    if (config_.busy_poll) deadline = now_;  // Never sleep.
    absl::StatusOr<int> polled =
        backend_->Poll(deadline, [this](const io::Completion& c) {
          now_ = Clock::now();
          OnCompletion(c);
        });
    if (!polled.ok()) return polled.status();
    now_ = Clock::now();
    timers_.PopDue(
        now_,
        [this](uint32_t index,
               uint32_t generation) -> io::DeadlineQueue::Slot* {
          Transfer& t = slots_[index];
          if (!t.active || t.generation != generation) return nullptr;
          return &t.timer;
        },
        [this](uint32_t index) {
          slots_[index].transfer->OnDeadline(now_);
          AfterInput(index);
        });
  }
  for (Transfer& t : slots_) {
    if (t.fd >= 0 && !OnSharedSocket(t)) close(t.fd);
  }
  backend_.reset();
  if (shared_fd_ >= 0) close(shared_fd_);
  return absl::OkStatus();
}

uint32_t Worker::Allocate() {
  ++open_;
  if (!free_.empty()) {
    const uint32_t index = free_.back();
    free_.pop_back();
    return index;
  }
  slots_.emplace_back();
  return static_cast<uint32_t>(slots_.size() - 1);
}

void Worker::Launch(TimePoint now, const File* file, bool probing,
                    TimePoint started) {
  const uint32_t index = Allocate();
  Transfer& t = slots_[index];
  t.in_use = true;
  t.active = true;
  t.file = file;
  t.probing = probing;
  t.started = started;
  t.tid.reset();
  t.sink.Reset(file);
  if (!OpenSocket(t, index)) {
    ++report_.failures["no_socket"];
    t.active = false;
    --active_;
    ++finished_;
    shared_->done.fetch_add(1, std::memory_order_relaxed);
    MaybeRelease(index);
    return;
  }
  tftp::DownloadRequest request;
  request.filename = file->name;
  request.blksize = config_.blksize;
  request.windowsize = config_.windowsize;
  request.ask_tsize = config_.tsize || probing;
  request.probe_only = probing;
  t.transfer.emplace(transfer_config_, std::move(request), &t.sink);
  if (shared_fd_ < 0) {
    backend_->Receive(t.fd, Tag(kReceive, index, t.generation));
    ++t.inflight;
  }
  t.transfer->Start(now);
  AfterInput(index);
}

bool Worker::OpenSocket(Transfer& t, uint32_t index) {
  if (shared_fd_ >= 0) {
    // A fresh address per transfer: a late datagram of an earlier transfer
    // (the server's repeat of its last block) cannot reach a later one.
    if (addresses_used_ == source_count_) return false;
    const uint32_t n = source_base_ + addresses_used_++;
    t.fd = shared_fd_;
    t.local = ClientAddress(n);
    slot_by_address_[Ipv4Of(t.local)] = index;
    return true;
  }
  t.fd = socket(config_.server.family(),
                SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (t.fd < 0) return false;
  io::SocketAddress any = *io::SocketAddress::Parse(
      config_.server.family() == AF_INET6 ? "::" : "0.0.0.0", 0);
  if (distinct_sources_) any = ClientAddress(source_base_ + index);
  MaybeEnableGro(t.fd);
  if (bind(t.fd, any.get(), any.length()) != 0) {
    close(t.fd);
    t.fd = -1;
    return false;
  }
  return true;
}

void Worker::OnCompletion(const io::Completion& c) {
  const io::UserData tag = io::UserData::Unpack(c.user_data);
  if (tag.kind == kSharedReceive) {
    OnSharedReceive(c);
    return;
  }
  if (tag.index >= slots_.size()) return;
  Transfer& t = slots_[tag.index];
  if (tag.generation != (t.generation & io::UserData::kGenerationMask)) return;
  if (tag.kind == kSend) {
    t.send_in_flight = false;
    --t.inflight;
    Flush(tag.index);
    MaybeRelease(tag.index);
    return;
  }
  if (c.datagram != nullptr && t.active) Deliver(tag.index, *c.datagram);
  if (!c.more) {
    --t.inflight;
    if (t.active) {
      backend_->Receive(t.fd, Tag(kReceive, tag.index, t.generation));
      ++t.inflight;
    }
    MaybeRelease(tag.index);
  }
}

void Worker::OnSharedReceive(const io::Completion& c) {
  if (c.datagram != nullptr) {
    const auto slot = slot_by_address_.find(Ipv4Of(c.datagram->destination));
    if (slot != slot_by_address_.end() && slots_[slot->second].active) {
      Deliver(slot->second, *c.datagram);
    }
  }
  if (!c.more) backend_->Receive(shared_fd_, Tag(kSharedReceive, 0, 0));
}

void Worker::Deliver(uint32_t index, const io::Datagram& datagram) {
  Transfer& t = slots_[index];
  const io::SocketAddress& source = datagram.source;
  if (!t.tid.has_value()) {
    t.tid = source;  // The first reply fixes the server's TID.
  }
  if (source != *t.tid) {
    SendUnknownTransferId(t, source);
    return;
  }
  // A coalesced window is one datagram per segment_size bytes.
  absl::Span<const uint8_t> rest = datagram.payload;
  const size_t segment =
      datagram.segment_size > 0 ? datagram.segment_size : rest.size();
  do {
    const size_t size = std::min(segment, rest.size());
    t.transfer->OnDatagram(rest.first(size), now_);
    rest.remove_prefix(size);
  } while (!rest.empty() && t.active);
  AfterInput(index);
}

void Worker::SendUnknownTransferId(Transfer& t, const io::SocketAddress& to) {
  uint8_t error[64];
  iovec iov{error, tftp::EncodeUnknownTransferIdError(error)};
  alignas(cmsghdr) uint8_t control[io::kSourceAddressControlSize];
  msghdr message{};
  io::SocketAddress destination = to;
  message.msg_name = destination.mutable_get();
  message.msg_namelen = destination.length();
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  if (OnSharedSocket(t)) {
    message.msg_control = control;
    io::AppendSourceAddress(&message, sizeof control, t.local);
  }
  sendmsg(t.fd, &message, MSG_DONTWAIT);
}

void Worker::AfterInput(uint32_t index) {
  Transfer& t = slots_[index];
  Flush(index);
  if (!t.active) return;
  if (t.transfer->transfer_complete() || t.transfer->finished()) {
    Complete(index);
    return;
  }
  const std::optional<tftp::TimePoint> deadline = t.transfer->deadline();
  if (deadline.has_value()) {
    timers_.Schedule(index, t.generation, *deadline, &t.timer);
  }
}

void Worker::Flush(uint32_t index) {
  Transfer& t = slots_[index];
  if (t.fd < 0 || t.send_in_flight || !t.transfer.has_value() ||
      !t.transfer->HasOutgoing()) {
    return;
  }
  const tftp::Outgoing out = t.transfer->NextOutgoing(t.buffer);
  if (out.header_size == 0) return;
  t.to = t.tid.has_value() ? *t.tid : config_.server;
  t.iov = {t.buffer, out.header_size};
  t.message = {};
  t.message.msg_name = t.to.mutable_get();
  t.message.msg_namelen = t.to.length();
  t.message.msg_iov = &t.iov;
  t.message.msg_iovlen = 1;
  if (OnSharedSocket(t)) {
    t.message.msg_control = t.control;
    io::AppendSourceAddress(&t.message, sizeof t.control, t.local);
  }
  backend_->Send(t.fd, &t.message, Tag(kSend, index, t.generation));
  t.send_in_flight = true;
  ++t.inflight;
}

void Worker::Complete(uint32_t index) {
  Transfer& t = slots_[index];
  t.active = false;
  report_.retransmits += t.transfer->counters().retransmits;
  if (t.probing && t.transfer->transfer_complete()) {
    // UEFI: the size is known; now the real download, from a new port.
    Launch(now_, t.file, /*probing=*/false, t.started);
  } else {
    Record(t);
    --active_;
    ++finished_;
    shared_->done.fetch_add(1, std::memory_order_relaxed);
  }
  if (!OnSharedSocket(t)) backend_->Cancel(Tag(kReceive, index, t.generation));
  MaybeRelease(index);
}

void Worker::Record(Transfer& t) {
  const tftp::DownloadTransfer& s = *t.transfer;
  const tftp::TransferResult& r = s.result();
  if (config_.log_failures &&
      !(s.transfer_complete() && !t.sink.content_mismatch())) {
    const tftp::TransferCounters& c = s.counters();
    io::SocketAddress client = t.local;
    if (client.family() == AF_UNSPEC && t.fd >= 0) {
      // A socket of its own: the address it was bound to.
      sockaddr_storage bound{};
      socklen_t length = sizeof bound;
      if (getsockname(t.fd, reinterpret_cast<sockaddr*>(&bound), &length) ==
          0) {
        client = io::SocketAddress(reinterpret_cast<sockaddr*>(&bound), length);
      }
    }
    std::cerr << absl::StrFormat(
        "failed client=%s server=%s file=%s outcome=%s error=\"%s\" "
        "bytes=%d packets_received=%d packets_sent=%d retransmits=%d "
        "started=%.3fs ended=%.3fs\n",
        client.family() == AF_UNSPEC ? "-" : client.ToString(),
        t.tid.has_value() ? t.tid->ToString() : "-", t.file->name,
        tftp::TransferOutcomeName(r.outcome), r.error_message, t.sink.total(),
        c.packets_received, c.packets_sent, c.retransmits,
        std::chrono::duration<double>(t.started - run_start_).count(),
        std::chrono::duration<double>(now_ - run_start_).count());
  }
  if (s.transfer_complete()) {
    const File& file = *t.file;
    const uint64_t expected = file.have_content
                                  ? file.content.size()
                                  : s.announced_size().value_or(t.sink.total());
    if (t.sink.total() != expected) {
      ++report_.failures["size_mismatch"];
    } else if (t.sink.content_mismatch()) {
      ++report_.failures["content_mismatch"];
    } else {
      ++report_.transfers_ok;
      report_.bytes += t.sink.total();
      latencies_.push_back(
          std::chrono::duration<double>(now_ - t.started).count());
      shared_->ok.fetch_add(1, std::memory_order_relaxed);
      shared_->bytes.fetch_add(t.sink.total(), std::memory_order_relaxed);
    }
    return;
  }
  switch (r.outcome) {
    case tftp::TransferOutcome::kTimedOut:
      // No reply ever fixed the server's TID: the request went unanswered.
      ++report_.failures[t.tid.has_value() ? "timeout" : "rrq_unanswered"];
      break;
    case tftp::TransferOutcome::kPeerError:
      ++report_.failures[absl::StrCat("error_", r.error_code)];
      break;
    case tftp::TransferOutcome::kProtocolError:
      ++report_.failures["protocol_error"];
      break;
    default:
      ++report_.failures[r.error_message == "time limit" ? "time_limit"
                                                         : "aborted"];
      break;
  }
}

void Worker::MaybeRelease(uint32_t index) {
  Transfer& t = slots_[index];
  if (!t.in_use || t.active || t.inflight > 0 ||
      (t.fd >= 0 && t.transfer.has_value() && t.transfer->HasOutgoing())) {
    return;
  }
  if (OnSharedSocket(t)) {
    slot_by_address_.erase(Ipv4Of(t.local));
  } else if (t.fd >= 0) {
    close(t.fd);
  }
  t.fd = -1;
  t.transfer.reset();
  t.in_use = false;
  t.send_in_flight = false;
  t.timer = {};
  ++t.generation;
  free_.push_back(index);
  --open_;
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[i];
}

absl::StatusOr<std::vector<File>> LoadFiles(const LoadConfig& config) {
  std::vector<File> files;
  for (const std::string& name : config.files) {
    File file;
    file.name = name;
    if (!config.verify_dir.empty()) {
      std::ifstream in(config.verify_dir + "/" + name,
                       std::ios::binary | std::ios::ate);
      if (!in) {
        return absl::NotFoundError(
            absl::StrCat("no local copy of ", name, " in ", config.verify_dir));
      }
      // One read into a string of the file's size (a stream buffer would
      // copy a 100 MiB file several times over).
      file.content.resize(static_cast<size_t>(in.tellg()));
      in.seekg(0);
      if (!in.read(file.content.data(),
                   static_cast<std::streamsize>(file.content.size()))) {
        return absl::DataLossError(
            absl::StrCat("could not read the local copy of ", name));
      }
      file.have_content = true;
    }
    files.push_back(std::move(file));
  }
  return files;
}

}  // namespace

absl::StatusOr<LoadReport> RunLoad(
    const LoadConfig& config,
    const std::function<void(const LoadProgress&)>& progress) {
  if (config.files.empty()) {
    return absl::InvalidArgumentError("no files to request");
  }
  if (config.concurrency < 1 || config.transfers < 0 || config.threads < 1) {
    return absl::InvalidArgumentError(
        "concurrency and threads must be positive");
  }
  if (config.shared_socket && (config.server.family() != AF_INET ||
                               (Ipv4Of(config.server) >> 24) != 127)) {
    return absl::InvalidArgumentError(
        "a shared socket simulates clients on loopback addresses: the server "
        "must be on 127.0.0.0/8");
  }
  const uint32_t sources_per_thread =
      kClientAddresses / static_cast<uint32_t>(config.threads);
  if (config.shared_socket &&
      config.transfers > int64_t{sources_per_thread} * config.threads) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a shared socket gives each transfer an address of its own: at most ",
        int64_t{sources_per_thread} * config.threads, " transfers"));
  }
  absl::StatusOr<std::vector<File>> files = LoadFiles(config);
  if (!files.ok()) return files.status();
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  uint32_t source_base = 0;
  for (int i = 0; i < config.threads; ++i) {
    const int64_t transfers = config.transfers / config.threads +
                              (i < config.transfers % config.threads);
    const int concurrency = config.concurrency / config.threads +
                            (i < config.concurrency % config.threads ? 1 : 0);
    const uint32_t sources =
        config.shared_socket ? sources_per_thread
                             : static_cast<uint32_t>(std::max(1, concurrency));
    workers.push_back(std::make_unique<Worker>(
        config, *files, transfers, concurrency, source_base, sources, &shared));
    source_base += sources;
  }
  const TimePoint start = Clock::now();
  std::vector<absl::Status> statuses(workers.size());
  std::vector<std::thread> threads;
  std::atomic<int> running{static_cast<int>(workers.size())};
  for (size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] {
      statuses[i] = workers[i]->Run(start);
      running.fetch_sub(1);
    });
  }
  while (running.load() > 0) {
    for (int i = 0; i < 100 && running.load() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (progress && running.load() > 0) {
      const int64_t done = shared.done.load();
      progress(LoadProgress{
          std::chrono::duration<double>(Clock::now() - start).count(),
          shared.started.load() - done, done, shared.ok.load(),
          shared.bytes.load()});
    }
  }
  for (std::thread& t : threads) t.join();
  const double wall =
      std::chrono::duration<double>(Clock::now() - start).count();
  for (const absl::Status& s : statuses) {
    if (!s.ok()) return s;
  }
  LoadReport report;
  std::vector<double> latencies;
  for (auto& w : workers) {
    report.transfers_ok += w->report().transfers_ok;
    report.bytes += w->report().bytes;
    report.retransmits += w->report().retransmits;
    for (const auto& [reason, count] : w->report().failures) {
      if (count > 0) report.failures[reason] += count;
    }
    latencies.insert(latencies.end(), w->latencies().begin(),
                     w->latencies().end());
  }
  std::sort(latencies.begin(), latencies.end());
  report.latency_p50 = Percentile(latencies, 0.50);
  report.latency_p90 = Percentile(latencies, 0.90);
  report.latency_p99 = Percentile(latencies, 0.99);
  report.latency_max = latencies.empty() ? 0 : latencies.back();
  report.wall_seconds = wall;
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  report.cpu_seconds = seconds(after.ru_utime) - seconds(before.ru_utime) +
                       seconds(after.ru_stime) - seconds(before.ru_stime);
  return report;
}

}  // namespace loadgen
