#include "io/socket_address.h"

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"

namespace io {

SocketAddress::SocketAddress(const sockaddr* address, socklen_t length) {
  std::memset(&storage_, 0, sizeof storage_);
  if (address == nullptr) return;
  if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    std::memcpy(&storage_, address, sizeof(sockaddr_in));
  } else if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    std::memcpy(&storage_, address, sizeof(sockaddr_in6));
  }
}

std::optional<SocketAddress> SocketAddress::Parse(absl::string_view host,
                                                  uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string text(host);
  SocketAddress out;
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    std::memcpy(&out.storage_, &v6, sizeof v6);
    return out;
  }
  sockaddr_in v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    std::memcpy(&out.storage_, &v4, sizeof v4);
    return out;
  }
  return std::nullopt;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void SocketAddress::set_port(uint16_t port) {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

socklen_t SocketAddress::length() const {
  if (family() == AF_INET) return sizeof(sockaddr_in);
  if (family() == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

bool SocketAddress::IsIpv4Mapped() const {
  if (family() != AF_INET6) return false;
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
  return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr);
}

SocketAddress SocketAddress::Unmapped() const {
  if (!IsIpv4Mapped()) return *this;
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = v6->sin6_port;
  std::memcpy(&v4.sin_addr, &v6->sin6_addr.s6_addr[12], 4);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
}

std::string SocketAddress::HostString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET,
              &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
              sizeof text);
  } else if (family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    if (IsIpv4Mapped()) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    }
  } else {
    return "unspecified";
  }
  return text;
}

std::string SocketAddress::ToString() const {
  if (family() == AF_INET6 && !IsIpv4Mapped()) {
    return absl::StrCat("[", HostString(), "]:", port());
  }
  return absl::StrCat(HostString(), ":", port());
}

absl::string_view SocketAddress::HostBytes() const {
  if (family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage_);
    return absl::string_view(reinterpret_cast<const char*>(&v4->sin_addr), 4);
  }
  if (family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    return absl::string_view(reinterpret_cast<const char*>(&v6->sin6_addr), 16);
  }
  return {};
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.family() == b.family() && a.port() == b.port() &&
         a.HostBytes() == b.HostBytes();
}

}  // namespace io
