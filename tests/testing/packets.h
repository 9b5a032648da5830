// TFTP datagrams made and read by hand, for tests that play a client, and
// the addresses simulated clients send from.
#ifndef TFTPD_TESTS_TESTING_PACKETS_H_
#define TFTPD_TESTS_TESTING_PACKETS_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/socket_address.h"

namespace tftpd::testing {

// The address simulated client `i` sends from: its own loopback address
// (127.1.x.y) for IPv4, as every machine in a rack has its own; ::1 for
// IPv6. Port 0.
io::SocketAddress ClientAddress(size_t i, int family = AF_INET);

// An RRQ (or WRQ) datagram.
std::string RequestPacket(uint16_t opcode, const std::string& filename,
                          const std::string& mode = "octet",
                          const std::vector<std::string>& options = {});
std::string AckPacket(uint16_t block);
// The ERROR code in `datagram`, or -1 when it is not an ERROR.
int ErrorCodeOf(const std::string& datagram);
// The opcode of `datagram`, or 0.
int OpcodeOf(const std::string& datagram);

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_TESTING_PACKETS_H_
