// The epoll backend (Linux): the readiness core of readiness_backend.cc on
// epoll, for hosts that refuse io_uring.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/status/status.h"
#include "io/event_backend.h"
#include "io/readiness_poller.h"

namespace io {
namespace {

class EpollPoller final : public ReadinessPoller {
 public:
  explicit EpollPoller(int epoll_fd) : epoll_fd_(epoll_fd) {}
  ~EpollPoller() override { close(epoll_fd_); }

  absl::string_view name() const override { return "epoll"; }

  void Watch(int fd, bool read, bool write, bool was_read,
             bool was_write) override {
    epoll_event event{};
    event.events = (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u);
    event.data.fd = fd;
    const bool watched = was_read || was_write;
    const int op = !watched        ? EPOLL_CTL_ADD
                   : read || write ? EPOLL_CTL_MOD
                                   : EPOLL_CTL_DEL;
    ++syscalls_;
    if (epoll_ctl(epoll_fd_, op, fd, &event) != 0 && op == EPOLL_CTL_MOD &&
        errno == ENOENT) {
      // The descriptor was closed and its number reused meanwhile.
      ++syscalls_;
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
    }
  }

  absl::StatusOr<int> Wait(absl::Span<Event> events,
                           const timespec* timeout) override {
    epoll_event raw[256];
    const int capacity =
        static_cast<int>(std::min<size_t>(events.size(), std::size(raw)));
    ++syscalls_;
    // epoll_pwait2 (Linux 5.11) takes a timespec: no rounding to ms.
    const int n = epoll_pwait2(epoll_fd_, raw, capacity, timeout, nullptr);
    if (n < 0) {
      if (errno == EINTR) return 0;
      return absl::ErrnoToStatus(errno, "epoll_pwait2");
    }
    for (int i = 0; i < n; ++i) {
      events[i].fd = raw[i].data.fd;
      events[i].readable = (raw[i].events & EPOLLIN) != 0;
      events[i].writable = (raw[i].events & EPOLLOUT) != 0;
      events[i].error = (raw[i].events & (EPOLLERR | EPOLLHUP)) != 0;
    }
    return n;
  }

 private:
  int epoll_fd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EventBackend>> CreateEpollBackend(
    const BackendOptions& options) {
  const int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "epoll_create1");
  return MakeReadinessBackend(std::make_unique<EpollPoller>(fd), options);
}

}  // namespace io
