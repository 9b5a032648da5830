// A forger that never reads a reply: UDP datagrams with any IPv4 source
// address and port, written through a raw socket (root or CAP_NET_RAW).
// What it sends is decided by the test's own clock and plan, never by what
// the server answered, which is all a real forger who is not on the path
// can do.
#ifndef TFTPD_TESTS_INTEGRATION_BLIND_FORGER_H_
#define TFTPD_TESTS_INTEGRATION_BLIND_FORGER_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "io/socket_address.h"

namespace tftpd::testing {

class BlindForger {
 public:
  BlindForger() = default;
  ~BlindForger();
  BlindForger(const BlindForger&) = delete;
  BlindForger& operator=(const BlindForger&) = delete;

  // False, with why, when the kernel refuses a raw socket.
  bool Open(std::string* why);
  // Queues a datagram from `from` to `to` (both IPv4); sent by Flush, or
  // when the queue is full.
  void Add(const io::SocketAddress& from, const io::SocketAddress& to,
           const std::string& payload);
  // Sends what is queued.
  void Flush();
  uint64_t sent() const { return sent_; }

 private:
  static constexpr size_t kBatch = 64;

  int fd_ = -1;
  std::vector<std::string> packets_;
  uint64_t sent_ = 0;
};

// A forged source in 127.128.0.0/9 (never one of ClientAddress()'s), any
// port from 1024 up, drawn from `random`.
io::SocketAddress RandomForgedSource(std::mt19937& random);
// `address` with `port`.
io::SocketAddress WithPort(io::SocketAddress address, uint16_t port);

// The kernel's ephemeral ports (ip_local_port_range), from which the
// server's transfer sockets and the real clients' sockets take theirs.
struct PortRange {
  uint16_t first = 32768;
  uint16_t last = 60999;
};
PortRange EphemeralPorts();

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_INTEGRATION_BLIND_FORGER_H_
