// Reading the control messages that come with a received datagram (its
// destination address from IP_PKTINFO / IPV6_PKTINFO, and the segment size of
// a UDP_GRO-coalesced train), for every backend alike; and writing the one
// that picks the source address of a datagram sent from a wildcard socket.
#ifndef TFTPD_IO_CONTROL_MESSAGES_H_
#define TFTPD_IO_CONTROL_MESSAGES_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

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

// Room for the control message that AppendSourceAddress writes.
inline constexpr size_t kSourceAddressControlSize = 64;

// Appends to `message`'s control buffer (msg_control, holding `capacity`
// bytes of which msg_controllen are used) a control message that makes the
// datagram leave from `local`, as a reply to a datagram that arrived there
// must when the socket is bound to a wildcard address. False when `local`
// is not an address or there is no room (the kernel then picks the source).
bool AppendSourceAddress(msghdr* message, size_t capacity,
                         const SocketAddress& local);

// Appends a UDP_SEGMENT control message (UDP GSO: the kernel cuts the
// send into datagrams of `size` bytes). False where GSO is not built in or
// there is no room.
bool AppendSegmentSize(msghdr* message, size_t capacity, uint16_t size);

}  // namespace io

#endif  // TFTPD_IO_CONTROL_MESSAGES_H_
