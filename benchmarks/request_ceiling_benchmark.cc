// The per-request ceiling: the cheapest possible RRQ -> DATA -> ACK exchange
// on this kernel, the system calls alone, in the shape of compare.py's
// "5000x1KiB via 200" cell. A server thread on CPU 0 answers each RRQ from a
// new socket (socket, epoll_ctl, sendto DATA 1), sends each next block when
// its ACK comes (recv, sendto) and closes the socket at the last ACK; it
// parses nothing, reads no file and checks nothing. The client side on CPU 1
// keeps 200 transfers in flight on 200 sockets and does as little. Every
// real server does at least this much per request, so transfers/s here is
// the most any server can reach on this machine in that cell.
// Run: bazel run -c opt //benchmarks:request_ceiling_benchmark
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "benchmarks/loopback.h"
#include "io/socket_address.h"

namespace {

constexpr size_t kBlksize = 512;
constexpr size_t kFileSize = 1024;  // DATA 512, DATA 512, DATA 0.
constexpr uint16_t kBlocks = kFileSize / kBlksize + 1;
constexpr int kClients = 200;
constexpr int kTransfersPerRun = 5000;

using benchmarks::LoopbackSocket;
using benchmarks::PinTo;

uint16_t BlockOf(const char* packet) {
  return static_cast<uint16_t>((static_cast<uint8_t>(packet[2]) << 8) |
                               static_cast<uint8_t>(packet[3]));
}

void SetBlock(char* packet, uint16_t block) {
  packet[2] = static_cast<char>(block >> 8);
  packet[3] = static_cast<char>(block & 0xff);
}

// Answers requests until `stop`. A transfer's state is its socket and the
// client's address; the block to send next comes from the ACK.
void Serve(int service, const std::atomic<bool>& stop) {
  PinTo(0);
  const int poller = epoll_create1(EPOLL_CLOEXEC);
  epoll_event watch{EPOLLIN, {.fd = service}};
  epoll_ctl(poller, EPOLL_CTL_ADD, service, &watch);
  char data[4 + kBlksize] = {0, 3};
  std::memset(data + 4, 'x', kBlksize);
  char in[600];
  epoll_event events[256];
  while (!stop.load(std::memory_order_relaxed)) {
    const int n = epoll_wait(poller, events, 256, 10);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == service) {
        while (true) {
          io::SocketAddress client;
          socklen_t length = io::SocketAddress::kCapacity;
          if (recvfrom(service, in, sizeof in, 0, client.mutable_get(),
                       &length) < 0) {
            break;
          }
          const int transfer =
              socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
          connect(transfer, client.get(), length);
          epoll_event ack{EPOLLIN, {.fd = transfer}};
          epoll_ctl(poller, EPOLL_CTL_ADD, transfer, &ack);
          SetBlock(data, 1);
          send(transfer, data, 4 + kBlksize, 0);
        }
        continue;
      }
      if (recv(fd, in, sizeof in, 0) < 4) continue;
      const uint16_t next = static_cast<uint16_t>(BlockOf(in) + 1);
      if (next > kBlocks) {
        close(fd);  // Also leaves the epoll set.
        continue;
      }
      SetBlock(data, next);
      const size_t size = next == kBlocks ? kFileSize % kBlksize : kBlksize;
      send(fd, data, 4 + size, 0);
    }
  }
  close(poller);
}

void BM_RequestCeiling(benchmark::State& state) {
  io::SocketAddress service_address;
  const int service = LoopbackSocket(SOCK_NONBLOCK, &service_address);
  const int receive_buffer = 16 << 20;
  setsockopt(service, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
             sizeof receive_buffer);
  std::atomic<bool> stop{false};
  std::thread server(Serve, service, std::cref(stop));
  PinTo(1);
  const int poller = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> clients(kClients);
  for (int& fd : clients) {
    io::SocketAddress bound;
    fd = LoopbackSocket(SOCK_NONBLOCK, &bound);
    epoll_event watch{EPOLLIN, {.fd = fd}};
    epoll_ctl(poller, EPOLL_CTL_ADD, fd, &watch);
  }
  const char request[] = "\0\1f\0octet";  // RRQ "f" octet.
  char ack[4] = {0, 4};
  char in[4 + kBlksize];
  epoll_event events[256];
  int64_t transfers = 0;
  for (auto _ : state) {
    int started = 0;
    int finished = 0;
    auto start = [&](int fd) {
      sendto(fd, request, sizeof request, 0, service_address.get(),
             service_address.length());
      ++started;
    };
    for (int i = 0; i < kClients && started < kTransfersPerRun; ++i) {
      start(clients[i]);
    }
    while (finished < kTransfersPerRun) {
      const int n = epoll_wait(poller, events, 256, 1000);
      if (n <= 0) {
        state.SkipWithError("a datagram was lost on loopback");
        break;
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        io::SocketAddress from;
        socklen_t length = io::SocketAddress::kCapacity;
        const ssize_t got =
            recvfrom(fd, in, sizeof in, 0, from.mutable_get(), &length);
        if (got < 4) continue;
        SetBlock(ack, BlockOf(in));
        sendto(fd, ack, sizeof ack, 0, from.get(), length);
        if (got < static_cast<ssize_t>(4 + kBlksize)) {
          ++finished;
          if (started < kTransfersPerRun) start(fd);
        }
      }
    }
    transfers += finished;
  }
  stop.store(true);
  server.join();
  for (int fd : clients) close(fd);
  close(poller);
  close(service);
  state.counters["transfers_per_second"] = benchmark::Counter(
      static_cast<double>(transfers), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RequestCeiling)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
