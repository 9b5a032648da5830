// Opening UDP sockets for a server: the shared service socket of each shard
// (SO_REUSEPORT, a large receive buffer, the destination address of each
// datagram reported) and the per-transfer sockets bound to one local address.
#ifndef TFTPD_IO_UDP_SOCKET_H_
#define TFTPD_IO_UDP_SOCKET_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "io/socket_address.h"

namespace io {

struct ServiceSocketOptions {
  bool reuse_port = true;
  // Requested SO_RCVBUF in bytes; 0 keeps the kernel default.
  size_t receive_buffer = 0;
};

struct OpenedSocket {
  int fd = -1;
  // With the port the kernel chose for port 0 (a transfer socket's stays 0).
  SocketAddress bound;
  size_t receive_buffer = 0;  // What the kernel granted (SO_RCVBUF).
};

// A non-blocking UDP socket bound to `address`, reporting each datagram's
// destination address (IP_PKTINFO / IPV6_RECVPKTINFO). An IPv6 wildcard
// address is dual-stack. SO_RCVBUFFORCE is tried first so that a privileged
// process is not held to net.core.rmem_max.
absl::StatusOr<OpenedSocket> OpenServiceSocket(
    const SocketAddress& address, const ServiceSocketOptions& options);

// A UDP socket bound by someone else (systemd's socket activation passes
// one), made ready to serve as OpenServiceSocket's are: non-blocking,
// reporting destinations, with the receive buffer asked for. Refused when
// it is not a bound datagram socket.
absl::StatusOr<OpenedSocket> AdoptServiceSocket(
    int fd, const ServiceSocketOptions& options);

// A non-blocking UDP socket bound to `local` (its port is ignored) with an
// ephemeral port, which `bound` leaves 0. Pass the destination address a
// request arrived at, so that the reply comes from the address the client
// contacted.
absl::StatusOr<OpenedSocket> OpenTransferSocket(const SocketAddress& local);

}  // namespace io

#endif  // TFTPD_IO_UDP_SOCKET_H_
