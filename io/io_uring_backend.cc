// The io_uring backend: one ring per thread, multishot recvmsg drawing from a
// provided-buffer ring (receive memory is fixed however many sockets are
// armed), sends batched into one io_uring_enter per Poll, reads into
// registered buffers with READ_FIXED, and waits bounded by a deadline through
// IORING_ENTER_EXT_ARG instead of a timer operation per wait.
#include <liburing.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "io/control_messages.h"
#include "io/event_backend.h"
#include "io/spin_backoff.h"

namespace io {
namespace {

// Completions of our own bookkeeping operations (cancels, and the wait
// timeout liburing adds on kernels without EXT_ARG) carry this and are not
// reported.
constexpr uint64_t kInternalUserData = ~uint64_t{0};
constexpr uint16_t kBufferGroup = 0;
constexpr uint16_t kLargeBufferGroup = 1;
// A multishot recvmsg lays out its header, the source address and the
// control messages before the payload in each buffer: room for them comes
// on top of the payload size asked for, so that every backend holds the
// same datagrams whole.
constexpr size_t kRecvmsgOverhead = sizeof(io_uring_recvmsg_out) +
                                    sizeof(sockaddr_storage) +
                                    kReceiveControlSize;

absl::Status Unavailable(absl::string_view what, int error) {
  return absl::UnavailableError(
      absl::StrCat("io_uring: ", what, ": ", std::strerror(error)));
}

__kernel_timespec ToTimespec(std::chrono::nanoseconds ns) {
  __kernel_timespec ts;
  ts.tv_sec = ns.count() / 1'000'000'000;
  ts.tv_nsec = ns.count() % 1'000'000'000;
  return ts;
}

class IoUringBackend final : public EventBackend {
 public:
  static absl::StatusOr<std::unique_ptr<EventBackend>> Create(
      const BackendOptions& options);
  ~IoUringBackend() override;

  absl::string_view name() const override { return "io_uring"; }
  void Receive(int fd, uint64_t user_data) override;
  void ReceiveLarge(int fd, uint64_t user_data) override;
  void Send(int fd, const msghdr* message, uint64_t user_data) override;
  void Read(int fd, uint64_t offset, absl::Span<uint8_t> buffer,
            uint64_t user_data) override;
  void Timer(TimePoint deadline, uint64_t user_data) override;
  void Cancel(uint64_t user_data) override;
  void Close(int fd) override;
  absl::Status RegisterBuffers(absl::Span<const iovec> regions) override;
  absl::StatusOr<int> Poll(
      std::optional<TimePoint> deadline,
      absl::FunctionRef<void(const Completion&)> handler) override;
  void SpinBeforeSleeping(Clock::duration limit) override {
    spin_limit_ = limit;
  }
  BackendStats stats() const override { return stats_; }

 private:
  IoUringBackend() = default;
  // Submits, then asks for completions until one is ready or the spin's
  // time (cut at `deadline`) is up; whether one is ready.
  bool Spin(std::optional<TimePoint> deadline);
  absl::Status Init(const BackendOptions& options);
  absl::Status CheckOpcodes();
  absl::Status CheckMultishotReceive();
  io_uring_sqe* GetSqe();
  void ParseDatagram(uint8_t* buffer, int length, Datagram* out);
  // One provided-buffer ring: its memory, and the buffer ids it hands out
  // (the large ring's follow the small ring's, so an id names its ring).
  struct BufferRing {
    io_uring_buf_ring* ring = nullptr;
    size_t ring_bytes = 0;
    uint8_t* buffers = nullptr;
    size_t buffers_bytes = 0;
    unsigned count = 0;
    unsigned size = 0;
    unsigned first_id = 0;
    int mask = 0;
    unsigned recycled = 0;  // Added back in this Poll, not yet advanced.
    uint8_t* Address(unsigned id) const {
      return buffers + static_cast<size_t>(id - first_id) * size;
    }
  };
  absl::Status SetUpRing(BufferRing* ring, unsigned count, unsigned size,
                         unsigned first_id, uint16_t group);
  BufferRing& RingOf(unsigned id) {
    return id >= large_.first_id && large_.count > 0 ? large_ : small_;
  }

  io_uring ring_{};
  bool ring_ready_ = false;
  BufferRing small_;
  BufferRing large_;
  // Read by the kernel when each multishot receive is prepared.
  msghdr receive_template_{};
  // Timeout operations read their timespec at submission: keep them until
  // the next io_uring_enter has consumed them.
  std::deque<__kernel_timespec> pending_timespecs_;
  std::vector<iovec> registered_;
  Clock::duration spin_limit_ = Clock::duration::zero();
  SpinBackoff spin_backoff_;
  BackendStats stats_;
};

absl::StatusOr<std::unique_ptr<EventBackend>> IoUringBackend::Create(
    const BackendOptions& options) {
  std::unique_ptr<IoUringBackend> backend(new IoUringBackend());
  if (absl::Status s = backend->Init(options); !s.ok()) return s;
  return std::unique_ptr<EventBackend>(std::move(backend));
}

absl::Status IoUringBackend::Init(const BackendOptions& options) {
  if (options.receive_buffers == 0 ||
      (options.receive_buffers & (options.receive_buffers - 1)) != 0 ||
      options.receive_buffers > 32768) {
    return absl::InvalidArgumentError(
        "receive_buffers must be a power of two up to 32768");
  }
  io_uring_params params{};
  // Linux 6.1+: completions are processed only when this thread asks, with
  // no interrupts of the thread to run them.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                 IORING_SETUP_CQSIZE;
  params.cq_entries = options.queue_depth * 4;
  int r = io_uring_queue_init_params(options.queue_depth, &ring_, &params);
  if (r == -EINVAL) {
    params = {};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = options.queue_depth * 4;
    r = io_uring_queue_init_params(options.queue_depth, &ring_, &params);
  }
  if (r < 0) return Unavailable("ring setup refused", -r);
  ring_ready_ = true;
  if (!(params.features & IORING_FEAT_NODROP)) {
    return absl::UnavailableError(
        "io_uring: kernel lacks IORING_FEAT_NODROP (Linux 5.5)");
  }
  if (absl::Status s = CheckOpcodes(); !s.ok()) return s;

  if (absl::Status s = SetUpRing(&small_, options.receive_buffers,
                                 options.receive_buffer_size, 0, kBufferGroup);
      !s.ok()) {
    return s;
  }
  if (options.large_receive_buffers > 0) {
    if (absl::Status s = SetUpRing(&large_, options.large_receive_buffers,
                                   options.large_receive_buffer_size,
                                   options.receive_buffers, kLargeBufferGroup);
        !s.ok()) {
      return s;
    }
  }

  receive_template_.msg_namelen = sizeof(sockaddr_storage);
  receive_template_.msg_controllen = kReceiveControlSize;
  return CheckMultishotReceive();
}

absl::Status IoUringBackend::SetUpRing(BufferRing* ring, unsigned count,
                                       unsigned size, unsigned first_id,
                                       uint16_t group) {
  if (count == 0 || (count & (count - 1)) != 0) {
    return absl::InvalidArgumentError(
        "io_uring: receive buffer counts must be powers of two");
  }
  if (first_id + count > 65536) {
    return absl::InvalidArgumentError("io_uring: over 65536 receive buffers");
  }
  ring->count = count;
  ring->size = static_cast<unsigned>(size + kRecvmsgOverhead);
  ring->first_id = first_id;
  ring->mask = io_uring_buf_ring_mask(count);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  ring->ring_bytes = (count * sizeof(io_uring_buf) + page - 1) / page * page;
  void* ring_memory = mmap(nullptr, ring->ring_bytes, PROT_READ | PROT_WRITE,
                           MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_memory == MAP_FAILED) return Unavailable("mmap", errno);
  ring->ring = static_cast<io_uring_buf_ring*>(ring_memory);
  // Untouched pages of the buffers cost nothing: a datagram dirties only
  // the pages it fills.
  ring->buffers_bytes = static_cast<size_t>(count) * ring->size;
  void* buffer_memory =
      mmap(nullptr, ring->buffers_bytes, PROT_READ | PROT_WRITE,
           MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (buffer_memory == MAP_FAILED) return Unavailable("mmap", errno);
  ring->buffers = static_cast<uint8_t*>(buffer_memory);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(ring->ring);
  reg.ring_entries = count;
  reg.bgid = group;
  const int r = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (r < 0) {
    return Unavailable("provided-buffer rings (Linux 5.19) unavailable", -r);
  }
  io_uring_buf_ring_init(ring->ring);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(ring->ring, ring->Address(first_id + i), ring->size,
                          static_cast<unsigned short>(first_id + i), ring->mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(ring->ring, static_cast<int>(count));
  return absl::OkStatus();
}

absl::Status IoUringBackend::CheckOpcodes() {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) {
    return absl::UnavailableError("io_uring: opcode probe failed");
  }
  struct Needed {
    int opcode;
    const char* name;
  };
  static constexpr Needed kNeeded[] = {
      {IORING_OP_RECVMSG, "RECVMSG"}, {IORING_OP_SENDMSG, "SENDMSG"},
      {IORING_OP_READ, "READ"},       {IORING_OP_READ_FIXED, "READ_FIXED"},
      {IORING_OP_TIMEOUT, "TIMEOUT"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
      {IORING_OP_CLOSE, "CLOSE"},
  };
  absl::Status status;
  for (const Needed& n : kNeeded) {
    if (!io_uring_opcode_supported(probe, n.opcode)) {
      status = absl::UnavailableError(
          absl::StrCat("io_uring: kernel lacks IORING_OP_", n.name));
      break;
    }
  }
  io_uring_free_probe(probe);
  return status;
}

// Multishot recvmsg (Linux 6.0) has no probe bit: arm one on a fresh socket
// and cancel it. -EINVAL means the kernel does not know the flag.
absl::Status IoUringBackend::CheckMultishotReceive() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("socket", errno);
  constexpr uint64_t kProbe = 1;
  Receive(fd, kProbe);
  Cancel(kProbe);
  int result = 0;
  bool done = false;
  for (int attempt = 0; attempt < 100 && !done; ++attempt) {
    absl::StatusOr<int> polled = Poll(
        Clock::now() + std::chrono::milliseconds(10), [&](const Completion& c) {
          if (c.user_data == kProbe && !c.more) {
            result = c.result;
            done = true;
          }
        });
    if (!polled.ok()) {
      close(fd);
      return polled.status();
    }
  }
  close(fd);
  if (!done) return absl::UnavailableError("io_uring: receive probe hung");
  if (result == -EINVAL) {
    return absl::UnavailableError(
        "io_uring: kernel lacks multishot recvmsg (Linux 6.0)");
  }
  stats_ = {};
  return absl::OkStatus();
}

IoUringBackend::~IoUringBackend() {
  if (ring_ready_) {
    // A close queued but never submitted would leak its descriptor.
    for (unsigned i = ring_.sq.sqe_head; i != ring_.sq.sqe_tail; ++i) {
      const io_uring_sqe& sqe = ring_.sq.sqes[i & ring_.sq.ring_mask];
      if (sqe.opcode == IORING_OP_CLOSE) close(sqe.fd);
    }
    io_uring_queue_exit(&ring_);
  }
  for (BufferRing* ring : {&small_, &large_}) {
    if (ring->ring != nullptr) munmap(ring->ring, ring->ring_bytes);
    if (ring->buffers != nullptr) munmap(ring->buffers, ring->buffers_bytes);
  }
}

io_uring_sqe* IoUringBackend::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The submission queue is full: hand it to the kernel and go on.
    io_uring_submit(&ring_);
    ++stats_.enter_calls;
    pending_timespecs_.clear();
    sqe = io_uring_get_sqe(&ring_);
  }
  ++stats_.operations;
  return sqe;
}

void IoUringBackend::Receive(int fd, uint64_t user_data) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recvmsg_multishot(sqe, fd, &receive_template_, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, user_data);
}

void IoUringBackend::ReceiveLarge(int fd, uint64_t user_data) {
  if (large_.count == 0) {
    Receive(fd, user_data);
    return;
  }
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recvmsg_multishot(sqe, fd, &receive_template_, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kLargeBufferGroup;
  io_uring_sqe_set_data64(sqe, user_data);
}

void IoUringBackend::Send(int fd, const msghdr* message, uint64_t user_data) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_sendmsg(sqe, fd, message, 0);
  io_uring_sqe_set_data64(sqe, user_data);
}

void IoUringBackend::Read(int fd, uint64_t offset, absl::Span<uint8_t> buffer,
                          uint64_t user_data) {
  io_uring_sqe* sqe = GetSqe();
  int index = -1;
  for (size_t i = 0; i < registered_.size(); ++i) {
    const auto* base = static_cast<const uint8_t*>(registered_[i].iov_base);
    if (buffer.data() >= base &&
        buffer.data() + buffer.size() <= base + registered_[i].iov_len) {
      index = static_cast<int>(i);
      break;
    }
  }
  const unsigned length = static_cast<unsigned>(buffer.size());
  if (index >= 0) {
    io_uring_prep_read_fixed(sqe, fd, buffer.data(), length, offset, index);
  } else {
    io_uring_prep_read(sqe, fd, buffer.data(), length, offset);
  }
  io_uring_sqe_set_data64(sqe, user_data);
}

void IoUringBackend::Timer(TimePoint deadline, uint64_t user_data) {
  pending_timespecs_.push_back(ToTimespec(deadline.time_since_epoch()));
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_timeout(sqe, &pending_timespecs_.back(), 0, IORING_TIMEOUT_ABS);
  io_uring_sqe_set_data64(sqe, user_data);
}

void IoUringBackend::Cancel(uint64_t user_data) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_cancel64(sqe, user_data, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, kInternalUserData);
}

void IoUringBackend::Close(int fd) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer follows a descriptor from socket() to the close() it
  // intercepts; a close the kernel does for the ring is invisible to it, and
  // the number's next owner on another thread would look like a data race.
  close(fd);
#else
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_close(sqe, fd);
  io_uring_sqe_set_data64(sqe, kInternalUserData);
#endif
}

absl::Status IoUringBackend::RegisterBuffers(absl::Span<const iovec> regions) {
  if (!registered_.empty()) {
    io_uring_unregister_buffers(&ring_);
    registered_.clear();
  }
  if (regions.empty()) return absl::OkStatus();
  const int r = io_uring_register_buffers(
      &ring_, regions.data(), static_cast<unsigned>(regions.size()));
  if (r < 0) return Unavailable("register buffers", -r);
  registered_.assign(regions.begin(), regions.end());
  return absl::OkStatus();
}

void IoUringBackend::ParseDatagram(uint8_t* buffer, int length, Datagram* out) {
  io_uring_recvmsg_out* header =
      io_uring_recvmsg_validate(buffer, length, &receive_template_);
  if (header == nullptr) {
    out->truncated = true;
    return;
  }
  const socklen_t name_length =
      std::min<socklen_t>(header->namelen, receive_template_.msg_namelen);
  out->source = SocketAddress(
      static_cast<const sockaddr*>(io_uring_recvmsg_name(header)), name_length);
  ReadControlMessages(
      [&] {
        return io_uring_recvmsg_cmsg_firsthdr(header, &receive_template_);
      },
      [&](const cmsghdr* c) {
        return io_uring_recvmsg_cmsg_nexthdr(header, &receive_template_,
                                             const_cast<cmsghdr*>(c));
      },
      out);
  out->payload = absl::MakeConstSpan(
      static_cast<const uint8_t*>(
          io_uring_recvmsg_payload(header, &receive_template_)),
      io_uring_recvmsg_payload_length(header, length, &receive_template_));
  out->truncated = (header->flags & MSG_TRUNC) != 0;
}

bool IoUringBackend::Spin(std::optional<TimePoint> deadline) {
  ++stats_.spins;
  TimePoint until = Clock::now() + spin_limit_;
  if (deadline.has_value()) until = std::min(until, *deadline);
  do {
    // With IORING_SETUP_DEFER_TASKRUN a completion is only posted when this
    // thread enters the kernel to ask for it (min_complete 0: no sleep); the
    // same enter submits what is queued.
    io_uring_submit_and_get_events(&ring_);
    ++stats_.enter_calls;
    if (io_uring_cq_ready(&ring_) > 0) {
      ++stats_.spins_found;
      spin_backoff_.Found();
      return true;
    }
  } while (Clock::now() < until);
  spin_backoff_.FoundNothing();
  return false;
}

absl::StatusOr<int> IoUringBackend::Poll(
    std::optional<TimePoint> deadline,
    absl::FunctionRef<void(const Completion&)> handler) {
  io_uring_cqe* cqe = nullptr;
  int r = 0;
  if (spin_limit_ > Clock::duration::zero() && io_uring_cq_ready(&ring_) == 0 &&
      spin_backoff_.ShouldSpin() && Spin(deadline)) {
    // Found without sleeping: nothing to wait for.
  } else if (deadline.has_value() && *deadline <= Clock::now()) {
    // A wait of zero arms no timer (a costly one on a virtual machine): one
    // enter that submits and posts what is ready.
    r = io_uring_submit_and_get_events(&ring_);
  } else if (deadline.has_value()) {
    const auto wait =
        std::max(Clock::duration::zero(), *deadline - Clock::now());
    __kernel_timespec ts =
        ToTimespec(std::chrono::duration_cast<std::chrono::nanoseconds>(wait));
    r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  } else {
    r = io_uring_submit_and_wait(&ring_, 1);
  }
  ++stats_.enter_calls;
  pending_timespecs_.clear();
  if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
    return Unavailable("io_uring_enter", -r);
  }
  unsigned head;
  unsigned seen = 0;
  int handled = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    if (cqe->user_data == kInternalUserData) continue;
    Completion completion;
    completion.user_data = cqe->user_data;
    completion.result = cqe->res == -ETIME ? 0 : cqe->res;
    completion.more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    Datagram datagram;
    int buffer_id = -1;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
      buffer_id = static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      if (cqe->res >= 0) {
        ParseDatagram(RingOf(static_cast<unsigned>(buffer_id))
                          .Address(static_cast<unsigned>(buffer_id)),
                      cqe->res, &datagram);
        completion.datagram = &datagram;
      }
    }
    handler(completion);
    ++handled;
    if (buffer_id >= 0) {
      BufferRing& ring = RingOf(static_cast<unsigned>(buffer_id));
      io_uring_buf_ring_add(ring.ring,
                            ring.Address(static_cast<unsigned>(buffer_id)),
                            ring.size, static_cast<unsigned short>(buffer_id),
                            ring.mask, static_cast<int>(ring.recycled++));
    }
  }
  for (BufferRing* ring : {&small_, &large_}) {
    if (ring->recycled > 0) {
      io_uring_buf_ring_advance(ring->ring, static_cast<int>(ring->recycled));
      ring->recycled = 0;
    }
  }
  io_uring_cq_advance(&ring_, seen);
  stats_.completions += static_cast<uint64_t>(handled);
  return handled;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventBackend>> CreateIoUringBackend(
    const BackendOptions& options) {
  return IoUringBackend::Create(options);
}

}  // namespace io
