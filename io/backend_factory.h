// Choosing an event backend: what the build can offer on this OS, and, for
// `auto`, the best one this kernel allows (io_uring, else epoll with the
// reason io_uring was refused).
#ifndef TFTPD_IO_BACKEND_FACTORY_H_
#define TFTPD_IO_BACKEND_FACTORY_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "io/event_backend.h"

namespace io {

enum class BackendKind { kAuto, kIoUring, kEpoll, kKqueue };

// "auto", "io_uring", "epoll" or "kqueue".
std::optional<BackendKind> ParseBackendKind(absl::string_view name);

struct CreatedBackend {
  std::unique_ptr<EventBackend> backend;
  // For kAuto: why the preferred backend was not used (empty when it was).
  std::string fallback_reason;
};

// A forced backend that cannot run here is an error saying why.
absl::StatusOr<CreatedBackend> CreateBackend(BackendKind kind,
                                             const BackendOptions& options);

}  // namespace io

#endif  // TFTPD_IO_BACKEND_FACTORY_H_
