#include "io/control_messages.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cstdint>
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

namespace {

// A new control message of `size` data bytes at the end of `message`'s
// control buffer, or null when it does not fit.
cmsghdr* AddControlMessage(msghdr* message, size_t capacity, int level,
                           int type, size_t size) {
  const size_t used = message->msg_controllen;
  if (used + CMSG_SPACE(size) > capacity) return nullptr;
  auto* c = reinterpret_cast<cmsghdr*>(
      static_cast<uint8_t*>(message->msg_control) + used);
  std::memset(c, 0, CMSG_SPACE(size));
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(size);
  message->msg_controllen = used + CMSG_SPACE(size);
  return c;
}

}  // namespace

bool AppendSegmentSize(msghdr* message, size_t capacity, uint16_t size) {
#ifdef UDP_SEGMENT
  cmsghdr* c =
      AddControlMessage(message, capacity, SOL_UDP, UDP_SEGMENT, sizeof size);
  if (c == nullptr) return false;
  std::memcpy(CMSG_DATA(c), &size, sizeof size);
  return true;
#else
  (void)message;
  (void)capacity;
  (void)size;
  return false;
#endif
}

bool AppendSourceAddress(msghdr* message, size_t capacity,
                         const SocketAddress& local) {
  static_assert(CMSG_SPACE(sizeof(in6_pktinfo)) <= kSourceAddressControlSize);
  const SocketAddress address = local.Unmapped();
  if (address.family() == AF_INET) {
    const in_addr source =
        reinterpret_cast<const sockaddr_in*>(address.get())->sin_addr;
#if defined(IP_PKTINFO)
    // Linux takes this on IPv4 and on dual-stack IPv6 sockets alike.
    cmsghdr* c = AddControlMessage(message, capacity, IPPROTO_IP, IP_PKTINFO,
                                   sizeof(in_pktinfo));
    if (c == nullptr) return false;
    in_pktinfo info{};
    info.ipi_spec_dst = source;
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    return true;
#elif defined(IP_SENDSRCADDR)
    cmsghdr* c = AddControlMessage(message, capacity, IPPROTO_IP,
                                   IP_SENDSRCADDR, sizeof(in_addr));
    if (c == nullptr) return false;
    std::memcpy(CMSG_DATA(c), &source, sizeof source);
    return true;
#else
    return false;
#endif
  }
  if (address.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address.get());
    cmsghdr* c = AddControlMessage(message, capacity, IPPROTO_IPV6,
                                   IPV6_PKTINFO, sizeof(in6_pktinfo));
    if (c == nullptr) return false;
    in6_pktinfo info{};
    info.ipi6_addr = in6->sin6_addr;
    info.ipi6_ifindex = in6->sin6_scope_id;  // Set for link-local only.
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    return true;
  }
  return false;
}

}  // namespace io
