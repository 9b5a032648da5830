#include "tests/integration/blind_forger.h"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace tftpd::testing {

BlindForger::~BlindForger() {
  if (fd_ >= 0) close(fd_);
}

bool BlindForger::Open(std::string* why) {
  fd_ = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd_ < 0) {
    *why = std::string("raw socket: ") + std::strerror(errno) +
           " (it needs CAP_NET_RAW)";
    return false;
  }
  return true;
}

void BlindForger::Add(const io::SocketAddress& from,
                      const io::SocketAddress& to, const std::string& payload) {
  const auto* source = reinterpret_cast<const sockaddr_in*>(from.get());
  const auto* destination = reinterpret_cast<const sockaddr_in*>(to.get());
  std::string packet(sizeof(iphdr) + sizeof(udphdr) + payload.size(), '\0');
  auto* ip = reinterpret_cast<iphdr*>(packet.data());
  auto* udp = reinterpret_cast<udphdr*>(packet.data() + sizeof(iphdr));
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons(static_cast<uint16_t>(packet.size()));
  ip->saddr = source->sin_addr.s_addr;
  ip->daddr = destination->sin_addr.s_addr;
  udp->source = source->sin_port;
  udp->dest = destination->sin_port;
  udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload.size()));
  udp->check = 0;  // None: allowed over IPv4.
  std::memcpy(packet.data() + sizeof(iphdr) + sizeof(udphdr), payload.data(),
              payload.size());
  packets_.push_back(std::move(packet));
  if (packets_.size() >= kBatch) Flush();
}

void BlindForger::Flush() {
  size_t at = 0;
  while (at < packets_.size()) {
    const size_t n = std::min(kBatch, packets_.size() - at);
    std::vector<iovec> iov(n);
    std::vector<mmsghdr> messages(n);
    std::vector<sockaddr_in> to(n);
    for (size_t i = 0; i < n; ++i) {
      std::string& p = packets_[at + i];
      to[i].sin_family = AF_INET;
      to[i].sin_addr.s_addr = reinterpret_cast<iphdr*>(p.data())->daddr;
      iov[i] = {p.data(), p.size()};
      messages[i] = {};
      messages[i].msg_hdr.msg_name = &to[i];
      messages[i].msg_hdr.msg_namelen = sizeof to[i];
      messages[i].msg_hdr.msg_iov = &iov[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int done =
        sendmmsg(fd_, messages.data(), static_cast<unsigned>(n), 0);
    if (done <= 0) {
      // ENOBUFS: the kernel's queue is full; what did not fit is lost, as
      // a real forger's excess is.
      at += n;
      continue;
    }
    sent_ += static_cast<uint64_t>(done);
    at += static_cast<size_t>(done);
  }
  packets_.clear();
}

io::SocketAddress RandomForgedSource(std::mt19937& random) {
  io::SocketAddress address = *io::SocketAddress::Parse("127.128.0.0", 0);
  auto* in = reinterpret_cast<sockaddr_in*>(address.mutable_get());
  in->sin_addr.s_addr = htonl(0x7f800000u | (random() & 0x7fffffu));
  in->sin_port = htons(static_cast<uint16_t>(1024 + random() % 64000));
  return address;
}

io::SocketAddress WithPort(io::SocketAddress address, uint16_t port) {
  address.set_port(port);
  return address;
}

PortRange EphemeralPorts() {
  PortRange range;
  int first = 0;
  int last = 0;
  if (std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> first >>
      last) {
    range.first = static_cast<uint16_t>(first);
    range.last = static_cast<uint16_t>(last);
  }
  return range;
}

}  // namespace tftpd::testing
