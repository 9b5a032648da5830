// Reading the control messages that come with a received datagram (its
// destination address from IP_PKTINFO / IPV6_PKTINFO, and the segment size of
// a UDP_GRO-coalesced train), for every backend alike.
#ifndef TFTPD_IO_CONTROL_MESSAGES_H_
#define TFTPD_IO_CONTROL_MESSAGES_H_

#include <sys/socket.h>

#include <cstddef>

#include "io/event_backend.h"

namespace io {

// Room for an IP_PKTINFO, an IPV6_PKTINFO and a UDP_GRO control message.
inline constexpr size_t kReceiveControlSize = 128;

// Fills `out->destination` and `out->segment_size` from the control messages
// from `first` on, walking them with `next`.
template <typename First, typename Next>
void ReadControlMessages(First first, Next next, Datagram* out);

// The same for a msghdr filled by recvmsg.
void ReadControlMessages(msghdr* message, Datagram* out);

// One control message: updates `out`, and `ipv6_destination` for an
// IPV6_PKTINFO (used only when no IP_PKTINFO came).
void ReadControlMessage(const cmsghdr* c, Datagram* out,
                        SocketAddress* ipv6_destination);

template <typename First, typename Next>
void ReadControlMessages(First first, Next next, Datagram* out) {
  SocketAddress ipv6_destination;
  for (const cmsghdr* c = first(); c != nullptr; c = next(c)) {
    ReadControlMessage(c, out, &ipv6_destination);
  }
  if (out->destination.family() == AF_UNSPEC) {
    out->destination = ipv6_destination;
  }
}

}  // namespace io

#endif  // TFTPD_IO_CONTROL_MESSAGES_H_
