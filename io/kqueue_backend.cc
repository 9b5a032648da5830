// The kqueue backend (FreeBSD, macOS): the readiness core of
// readiness_backend.cc on kqueue. Written against the BSD API (sys/event.h,
// EV_SET); on Linux it is built only in tests, against the kqueue emulation
// in tests/kqueue/, and is not verified on a BSD kernel.
#include <sys/event.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "absl/status/status.h"
#include "io/event_backend.h"
#include "io/readiness_poller.h"

namespace io {
namespace {

class KqueuePoller final : public ReadinessPoller {
 public:
  explicit KqueuePoller(int kq) : kq_(kq) {}
  ~KqueuePoller() override { close(kq_); }

  absl::string_view name() const override { return "kqueue"; }

  void Watch(int fd, bool read, bool write, bool was_read,
             bool was_write) override {
    struct kevent changes[2];
    int n = 0;
    if (read != was_read) {
      EV_SET(&changes[n++], fd, EVFILT_READ, read ? EV_ADD : EV_DELETE, 0, 0,
             nullptr);
    }
    if (write != was_write) {
      EV_SET(&changes[n++], fd, EVFILT_WRITE, write ? EV_ADD : EV_DELETE, 0, 0,
             nullptr);
    }
    if (n == 0) return;
    ++syscalls_;
    // A filter deleted from a descriptor closed meanwhile is already gone
    // (ENOENT); nothing else can fail for a valid descriptor.
    kevent(kq_, changes, n, nullptr, 0, nullptr);
  }

  absl::StatusOr<int> Wait(absl::Span<Event> events,
                           const timespec* timeout) override {
    struct kevent raw[256];
    const int capacity =
        static_cast<int>(std::min<size_t>(events.size(), std::size(raw)));
    ++syscalls_;
    const int n = kevent(kq_, nullptr, 0, raw, capacity, timeout);
    if (n < 0) {
      if (errno == EINTR) return 0;
      return absl::ErrnoToStatus(errno, "kevent");
    }
    for (int i = 0; i < n; ++i) {
      events[i] = Event{};
      events[i].fd = static_cast<int>(raw[i].ident);
      events[i].readable = raw[i].filter == EVFILT_READ;
      events[i].writable = raw[i].filter == EVFILT_WRITE;
      events[i].error = (raw[i].flags & EV_ERROR) != 0;
    }
    return n;
  }

 private:
  int kq_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EventBackend>> CreateKqueueBackend(
    const BackendOptions& options) {
  const int kq = kqueue();
  if (kq < 0) return absl::ErrnoToStatus(errno, "kqueue");
  return MakeReadinessBackend(std::make_unique<KqueuePoller>(kq), options);
}

}  // namespace io
