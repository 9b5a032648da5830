#include "io/backend_factory.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace io {

std::optional<BackendKind> ParseBackendKind(absl::string_view name) {
  if (name == "auto") return BackendKind::kAuto;
  if (name == "io_uring") return BackendKind::kIoUring;
  if (name == "epoll") return BackendKind::kEpoll;
  if (name == "kqueue") return BackendKind::kKqueue;
  return std::nullopt;
}

absl::StatusOr<CreatedBackend> CreateBackend(BackendKind kind,
                                             const BackendOptions& options) {
  CreatedBackend created;
  absl::StatusOr<std::unique_ptr<EventBackend>> backend =
      absl::UnimplementedError("");
  switch (kind) {
#ifdef TFTPD_HAVE_IO_URING_AND_EPOLL
    case BackendKind::kIoUring:
      backend = CreateIoUringBackend(options);
      break;
    case BackendKind::kEpoll:
      backend = CreateEpollBackend(options);
      break;
    case BackendKind::kAuto:
      backend = CreateIoUringBackend(options);
      if (!backend.ok()) {
        created.fallback_reason = std::string(backend.status().message());
        backend = CreateEpollBackend(options);
      }
      break;
#else
    case BackendKind::kIoUring:
    case BackendKind::kEpoll:
      return absl::UnimplementedError(
          "io_uring and epoll are Linux backends; this build has kqueue");
    case BackendKind::kAuto:
#endif
    case BackendKind::kKqueue:
#ifdef TFTPD_HAVE_KQUEUE
      backend = CreateKqueueBackend(options);
      break;
#else
      return absl::UnimplementedError(
          "the kqueue backend is for FreeBSD and macOS; this Linux build has "
          "io_uring and epoll");
#endif
  }
  if (!backend.ok()) return backend.status();
  created.backend = std::move(*backend);
  return created;
}

}  // namespace io
