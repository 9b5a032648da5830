// An event backend in memory, for tests of what runs on top of one: no
// socket is touched. Sockets are numbers the test picks; the test delivers
// datagrams to them and takes what was sent; timers fire when the test's
// clock says so. Reads of real descriptors (the pipe that wakes a loop) are
// real reads. Deterministic: Poll never waits, unless the test asks it to
// wait for a real descriptor (another thread's wake-up).
#ifndef TFTPD_IO_MEMORY_BACKEND_H_
#define TFTPD_IO_MEMORY_BACKEND_H_

#include <deque>
#include <functional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "io/event_backend.h"

namespace io {

// A datagram a socket sent, a UDP GSO train already cut into datagrams.
struct SentDatagram {
  int fd = -1;
  SocketAddress to;
  // The source address a control message chose (AF_UNSPEC: none).
  SocketAddress from;
  std::vector<uint8_t> payload;
  uint64_t send_number = 0;  // Of the Send call, counting from 1.
};

class MemoryBackend final : public EventBackend {
 public:
  MemoryBackend(const BackendOptions& options, std::function<TimePoint()> now);

  // A datagram from `source` reaches socket `fd` at `destination`: it
  // completes the socket's armed receive, or waits for one as a kernel's
  // receive buffer holds it. Longer than a receive buffer: cut, and marked
  // truncated.
  void Deliver(int fd, const SocketAddress& source,
               const SocketAddress& destination,
               absl::Span<const uint8_t> payload);
  // Every datagram sent since the last call, in order.
  std::vector<SentDatagram> TakeSent();
  // Sends complete with -`error` instead (0: they succeed again).
  void FailSends(int error) { send_error_ = error; }
  bool ReceiveArmed(int fd) const { return receives_.contains(fd); }
  // Send calls so far.
  uint64_t sends_submitted() const { return sends_submitted_; }
  // When nothing is ready, Poll blocks until a real descriptor with a read
  // armed is readable (for at most `limit`), instead of returning at once.
  void WaitForDescriptors(bool wait, std::chrono::milliseconds limit) {
    wait_for_descriptors_ = wait;
    wait_limit_ = limit;
  }

  // What the caller last asked a Poll to spin for (the memory backend
  // never sleeps, so never spins).
  Clock::duration spin_limit() const { return spin_limit_; }

  absl::string_view name() const override { return "memory"; }
  void Receive(int fd, uint64_t user_data) override;
  void ReceiveLarge(int fd, uint64_t user_data) override;
  void Send(int fd, const msghdr* message, uint64_t user_data) override;
  void Read(int fd, uint64_t offset, absl::Span<uint8_t> buffer,
            uint64_t user_data) override;
  void Timer(TimePoint deadline, uint64_t user_data) override;
  void Cancel(uint64_t user_data) override;
  // Its sockets are only numbers: the shard's environment counts closes.
  void Close(int fd) override {}
  absl::Status RegisterBuffers(absl::Span<const iovec> regions) override {
    return absl::OkStatus();
  }
  absl::StatusOr<int> Poll(
      std::optional<TimePoint> deadline,
      absl::FunctionRef<void(const Completion&)> handler) override;
  void SpinBeforeSleeping(Clock::duration limit) override {
    spin_limit_ = limit;
  }
  BackendStats stats() const override { return stats_; }

 private:
  struct HeldDatagram {
    std::vector<uint8_t> bytes;
    Datagram datagram;  // Its payload views `bytes` once ready.
  };
  struct Ready {
    Completion completion;
    std::unique_ptr<HeldDatagram> held;
  };
  struct PendingRead {
    int fd;
    uint64_t offset;
    absl::Span<uint8_t> buffer;
    uint64_t user_data;
  };
  struct PendingTimer {
    TimePoint deadline;
    uint64_t user_data;
  };
  void DeliverHeld(int fd, std::unique_ptr<HeldDatagram> held);
  void CollectReads(int timeout_ms);
  void CollectTimers();

  Clock::duration spin_limit_ = Clock::duration::zero();
  const BackendOptions options_;
  const std::function<TimePoint()> now_;
  struct Armed {
    uint64_t user_data;
    size_t buffer_size;
  };
  void Arm(int fd, uint64_t user_data, size_t buffer_size);
  absl::flat_hash_map<int, Armed> receives_;  // fd -> armed receive.
  absl::flat_hash_map<int, std::deque<std::unique_ptr<HeldDatagram>>> queued_;
  std::vector<PendingRead> reads_;
  std::vector<PendingTimer> timers_;
  std::deque<Ready> ready_;
  std::vector<SentDatagram> sent_;
  int send_error_ = 0;
  uint64_t sends_submitted_ = 0;
  bool wait_for_descriptors_ = false;
  std::chrono::milliseconds wait_limit_{0};
  BackendStats stats_;
};

}  // namespace io

#endif  // TFTPD_IO_MEMORY_BACKEND_H_
