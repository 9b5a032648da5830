// A flood of forged requests while real clients boot: for 30 s, RRQs at
// 50,000 a second from random loopback addresses (a raw socket writes their
// IP and UDP headers), none of which ever answers, while 1,000 real clients
// each download 1 MiB. Every real download must complete byte for byte; the
// flood's rate, the server's evictions and the real clients' latencies are
// printed.
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Sends forged RRQs from random addresses of 127.128.0.0/9 and random
// ports to 127.0.0.1:`port`, `rate` a second, until stopped.
class Flooder {
 public:
  Flooder(uint16_t port, int rate) : port_(port), rate_(rate) {}
  ~Flooder() { Stop(); }

  // False (and why) when the kernel refuses a raw socket.
  bool Start(std::string* why) {
    fd_ = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd_ < 0) {
      *why = std::string("raw socket: ") + std::strerror(errno);
      return false;
    }
    thread_ = std::thread([this] { Run(); });
    return true;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  uint64_t sent() const { return sent_; }

 private:
  static constexpr size_t kBatch = 64;

  void Run() {
    std::mt19937 random(12345);
    const std::string rrq = RequestPacket(1, "kernel", "octet",
                                          {"timeout", "255", "blksize", "1428"});
    const size_t size = sizeof(iphdr) + sizeof(udphdr) + rrq.size();
    std::vector<std::vector<uint8_t>> packets(kBatch,
                                              std::vector<uint8_t>(size));
    std::vector<iovec> iov(kBatch);
    std::vector<mmsghdr> messages(kBatch);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const auto start = Clock::now();
    while (!stop_) {
      const double elapsed =
          std::chrono::duration<double>(Clock::now() - start).count();
      const uint64_t due = static_cast<uint64_t>(elapsed * rate_);
      if (sent_ >= due) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
        continue;
      }
      const size_t n = std::min<uint64_t>(kBatch, due - sent_);
      for (size_t i = 0; i < n; ++i) {
        uint8_t* p = packets[i].data();
        auto* ip = reinterpret_cast<iphdr*>(p);
        auto* udp = reinterpret_cast<udphdr*>(p + sizeof(iphdr));
        *ip = iphdr{};
        ip->version = 4;
        ip->ihl = 5;
        ip->ttl = 64;
        ip->protocol = IPPROTO_UDP;
        ip->tot_len = htons(static_cast<uint16_t>(size));
        ip->saddr = htonl(0x7f800000u | (random() & 0x7fffffu));
        ip->daddr = htonl(INADDR_LOOPBACK);
        udp->source = htons(static_cast<uint16_t>(1024 + random() % 64000));
        udp->dest = htons(port_);
        udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + rrq.size()));
        udp->check = 0;  // None: allowed over IPv4.
        std::memcpy(p + sizeof(iphdr) + sizeof(udphdr), rrq.data(), rrq.size());
        iov[i] = {p, size};
        messages[i] = {};
        messages[i].msg_hdr.msg_name = &to;
        messages[i].msg_hdr.msg_namelen = sizeof to;
        messages[i].msg_hdr.msg_iov = &iov[i];
        messages[i].msg_hdr.msg_iovlen = 1;
      }
      const int done = sendmmsg(fd_, messages.data(), static_cast<unsigned>(n), 0);
      if (done > 0) sent_ += static_cast<uint64_t>(done);
    }
  }

  const uint16_t port_;
  const int rate_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

int FloodSeconds() {
  int seconds = 30;
  if (const char* text = getenv("TFTPD_FLOOD_SECONDS")) {
    absl::SimpleAtoi(text, &seconds);
  }
  return seconds;
}

double Ms(std::chrono::microseconds d) { return d.count() / 1000.0; }

TEST(Flood, RealClientsAreServedThroughAFloodOfForgedRequests) {
  constexpr int kRate = 50000;
  constexpr int kClients = 1000;
  const int seconds = FloodSeconds();
  TempDir root;
  const std::string content = TestContent(1 << 20, 7);
  root.Write("kernel", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());

  Flooder flood(server.port(), kRate);
  std::string why;
  if (!flood.Start(&why)) GTEST_SKIP() << why << " (it needs CAP_NET_RAW)";
  const auto flood_start = Clock::now();
  // The table fills with forged requests first (10,000 places at 50,000 a
  // second): a second of flood before the real clients come.
  ASSERT_TRUE(WaitUntil([&] { return flood.sent() >= kRate; },
                        std::chrono::seconds(10)));

  std::vector<DownloadJob> jobs(kClients);
  for (int i = 0; i < kClients; ++i) {
    jobs[i].request.filename = "kernel";
    jobs[i].request.blksize = 1428;
    jobs[i].request.windowsize = i % 2 == 0 ? 1 : 8;
    jobs[i].expected = &content;
  }
  DownloadOptions options;
  options.limit = std::chrono::seconds(seconds + 60);
  const DownloadReport report = RunConcurrentDownloads(service, jobs, options);
  // The flood goes on for its whole time, whatever the clients' pace.
  while (Clock::now() - flood_start < std::chrono::seconds(seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double flood_seconds =
      std::chrono::duration<double>(Clock::now() - flood_start).count();
  flood.Stop();
  ASSERT_EQ(server.Stop(), 0);
  const std::string log = server.log();

  std::vector<std::chrono::microseconds> first = report.first_reply;
  std::vector<std::chrono::microseconds> whole = report.duration;
  std::printf(
      "flood: %llu forged RRQs in %.1f s (%.0f a second, %d asked)\n"
      "server: transfers_evicted=%llu transfers_unanswered=%llu "
      "amplification_drops=%llu requests_received=%llu\n"
      "real clients: %d of %d complete; first reply p50 %.1f ms p99 %.1f ms; "
      "whole 1 MiB p50 %.1f ms p99 %.1f ms\n",
      static_cast<unsigned long long>(flood.sent()), flood_seconds,
      flood.sent() / flood_seconds, kRate,
      static_cast<unsigned long long>(
          CounterAtStop(log, "transfers_evicted").value_or(0)),
      static_cast<unsigned long long>(
          CounterAtStop(log, "transfers_unanswered").value_or(0)),
      static_cast<unsigned long long>(
          CounterAtStop(log, "amplification_drops").value_or(0)),
      static_cast<unsigned long long>(
          CounterAtStop(log, "requests_received").value_or(0)),
      report.completed, kClients, Ms(Quantile(first, 0.5)),
      Ms(Quantile(first, 0.99)), Ms(Quantile(whole, 0.5)),
      Ms(Quantile(whole, 0.99)));
  EXPECT_EQ(report.completed, kClients);
  for (const std::string& failed : report.failed_jobs) {
    ADD_FAILURE() << failed;
    break;
  }
  EXPECT_GT(CounterAtStop(log, "transfers_evicted").value_or(0), 0u) << log;
}

}  // namespace
}  // namespace tftpd::testing
