// An IPv4 or IPv6 socket address (address and port) with value semantics:
// parsing, printing, comparison and hashing, so that transfers can be keyed by
// their peer. IPv4-mapped IPv6 addresses print as plain IPv4.
#ifndef TFTPD_IO_SOCKET_ADDRESS_H_
#define TFTPD_IO_SOCKET_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace io {

class SocketAddress {
 public:
  // The most an address takes (sockaddr_in6): room to pass to getsockname
  // and recvfrom through mutable_get().
  static constexpr socklen_t kCapacity = sizeof(sockaddr_in6);

  SocketAddress() { std::memset(&storage_, 0, sizeof storage_); }
  // Copies `length` bytes of an AF_INET or AF_INET6 address; anything else
  // gives an empty address (family() == AF_UNSPEC).
  SocketAddress(const sockaddr* address, socklen_t length);

  // "1.2.3.4", "::1", "[::1]" (brackets allowed); the port is set apart.
  static std::optional<SocketAddress> Parse(absl::string_view host,
                                            uint16_t port);

  int family() const { return storage_.base.sa_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
  const sockaddr* get() const {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  sockaddr* mutable_get() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const;
  // The address without the port, e.g. "192.0.2.1" or "2001:db8::1".
  std::string HostString() const;
  // "192.0.2.1:69" or "[2001:db8::1]:69".
  std::string ToString() const;
  bool IsIpv4Mapped() const;
  // An IPv4-mapped IPv6 address as plain IPv4 (AF_INET); others unchanged.
  SocketAddress Unmapped() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);
  friend bool operator!=(const SocketAddress& a, const SocketAddress& b) {
    return !(a == b);
  }
  template <typename H>
  friend H AbslHashValue(H h, const SocketAddress& a) {
    return H::combine(std::move(h), a.family(), a.port(), a.HostBytes());
  }

 private:
  absl::string_view HostBytes() const;
  // Only the two families it holds, not a sockaddr_storage (128 bytes): a
  // transfer table of 100,000 holds several of these per transfer.
  union Storage {
    sockaddr base;
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  static_assert(sizeof(Storage) == kCapacity);
  Storage storage_;
};

}  // namespace io

#endif  // TFTPD_IO_SOCKET_ADDRESS_H_
