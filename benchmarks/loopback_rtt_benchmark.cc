// The loopback round-trip limit for lock-step TFTP: one thread sends a
// DATA-sized datagram (4 + blksize bytes), another answers with a 4-byte ACK,
// each thread on its own CPU (as tftpd and the load generator run in
// benchmarks/compare.py). BM_LockStepRoundTrip blocks in recv, as most
// servers do; BM_SpinningRoundTrip never sleeps (both sides poll with
// MSG_DONTWAIT), which removes the cost of waking a sleeping CPU.
// blksize / round trip of the spinning run is the most a single
// windowsize-1 client can get on this machine, whatever the server.
// Run: bazel run -c opt //benchmarks:loopback_rtt_benchmark
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "benchmarks/loopback.h"

namespace {

using benchmarks::LoopbackSocket;
using benchmarks::PinTo;

// recv that blocks, or that polls until a datagram is there.
ssize_t Receive(int fd, char* buffer, size_t size, bool spin) {
  if (!spin) return recv(fd, buffer, size, 0);
  while (true) {
    const ssize_t n = recv(fd, buffer, size, MSG_DONTWAIT);
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return n;
  }
}

void RoundTrips(benchmark::State& state, bool spin) {
  const size_t data_size = 4 + static_cast<size_t>(state.range(0));
  io::SocketAddress server_address;
  io::SocketAddress client_address;
  const int server = LoopbackSocket(0, &server_address);
  const int client = LoopbackSocket(0, &client_address);
  std::atomic<bool> stop{false};
  // The "client": answers every DATA with an ACK.
  std::thread echo([&] {
    PinTo(1);
    std::vector<char> buffer(70000);
    const char ack[4] = {0, 4, 0, 1};
    while (true) {
      if (Receive(client, buffer.data(), buffer.size(), spin) <= 0) break;
      if (stop.load()) break;
      sendto(client, ack, sizeof ack, 0, server_address.get(),
             server_address.length());
    }
  });
  PinTo(0);
  std::vector<char> data(data_size, 'x');
  char ack[64];
  for (auto _ : state) {
    sendto(server, data.data(), data.size(), 0, client_address.get(),
           client_address.length());
    Receive(server, ack, sizeof ack, spin);
  }
  stop.store(true);
  sendto(server, data.data(), 1, 0, client_address.get(),
         client_address.length());
  echo.join();
  close(server);
  close(client);
  state.SetBytesProcessed(state.iterations() * (data_size - 4));
  state.counters["round_trips_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_LockStepRoundTrip(benchmark::State& state) { RoundTrips(state, false); }
void BM_SpinningRoundTrip(benchmark::State& state) { RoundTrips(state, true); }

BENCHMARK(BM_LockStepRoundTrip)->Arg(512)->Arg(1428)->Arg(8192)->UseRealTime();
BENCHMARK(BM_SpinningRoundTrip)->Arg(512)->Arg(1428)->Arg(8192)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
