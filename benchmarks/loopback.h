// What the loopback limit benchmarks share: pinning a thread to a CPU (as
// compare.py pins the server to CPU 0 and the load generator to CPU 1) and a
// UDP socket bound to a free port on 127.0.0.1.
#ifndef TFTPD_BENCHMARKS_LOOPBACK_H_
#define TFTPD_BENCHMARKS_LOOPBACK_H_

#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>

#include <thread>

#include "io/socket_address.h"

namespace benchmarks {

inline void PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % static_cast<int>(std::thread::hardware_concurrency()), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// `flags`: more socket type flags (SOCK_NONBLOCK); `bound` gets the port.
inline int LoopbackSocket(int flags, io::SocketAddress* bound) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | flags, 0);
  io::SocketAddress any = *io::SocketAddress::Parse("127.0.0.1", 0);
  bind(fd, any.get(), any.length());
  socklen_t length = io::SocketAddress::kCapacity;
  getsockname(fd, bound->mutable_get(), &length);
  return fd;
}

}  // namespace benchmarks

#endif  // TFTPD_BENCHMARKS_LOOPBACK_H_
