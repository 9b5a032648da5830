// Many clients at once against the real binary: a thousand fetching 1 MiB
// each, exactly --max_transfers of them, a burst of ten thousand requests.
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

TEST(Concurrency, AThousandClientsFetchOneMebibyteEach) {
  TempDir root;
  const std::string content = TestContent(1 << 20, 42);
  root.Write("initrd.img", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--log_level=warning"},
                      "127.0.0.1");
  std::vector<DownloadJob> jobs(1000);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].request.filename = "initrd.img";
    jobs[i].request.blksize = 1428;
    jobs[i].request.ask_tsize = true;
    // Mix lock-step clients with windowed ones, as a real rack would.
    jobs[i].request.windowsize = i % 2 == 0 ? 0 : 4;
    jobs[i].expected = &content;
  }
  const DownloadReport report = RunConcurrentDownloads(
      *io::SocketAddress::Parse("127.0.0.1", server.port()), jobs);
  std::string failures;
  for (const auto& [reason, count] : report.failures) {
    failures += reason + ": " + std::to_string(count) + "\n";
  }
  EXPECT_EQ(report.completed, 1000) << failures;
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_NE(server.log().find("transfers_completed=1000"), std::string::npos)
      << server.log();
}

// Exactly --max_transfers clients, each sending its request twice at once,
// are all served: a client never counts twice, and how the kernel's hash
// spreads them over the shards does not matter (10 of 200 were refused
// "server busy" when each of two shards had half the places).
TEST(Concurrency, ExactlyMaxTransfersClientsAreAllServed) {
  constexpr int kClients = 200;
  TempDir root;
  const std::string content = TestContent(1 << 20, 5);
  root.Write("kernel", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--log_level=warning", "--threads=2",
                       "--max_transfers=" + std::to_string(kClients)},
                      "127.0.0.1");
  std::vector<DownloadJob> jobs(kClients);
  for (DownloadJob& job : jobs) {
    job.request.filename = "kernel";
    job.request.blksize = 1428;
    job.expected = &content;
  }
  DownloadOptions options;
  options.repeat_request = true;  // Each from its own address, twice.
  const DownloadReport report = RunConcurrentDownloads(
      *io::SocketAddress::Parse("127.0.0.1", server.port()), jobs, options);
  std::string failures;
  for (const auto& [reason, count] : report.failures) {
    failures += reason + ": " + std::to_string(count) + "\n";
  }
  EXPECT_EQ(report.completed, kClients) << failures;
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_NE(
      server.log().find("transfers_completed=" + std::to_string(kClients)),
      std::string::npos)
      << server.log();
}

TEST(Concurrency, ABurstOfTenThousandRequestsIsNotLost) {
  constexpr int kClients = 10000;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = std::min<rlim_t>(files.rlim_max, kClients + 1000);
  setrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < kClients + 100) {
    GTEST_SKIP() << "needs " << kClients << " sockets; RLIMIT_NOFILE is "
                 << files.rlim_cur;
  }
  TempDir root;
  const std::string config = TestContent(300, 7);
  root.Write("pxelinux.cfg/default", config);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--log_level=warning"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  const std::string rrq = RequestPacket(1, "pxelinux.cfg/default");
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> sockets(kClients);
  for (int i = 0; i < kClients; ++i) {
    sockets[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(sockets[i], 0);
    const io::SocketAddress local = ClientAddress(static_cast<size_t>(i));
    ASSERT_EQ(bind(sockets[i], local.get(), local.length()), 0);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(epoll, EPOLL_CTL_ADD, sockets[i], &event);
  }
  // Every client asks once, all within a fraction of a second, and never
  // repeats itself: a request lost anywhere stays lost.
  const auto burst_start = std::chrono::steady_clock::now();
  for (int fd : sockets) {
    ASSERT_EQ(
        sendto(fd, rrq.data(), rrq.size(), 0, service.get(), service.length()),
        static_cast<ssize_t>(rrq.size()));
  }
  const auto burst = std::chrono::steady_clock::now() - burst_start;
  std::vector<bool> answered(kClients, false);
  int answers = 0;
  int wrong = 0;
  std::vector<epoll_event> events(512);
  std::string buffer(1024, '\0');
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (answers < kClients && std::chrono::steady_clock::now() < give_up) {
    const int n = epoll_wait(epoll, events.data(), 512, 100);
    for (int e = 0; e < n; ++e) {
      const uint32_t i = events[e].data.u32;
      sockaddr_storage from{};
      socklen_t length = sizeof from;
      const ssize_t got = recvfrom(sockets[i], buffer.data(), buffer.size(), 0,
                                   reinterpret_cast<sockaddr*>(&from), &length);
      if (got < 0 || answered[i]) continue;
      answered[i] = true;
      ++answers;
      if (OpcodeOf(buffer.substr(0, got)) != 3 ||
          buffer.substr(4, got - 4) != config) {
        ++wrong;
        continue;
      }
      const std::string ack = AckPacket(1);
      sendto(sockets[i], ack.data(), ack.size(), 0,
             reinterpret_cast<sockaddr*>(&from), length);
    }
  }
  for (int fd : sockets) close(fd);
  close(epoll);
  EXPECT_EQ(answers, kClients)
      << "burst sent in " << std::chrono::duration<double>(burst).count()
      << " s";
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_NE(server.log().find("transfers_completed=10000"), std::string::npos)
      << server.log();
}

}  // namespace
}  // namespace tftpd::testing
