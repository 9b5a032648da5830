// The completion interface emulated on top of readiness, shared by the epoll
// backend (Linux hosts that refuse io_uring, as container runtimes' default
// seccomp profiles do) and the kqueue backend (FreeBSD, macOS). A receive
// stays armed as read interest and delivers every datagram recvmsg finds; a
// send is attempted at once and waits for write readiness only when the
// socket is full; reads are pread calls (served files sit in the page cache),
// and on pipes, eventfds and the like wait for read readiness as io_uring's
// do; timers live in user space and bound the wait.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "io/control_messages.h"
#include "io/event_backend.h"
#include "io/readiness_poller.h"
#include "io/spin_backoff.h"

namespace io {
namespace {

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_DONTWAIT | MSG_NOSIGNAL;
#else
constexpr int kSendFlags = MSG_DONTWAIT;  // macOS: datagram sockets never
                                          // raise SIGPIPE anyway.
#endif

constexpr int kMaxEvents = 256;
// Datagrams read from one socket per Poll, so that a busy socket cannot
// starve the others; the rest wait for the next Poll.
constexpr int kReceiveBudget = 64;

class ReadinessBackend final : public EventBackend {
 public:
  ReadinessBackend(std::unique_ptr<ReadinessPoller> poller,
                   const BackendOptions& options)
      : poller_(std::move(poller)),
        small_size_(options.receive_buffer_size),
        large_size_(options.large_receive_buffers > 0
                        ? options.large_receive_buffer_size
                        : options.receive_buffer_size),
        buffer_(std::max(small_size_, large_size_)) {}

  absl::string_view name() const override { return poller_->name(); }

  void Receive(int fd, uint64_t user_data) override {
    Arm(fd, user_data, /*large=*/false);
  }
  void ReceiveLarge(int fd, uint64_t user_data) override {
    Arm(fd, user_data, /*large=*/true);
  }
  void Arm(int fd, uint64_t user_data, bool large) {
    ++stats_.operations;
    FdState& state = fds_[fd];
    state.receive = user_data;
    state.large = large;
    receives_[user_data] = fd;
    Update(fd);
  }

  void Send(int fd, const msghdr* message, uint64_t user_data) override {
    ++stats_.operations;
    fds_[fd].sends.push_back(PendingSend{message, user_data});
    fresh_sends_.insert(fd);
  }

  void Read(int fd, uint64_t offset, absl::Span<uint8_t> buffer,
            uint64_t user_data) override {
    ++stats_.operations;
    fds_[fd].reads.push_back(PendingRead{offset, buffer, user_data});
    fresh_reads_.insert(fd);
  }

  void Timer(TimePoint deadline, uint64_t user_data) override {
    ++stats_.operations;
    timers_.emplace(deadline, user_data);
  }

  void Cancel(uint64_t user_data) override;

  absl::Status RegisterBuffers(absl::Span<const iovec> regions) override {
    return absl::OkStatus();  // Reads are pread calls: nothing to register.
  }

  absl::StatusOr<int> Poll(
      std::optional<TimePoint> deadline,
      absl::FunctionRef<void(const Completion&)> handler) override;

  void SpinBeforeSleeping(Clock::duration limit) override {
    spin_limit_ = limit;
  }

  BackendStats stats() const override {
    BackendStats stats = stats_;
    stats.enter_calls += poller_->syscalls();
    return stats;
  }

 private:
  struct PendingSend {
    const msghdr* message;
    uint64_t user_data;
  };
  struct PendingRead {
    uint64_t offset;
    absl::Span<uint8_t> buffer;
    uint64_t user_data;
  };
  struct FdState {
    std::optional<uint64_t> receive;
    bool large = false;  // The receive takes large buffers.
    std::deque<PendingSend> sends;
    std::deque<PendingRead> reads;
    bool waiting_to_send = false;  // A send met a full socket.
    bool waiting_to_read = false;  // A read found nothing to read yet.
    bool watching_read = false;    // What the poller watches for this fd.
    bool watching_write = false;
  };

  void Complete(uint64_t user_data, int32_t result) {
    ready_.push_back(Completion{user_data, result, false, nullptr});
  }
  // Asks the poller without sleeping until it reports events or the spin's
  // time (cut at `until`) is up; the events found, 0 when none.
  absl::StatusOr<int> Spin(absl::Span<ReadinessPoller::Event> events,
                           std::optional<TimePoint> until);
  void TrySends(int fd);
  void TryReads(int fd);
  void ReceiveFrom(int fd, absl::FunctionRef<void(const Completion&)> handler,
                   int* handled);
  // Makes the poller watch what `fd` waits for; forgets an fd that waits for
  // nothing, so that a closed and reused descriptor starts afresh.
  void Update(int fd);

  std::unique_ptr<ReadinessPoller> poller_;
  Clock::duration spin_limit_ = Clock::duration::zero();
  SpinBackoff spin_backoff_;
  const size_t small_size_;
  const size_t large_size_;
  std::vector<uint8_t> buffer_;
  absl::flat_hash_map<int, FdState> fds_;
  absl::flat_hash_map<uint64_t, int> receives_;  // user_data -> fd
  absl::flat_hash_set<int> fresh_sends_;
  absl::flat_hash_set<int> fresh_reads_;
  std::multimap<TimePoint, uint64_t> timers_;
  std::vector<Completion> ready_;
  BackendStats stats_;
};

void ReadinessBackend::Cancel(uint64_t user_data) {
  if (auto it = receives_.find(user_data); it != receives_.end()) {
    const int fd = it->second;
    receives_.erase(it);
    FdState& state = fds_[fd];
    state.receive.reset();
    Complete(user_data, -ECANCELED);
    Update(fd);
  }
  for (auto it = timers_.begin(); it != timers_.end();) {
    if (it->second == user_data) {
      Complete(user_data, -ECANCELED);
      it = timers_.erase(it);
    } else {
      ++it;
    }
  }
  // Sends and reads not yet done (a full socket, nothing to read yet).
  std::vector<int> touched;
  for (auto& [fd, state] : fds_) {
    const size_t before = state.sends.size() + state.reads.size();
    std::erase_if(state.sends, [&](const PendingSend& p) {
      return p.user_data == user_data;
    });
    std::erase_if(state.reads, [&](const PendingRead& p) {
      return p.user_data == user_data;
    });
    const size_t removed = before - state.sends.size() - state.reads.size();
    for (size_t i = 0; i < removed; ++i) Complete(user_data, -ECANCELED);
    if (removed > 0) touched.push_back(fd);
  }
  for (int fd : touched) {
    FdState& state = fds_[fd];
    if (state.reads.empty()) state.waiting_to_read = false;
    if (state.sends.empty()) state.waiting_to_send = false;
    Update(fd);
  }
}

void ReadinessBackend::TrySends(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  FdState& state = it->second;
  state.waiting_to_send = false;
  while (!state.sends.empty()) {
    const PendingSend& send = state.sends.front();
    ++stats_.enter_calls;
    const ssize_t n = sendmsg(fd, send.message, kSendFlags);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      state.waiting_to_send = true;
      break;
    }
    Complete(send.user_data, n >= 0 ? static_cast<int32_t>(n) : -errno);
    state.sends.pop_front();
  }
  Update(fd);
}

void ReadinessBackend::TryReads(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  FdState& state = it->second;
  state.waiting_to_read = false;
  while (!state.reads.empty()) {
    const PendingRead& read = state.reads.front();
    ++stats_.enter_calls;
    ssize_t n = pread(fd, read.buffer.data(), read.buffer.size(),
                      static_cast<off_t>(read.offset));
    if (n < 0 && errno == ESPIPE) {  // A pipe or an eventfd: no offsets.
      ++stats_.enter_calls;
      n = ::read(fd, read.buffer.data(), read.buffer.size());
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      state.waiting_to_read = true;
      break;
    }
    Complete(read.user_data, n >= 0 ? static_cast<int32_t>(n) : -errno);
    state.reads.pop_front();
  }
  Update(fd);
}

void ReadinessBackend::ReceiveFrom(
    int fd, absl::FunctionRef<void(const Completion&)> handler, int* handled) {
  for (int i = 0; i < kReceiveBudget; ++i) {
    auto it = fds_.find(fd);
    if (it == fds_.end() || !it->second.receive.has_value()) return;
    const uint64_t user_data = *it->second.receive;
    sockaddr_storage source{};
    alignas(cmsghdr) uint8_t control[kReceiveControlSize];
    // Each receive is held to its buffers' size, as io_uring's are.
    iovec iov{buffer_.data(), it->second.large ? large_size_ : small_size_};
    msghdr message{};
    message.msg_name = &source;
    message.msg_namelen = sizeof source;
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ++stats_.enter_calls;
    const ssize_t n = recvmsg(fd, &message, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      // The receive ends, as a failed multishot receive does.
      const int error = errno;
      receives_.erase(user_data);
      it->second.receive.reset();
      Update(fd);
      Completion failed{user_data, -error, false, nullptr};
      handler(failed);
      ++*handled;
      return;
    }
    Datagram datagram;
    datagram.source = SocketAddress(reinterpret_cast<sockaddr*>(&source),
                                    message.msg_namelen);
    ReadControlMessages(&message, &datagram);
    datagram.payload = absl::MakeConstSpan(
        buffer_.data(), std::min<size_t>(static_cast<size_t>(n), iov.iov_len));
    datagram.truncated = (message.msg_flags & MSG_TRUNC) != 0;
    Completion completion{user_data, static_cast<int32_t>(n), true, &datagram};
    handler(completion);
    ++*handled;
  }
}

void ReadinessBackend::Update(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  FdState& state = it->second;
  const bool read = state.receive.has_value() || state.waiting_to_read;
  const bool write = state.waiting_to_send;
  if (read != state.watching_read || write != state.watching_write) {
    poller_->Watch(fd, read, write, state.watching_read, state.watching_write);
    state.watching_read = read;
    state.watching_write = write;
  }
  if (!read && !write && state.sends.empty() && state.reads.empty()) {
    fds_.erase(it);
  }
}

absl::StatusOr<int> ReadinessBackend::Spin(
    absl::Span<ReadinessPoller::Event> events, std::optional<TimePoint> until) {
  ++stats_.spins;
  TimePoint end = Clock::now() + spin_limit_;
  if (until.has_value()) end = std::min(end, *until);
  timespec no_wait{0, 0};
  do {
    absl::StatusOr<int> n = poller_->Wait(events, &no_wait);
    if (!n.ok() || *n > 0) {
      if (n.ok()) {
        ++stats_.spins_found;
        spin_backoff_.Found();
      }
      return n;
    }
  } while (Clock::now() < end);
  spin_backoff_.FoundNothing();
  return 0;
}

absl::StatusOr<int> ReadinessBackend::Poll(
    std::optional<TimePoint> deadline,
    absl::FunctionRef<void(const Completion&)> handler) {
  // Submit: what was queued since the last Poll.
  for (int fd : fresh_sends_) TrySends(fd);
  fresh_sends_.clear();
  for (int fd : fresh_reads_) TryReads(fd);
  fresh_reads_.clear();

  // Wait: not at all when completions are ready, otherwise until the
  // earliest of the caller's deadline and our timers.
  std::optional<TimePoint> until = deadline;
  if (!timers_.empty() &&
      (!until.has_value() || timers_.begin()->first < *until)) {
    until = timers_.begin()->first;
  }
  ReadinessPoller::Event events[kMaxEvents];
  absl::StatusOr<int> n = 0;
  if (ready_.empty() && spin_limit_ > Clock::duration::zero() &&
      spin_backoff_.ShouldSpin()) {
    n = Spin(absl::MakeSpan(events), until);
  }
  // An interrupted wait (EINTR: a signal, or io_uring task work queued to
  // this thread by a ring it used) returns no events before the deadline:
  // wait again for what is left, so that Poll returns at its deadline as
  // the other backends do.
  while (n.ok() && *n == 0) {
    timespec timeout{0, 0};
    timespec* wait = nullptr;
    if (!ready_.empty()) {
      wait = &timeout;
    } else if (until.has_value()) {
      const auto left =
          std::max(Clock::duration::zero(), *until - Clock::now());
      const auto ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(left);
      timeout.tv_sec = ns.count() / 1'000'000'000;
      timeout.tv_nsec = ns.count() % 1'000'000'000;
      wait = &timeout;
    }
    n = poller_->Wait(absl::MakeSpan(events), wait);
    if (wait == nullptr || !ready_.empty() || Clock::now() >= *until) break;
  }
  if (!n.ok()) return n.status();

  int handled = 0;
  for (int i = 0; i < *n; ++i) {
    const int fd = events[i].fd;
    if (events[i].writable || events[i].error) TrySends(fd);
    if (events[i].readable || events[i].error) {
      TryReads(fd);
      ReceiveFrom(fd, handler, &handled);
    }
  }
  const TimePoint now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    Complete(timers_.begin()->second, 0);
    timers_.erase(timers_.begin());
  }
  // Handlers may queue more: deliver what is ready now, keep the rest.
  std::vector<Completion> ready;
  ready.swap(ready_);
  for (const Completion& c : ready) {
    handler(c);
    ++handled;
  }
  stats_.completions += static_cast<uint64_t>(handled);
  return handled;
}

}  // namespace

std::unique_ptr<EventBackend> MakeReadinessBackend(
    std::unique_ptr<ReadinessPoller> poller, const BackendOptions& options) {
  return std::make_unique<ReadinessBackend>(std::move(poller), options);
}

}  // namespace io
