// What a readiness mechanism (epoll, kqueue) must offer for the completion
// emulation in readiness_backend.cc: watch a descriptor for reading and/or
// writing, and wait for descriptors that became ready.
#ifndef TFTPD_IO_READINESS_POLLER_H_
#define TFTPD_IO_READINESS_POLLER_H_

#include <time.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "io/event_backend.h"

namespace io {

class ReadinessPoller {
 public:
  struct Event {
    int fd = -1;
    bool readable = false;
    bool writable = false;
    bool error = false;  // Error or hang-up: let the operations find out.
  };

  virtual ~ReadinessPoller() = default;
  virtual absl::string_view name() const = 0;
  // Starts, changes or (both false) stops watching `fd`. `was_read` and
  // `was_write` say what was watched until now.
  virtual void Watch(int fd, bool read, bool write, bool was_read,
                     bool was_write) = 0;
  // Waits until descriptors are ready or `timeout` passes (nullptr: no
  // limit); returns how many events it wrote.
  virtual absl::StatusOr<int> Wait(absl::Span<Event> events,
                                   const timespec* timeout) = 0;
  // System calls made so far (for BackendStats).
  uint64_t syscalls() const { return syscalls_; }

 protected:
  uint64_t syscalls_ = 0;
};

// The completion interface on top of `poller`.
std::unique_ptr<EventBackend> MakeReadinessBackend(
    std::unique_ptr<ReadinessPoller> poller, const BackendOptions& options);

}  // namespace io

#endif  // TFTPD_IO_READINESS_POLLER_H_
