// The completion-shaped interface every event backend offers: submit
// receive, send, file read and timer operations, cancel them, and reap
// completions carrying the caller's 64-bit user data, a result, and for
// receives the datagram. It knows nothing of TFTP. io_uring implements it
// natively; readiness-based backends emulate it.
#ifndef TFTPD_IO_EVENT_BACKEND_H_
#define TFTPD_IO_EVENT_BACKEND_H_

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "io/socket_address.h"

namespace io {

// CLOCK_MONOTONIC, the clock io_uring timeouts use.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// A received datagram. Its views are valid only inside the completion
// handler: the backend reuses the buffer as soon as the handler returns.
struct Datagram {
  absl::Span<const uint8_t> payload;
  SocketAddress source;
  // Where the datagram was sent to (from IP_PKTINFO / IPV6_PKTINFO), port 0;
  // AF_UNSPEC when the socket does not report it.
  SocketAddress destination;
  bool truncated = false;  // Longer than the receive buffer; payload is cut.
  // With UDP_GRO enabled on the socket, several datagrams of one sender may
  // arrive coalesced: each `segment_size` bytes of the payload (the last one
  // possibly shorter) is one datagram. 0 for a single datagram.
  uint16_t segment_size = 0;
};

struct Completion {
  uint64_t user_data = 0;
  // Bytes received, sent or read; 0 for a timer that fired; or -errno
  // (-ECANCELED after Cancel, -ENOBUFS when receive buffers ran out).
  int32_t result = 0;
  // A multishot receive stays armed; when false it must be re-armed.
  bool more = false;
  // Receives with result >= 0 only.
  const Datagram* datagram = nullptr;
};

struct BackendOptions {
  unsigned queue_depth = 4096;
  // Receive buffers shared by every receive on this backend: memory for
  // receiving stays count * size however many sockets are armed.
  unsigned receive_buffers = 1024;  // A power of two.
  unsigned receive_buffer_size = 2048;
  // A second, smaller set of larger buffers for receives armed with
  // ReceiveLarge (uploads' large blocks); 0 buffers: ReceiveLarge is
  // Receive.
  unsigned large_receive_buffers = 0;  // A power of two.
  unsigned large_receive_buffer_size = 0;
};

struct BackendStats {
  uint64_t enter_calls = 0;  // System calls that submitted or waited.
  uint64_t operations = 0;   // Operations submitted.
  uint64_t completions = 0;  // Completions handed to the caller.
  uint64_t spins = 0;        // Waits that spun before sleeping...
  uint64_t spins_found = 0;  // ...and found a completion without sleeping.
};

// One instance per thread; none of its methods may be called from another.
class EventBackend {
 public:
  virtual ~EventBackend() = default;
  virtual absl::string_view name() const = 0;

  // Arms a multishot receive on a datagram socket: every datagram completes
  // with `user_data` and more == true, until Cancel, an error, or running out
  // of receive buffers ends it (more == false).
  virtual void Receive(int fd, uint64_t user_data) = 0;
  // The same, into the large receive buffers (BackendOptions).
  virtual void ReceiveLarge(int fd, uint64_t user_data) = 0;
  // Sends one datagram. `message` (name, iovecs and what they point to) must
  // stay valid until the completion.
  virtual void Send(int fd, const msghdr* message, uint64_t user_data) = 0;
  // Reads up to buffer.size() bytes at `offset`. Uses the registered-buffer
  // form when `buffer` lies inside a region given to RegisterBuffers.
  virtual void Read(int fd, uint64_t offset, absl::Span<uint8_t> buffer,
                    uint64_t user_data) = 0;
  // Completes with result 0 at `deadline`.
  virtual void Timer(TimePoint deadline, uint64_t user_data) = 0;
  // Cancels every pending operation carrying `user_data`; each completes
  // with -ECANCELED (a receive: its final completion). Cancelling nothing is
  // not an error.
  virtual void Cancel(uint64_t user_data) = 0;
  // Closes `fd` after the operations queued before it have been issued. The
  // io_uring backend queues the close with them (one system call fewer per
  // transfer); the others close at once. Nothing may be queued on `fd` after.
  virtual void Close(int fd) { close(fd); }
  // Registers memory regions for Read; replaces any earlier registration.
  virtual absl::Status RegisterBuffers(absl::Span<const iovec> regions) = 0;

  // Submits everything queued, waits until at least one completion is ready
  // or `deadline` passes (nullopt: no time limit; a past deadline: no
  // waiting), and hands each ready completion to `handler`, which may queue
  // new operations. Returns the number handled.
  virtual absl::StatusOr<int> Poll(
      std::optional<TimePoint> deadline,
      absl::FunctionRef<void(const Completion&)> handler) = 0;

  // From now on Poll, before it sleeps, looks for completions for up to
  // `limit` (zero, the default: it sleeps at once), backing off after spins
  // that find nothing (io/spin_backoff.h). A spin returns early at Poll's
  // deadline. Backends that cannot spin ignore it.
  virtual void SpinBeforeSleeping(Clock::duration limit) {}

  virtual BackendStats stats() const = 0;
};

// io_uring (liburing): fails with a status saying why when the kernel refuses
// a ring or lacks an operation or feature the server uses.
absl::StatusOr<std::unique_ptr<EventBackend>> CreateIoUringBackend(
    const BackendOptions& options);

// epoll: completions emulated on readiness. Linux only; always available
// there.
absl::StatusOr<std::unique_ptr<EventBackend>> CreateEpollBackend(
    const BackendOptions& options);

// kqueue: the same emulation on kqueue. FreeBSD and macOS; on Linux only in
// test builds linked with the kqueue emulation (tests/kqueue/).
absl::StatusOr<std::unique_ptr<EventBackend>> CreateKqueueBackend(
    const BackendOptions& options);

}  // namespace io

#endif  // TFTPD_IO_EVENT_BACKEND_H_
