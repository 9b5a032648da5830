#include "io/udp_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace io {
namespace {

absl::Status Errno(absl::string_view what, int error) {
  return absl::ErrnoToStatus(error, what);
}

absl::StatusOr<SocketAddress> BoundAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return Errno("getsockname", errno);
  }
  return SocketAddress(reinterpret_cast<sockaddr*>(&storage), length);
}

int OpenUdp(int family) {
  return socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

// Binds `fd`; closes it on failure.
absl::Status Bind(int fd, const SocketAddress& address) {
  if (bind(fd, address.get(), address.length()) == 0) return absl::OkStatus();
  const int error = errno;
  close(fd);
  return Errno(absl::StrCat("bind ", address.ToString()), error);
}

// Binds `fd` and reports what it got; closes `fd` on failure.
absl::StatusOr<OpenedSocket> BindAndDescribe(int fd,
                                             const SocketAddress& address) {
  if (absl::Status s = Bind(fd, address); !s.ok()) return s;
  absl::StatusOr<SocketAddress> bound = BoundAddress(fd);
  if (!bound.ok()) {
    close(fd);
    return bound.status();
  }
  OpenedSocket opened;
  opened.fd = fd;
  opened.bound = *bound;
  return opened;
}

// What every service socket needs, bound or not yet: the destination
// address of each datagram reported, and room for a burst of requests.
absl::Status SetServiceOptions(int fd, int family,
                               const ServiceSocketOptions& options) {
  const int one = 1;
  if (family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0) {
    return Errno("setsockopt(IPV6_RECVPKTINFO)", errno);
  }
  // IPv4 datagrams, including those reaching a dual-stack socket, report
  // their destination (IP_PKTINFO on Linux, IP_RECVDSTADDR on the BSDs).
#ifdef IP_PKTINFO
  constexpr int kDestination = IP_PKTINFO;
#else
  constexpr int kDestination = IP_RECVDSTADDR;
#endif
  if (setsockopt(fd, IPPROTO_IP, kDestination, &one, sizeof one) != 0 &&
      family == AF_INET) {
    return Errno("setsockopt(IP_PKTINFO)", errno);
  }
  if (options.receive_buffer > 0) {
    const int size = static_cast<int>(
        std::min<size_t>(options.receive_buffer, INT32_MAX / 2));
    bool forced = false;
#ifdef SO_RCVBUFFORCE
    // Linux, with CAP_NET_ADMIN: not held to net.core.rmem_max.
    forced =
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) == 0;
#endif
    if (!forced) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  return absl::OkStatus();
}

size_t GrantedReceiveBuffer(int fd) {
  int granted = 0;
  socklen_t length = sizeof granted;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &length) != 0) return 0;
  // Linux reports twice the usable size (it counts bookkeeping overhead).
  return static_cast<size_t>(granted) / 2;
}

}  // namespace

absl::StatusOr<OpenedSocket> OpenServiceSocket(
    const SocketAddress& address, const ServiceSocketOptions& options) {
  const int fd = OpenUdp(address.family());
  if (fd < 0) return Errno("socket", errno);
  auto fail = [fd](absl::string_view what) {
    const int error = errno;
    close(fd);
    return Errno(what, error);
  };
  const int one = 1;
  const int zero = 0;
#ifdef SO_REUSEPORT_LB
  // FreeBSD 12+: SO_REUSEPORT does not balance; SO_REUSEPORT_LB does.
  constexpr int kReusePort = SO_REUSEPORT_LB;
#else
  constexpr int kReusePort = SO_REUSEPORT;
#endif
  if (options.reuse_port &&
      setsockopt(fd, SOL_SOCKET, kReusePort, &one, sizeof one) != 0) {
    return fail("setsockopt(SO_REUSEPORT)");
  }
  if (address.family() == AF_INET6) {
    // Dual-stack on "::"; harmless on a specific IPv6 address.
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (absl::Status s = SetServiceOptions(fd, address.family(), options);
      !s.ok()) {
    close(fd);
    return s;
  }
  absl::StatusOr<OpenedSocket> opened = BindAndDescribe(fd, address);
  if (!opened.ok()) return opened;
  opened->receive_buffer = GrantedReceiveBuffer(fd);
  return opened;
}

absl::StatusOr<OpenedSocket> AdoptServiceSocket(
    int fd, const ServiceSocketOptions& options) {
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) {
    return Errno(absl::StrCat("passed socket ", fd), errno);
  }
  if (type != SOCK_DGRAM) {
    return absl::InvalidArgumentError(
        absl::StrCat("passed socket ", fd, " is not a datagram socket"));
  }
  absl::StatusOr<SocketAddress> bound = BoundAddress(fd);
  if (!bound.ok()) return bound.status();
  if (bound->port() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("passed socket ", fd, " is not bound to a port"));
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (absl::Status s = SetServiceOptions(fd, bound->family(), options);
      !s.ok()) {
    return s;
  }
  OpenedSocket opened;
  opened.fd = fd;
  opened.bound = *bound;
  opened.receive_buffer = GrantedReceiveBuffer(fd);
  return opened;
}

absl::StatusOr<OpenedSocket> OpenTransferSocket(const SocketAddress& local) {
  const int fd = OpenUdp(local.family());
  if (fd < 0) return Errno("socket", errno);
  SocketAddress address = local;
  address.set_port(0);
  if (local.family() == AF_INET6) {
    const int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  // The port the kernel picks is not looked up: a transfer never needs it,
  // and asking would cost a system call per request.
  if (absl::Status s = Bind(fd, address); !s.ok()) return s;
  return OpenedSocket{fd, address, 0};
}

}  // namespace io
