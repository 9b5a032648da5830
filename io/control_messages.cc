#include "io/control_messages.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cstring>

namespace io {
namespace {

SocketAddress Ipv4Destination(in_addr address) {
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = address;
  return SocketAddress(reinterpret_cast<sockaddr*>(&local), sizeof local);
}

}  // namespace

void ReadControlMessage(const cmsghdr* c, Datagram* out,
                        SocketAddress* ipv6_destination) {
#ifdef IP_PKTINFO
  if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
    in_pktinfo info;
    std::memcpy(&info, CMSG_DATA(c), sizeof info);
    // The local address the kernel would answer from (for a broadcast
    // request this is the interface's address, not the broadcast one).
    out->destination = Ipv4Destination(info.ipi_spec_dst);
    return;
  }
#endif
#ifdef IP_RECVDSTADDR
  // FreeBSD and macOS report an IPv4 destination this way.
  if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVDSTADDR) {
    in_addr address;
    std::memcpy(&address, CMSG_DATA(c), sizeof address);
    out->destination = Ipv4Destination(address);
    return;
  }
#endif
  if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
    in6_pktinfo info;
    std::memcpy(&info, CMSG_DATA(c), sizeof info);
    sockaddr_in6 local{};
    local.sin6_family = AF_INET6;
    local.sin6_addr = info.ipi6_addr;
    if (IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr)) {
      local.sin6_scope_id = info.ipi6_ifindex;
    }
    *ipv6_destination =
        SocketAddress(reinterpret_cast<sockaddr*>(&local), sizeof local)
            .Unmapped();
    return;
  }
#ifdef UDP_GRO
  if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
    int segment = 0;
    std::memcpy(&segment, CMSG_DATA(c), sizeof segment);
    out->segment_size = static_cast<uint16_t>(segment);
  }
#endif
}

void ReadControlMessages(msghdr* message, Datagram* out) {
  ReadControlMessages([message] { return CMSG_FIRSTHDR(message); },
                      [message](const cmsghdr* c) {
                        return CMSG_NXTHDR(message, const_cast<cmsghdr*>(c));
                      },
                      out);
}

}  // namespace io
