// The send path of each event backend on loopback: how many DATA-sized
// datagrams (4-byte header + 1428 bytes, gathered from two iovecs as tftpd
// sends them) one core pushes through, per batch handed to the kernel.
// Run: bazel run -c opt //benchmarks:io_benchmark
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "benchmark/benchmark.h"
#include "io/event_backend.h"
#include "io/udp_socket.h"

namespace io {
namespace {

struct IoUring {
  static absl::StatusOr<std::unique_ptr<EventBackend>> Create() {
    return CreateIoUringBackend(BackendOptions{});
  }
};

struct Epoll {
  static absl::StatusOr<std::unique_ptr<EventBackend>> Create() {
    return CreateEpollBackend(BackendOptions{});
  }
};

template <typename Backend>
void BM_SendPath(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  absl::StatusOr<std::unique_ptr<EventBackend>> backend = Backend::Create();
  if (!backend.ok()) {
    state.SkipWithError(
        ("unavailable: " + std::string(backend.status().message())).c_str());
    return;
  }
  auto address = SocketAddress::Parse("127.0.0.1", 0);
  absl::StatusOr<OpenedSocket> sender = OpenServiceSocket(*address, {});
  // The receiver never reads: once its queue is full the kernel drops the
  // datagrams, which leaves the sender's cost alone to be measured.
  absl::StatusOr<OpenedSocket> receiver = OpenServiceSocket(*address, {});
  if (!sender.ok() || !receiver.ok()) {
    state.SkipWithError("cannot open loopback sockets");
    return;
  }
  uint8_t header[4] = {0, 3, 0, 1};
  std::vector<uint8_t> payload(1428, 0x5a);
  iovec iov[2] = {{header, sizeof header}, {payload.data(), payload.size()}};
  msghdr message{};
  message.msg_name = const_cast<sockaddr*>(receiver->bound.get());
  message.msg_namelen = receiver->bound.length();
  message.msg_iov = iov;
  message.msg_iovlen = 2;
  int64_t sent = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) (*backend)->Send(sender->fd, &message, i);
    int done = 0;
    while (done < batch) {
      auto polled = (*backend)->Poll(std::nullopt, [&](const Completion& c) {
        ++done;
        if (c.result > 0) ++sent;
      });
      if (!polled.ok()) {
        state.SkipWithError("poll failed");
        break;
      }
    }
  }
  state.SetItemsProcessed(sent);
  state.counters["packets_per_second"] = benchmark::Counter(
      static_cast<double>(sent), benchmark::Counter::kIsRate);
  const BackendStats stats = (*backend)->stats();
  // System calls: io_uring_enter for io_uring; sendmsg and epoll_wait for
  // epoll.
  state.counters["packets_per_syscall"] =
      static_cast<double>(stats.operations) /
      static_cast<double>(std::max<uint64_t>(stats.enter_calls, 1));
  close(sender->fd);
  close(receiver->fd);
}

BENCHMARK_TEMPLATE(BM_SendPath, IoUring)->Arg(1)->Arg(16)->Arg(64);
BENCHMARK_TEMPLATE(BM_SendPath, Epoll)->Arg(1)->Arg(16)->Arg(64);

}  // namespace
}  // namespace io

BENCHMARK_MAIN();
