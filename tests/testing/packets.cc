#include "tests/testing/packets.h"

#include "absl/strings/str_cat.h"

namespace tftpd::testing {

io::SocketAddress ClientAddress(size_t i, int family) {
  if (family == AF_INET6) return *io::SocketAddress::Parse("::1", 0);
  return *io::SocketAddress::Parse(
      absl::StrCat("127.1.", (i >> 8) & 255, ".", i & 255), 0);
}

std::string RequestPacket(uint16_t opcode, const std::string& filename,
                          const std::string& mode,
                          const std::vector<std::string>& options) {
  std::string p;
  p.push_back(static_cast<char>(opcode >> 8));
  p.push_back(static_cast<char>(opcode));
  for (const std::string& s : {filename, mode}) {
    p += s;
    p.push_back('\0');
  }
  for (const std::string& s : options) {
    p += s;
    p.push_back('\0');
  }
  return p;
}

std::string AckPacket(uint16_t block) {
  return std::string{0, 4, static_cast<char>(block >> 8),
                     static_cast<char>(block)};
}

int OpcodeOf(const std::string& d) {
  if (d.size() < 2) return 0;
  return (static_cast<uint8_t>(d[0]) << 8) | static_cast<uint8_t>(d[1]);
}

int ErrorCodeOf(const std::string& d) {
  if (OpcodeOf(d) != 5 || d.size() < 4) return -1;
  return (static_cast<uint8_t>(d[2]) << 8) | static_cast<uint8_t>(d[3]);
}

}  // namespace tftpd::testing
