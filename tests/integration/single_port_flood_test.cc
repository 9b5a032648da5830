// Single-port mode under a blind forger that keeps its transfers alive:
// for 30 s, 1,000 forged RRQs a second (half under the addresses of the
// real clients that follow, half from random addresses), each transfer then
// acknowledged blindly, ACK 0 after 50 ms and the next block number every
// second after, for as long as the flood lasts; the server holds its default
// --max_transfers (10,000), full after ten seconds. Meanwhile 1,000 real
// clients each download 1 MiB, half of them from the addresses the forger
// uses. Every real download must complete byte for byte.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "tests/integration/blind_forger.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kClients = 1000;
constexpr int kForgedPerSecond = 1000;

int FloodSeconds() {
  int flood = 30;
  if (const char* text = getenv("TFTPD_FLOOD_SECONDS")) {
    absl::SimpleAtoi(text, &flood);
  }
  return flood;
}

// The forger's plan, on its own clock: new RRQs at a steady rate, and every
// transfer it opened acknowledged blindly once a second.
class KeepAliveForger {
 public:
  KeepAliveForger(BlindForger& out, io::SocketAddress service, int seconds)
      : out_(out), service_(service), seconds_(seconds) {}

  void Run() {
    std::mt19937 random(2024);
    const Clock::time_point start = Clock::now();
    const Clock::time_point end = start + seconds(seconds_);
    for (Clock::time_point now = start; now < end; now = Clock::now()) {
      const double elapsed = std::chrono::duration<double>(now - start).count();
      for (uint64_t opened = requests_;
           opened < static_cast<uint64_t>(elapsed * kForgedPerSecond);
           opened = ++requests_) {
        // Half under a real client's address (any port but its own).
        const io::SocketAddress from =
            opened % 2 == 0
                ? WithPort(ClientAddress(random() % (kClients / 2)),
                           static_cast<uint16_t>(20000 + random() % 40000))
                : RandomForgedSource(random);
        out_.Add(from, service_,
                 RequestPacket(1, "kernel", "octet",
                               {"timeout", "255", "blksize", "1428"}));
        alive_.push_back({from, 0, now + milliseconds(50)});
      }
      while (!alive_.empty() && alive_.front().due <= now) {
        Forged f = alive_.front();
        alive_.pop_front();
        out_.Add(f.from, service_, AckPacket(f.block));
        ++acks_;
        ++f.block;
        f.due += seconds(1);
        alive_.push_back(f);
      }
      out_.Flush();
      std::this_thread::sleep_for(milliseconds(2));  // Its clock's tick.
    }
  }
  uint64_t requests() const { return requests_; }
  uint64_t acks() const { return acks_; }

 private:
  struct Forged {
    io::SocketAddress from;
    uint16_t block;
    Clock::time_point due;
  };
  BlindForger& out_;
  const io::SocketAddress service_;
  const int seconds_;
  std::deque<Forged> alive_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> acks_{0};
};

double Ms(std::chrono::microseconds d) { return d.count() / 1000.0; }

TEST(SinglePortFlood, BlindlyKeptTransfersTakeNoRealClientsPlace) {
  const int flood_seconds = FloodSeconds();
  TempDir root;
  const std::string content = TestContent(1 << 20, 7);
  root.Write("kernel", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--single_port"}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  BlindForger out;
  std::string why;
  if (!out.Open(&why)) GTEST_SKIP() << why;
  KeepAliveForger forger(out, service, flood_seconds);
  std::thread forging([&] { forger.Run(); });
  // The real clients come once the forged transfers fill the table
  // (10,000 places, the default --max_transfers; in a shortened run, half
  // of its requests): it is the eviction that is tested.
  const uint64_t fill = std::min<uint64_t>(
      10000, static_cast<uint64_t>(flood_seconds) * kForgedPerSecond / 2);
  ASSERT_TRUE(WaitUntil([&] { return forger.requests() >= fill; },
                        seconds(flood_seconds)));

  std::vector<DownloadJob> jobs(kClients);
  for (int i = 0; i < kClients; ++i) {
    jobs[i].request.filename = "kernel";
    jobs[i].request.blksize = 1428;
    jobs[i].request.windowsize = i % 2 == 0 ? 1 : 8;
    jobs[i].expected = &content;
  }
  DownloadOptions options;
  options.limit = seconds(flood_seconds + 90);
  const DownloadReport report = RunConcurrentDownloads(service, jobs, options);
  forging.join();
  ASSERT_EQ(server.Stop(), 0);
  const std::string log = server.log();

  std::vector<std::chrono::microseconds> first = report.first_reply;
  std::vector<std::chrono::microseconds> whole = report.duration;
  std::printf(
      "forger: %llu RRQs and %llu blind ACKs in %d s (%llu datagrams sent)\n"
      "server: transfers_evicted=%llu transfers_started=%llu "
      "amplification_drops=%llu requests_refused=%llu\n"
      "real clients: %d of %d complete; first reply p50 %.1f ms p99 %.1f ms; "
      "whole 1 MiB p50 %.1f ms p99 %.1f ms\n",
      static_cast<unsigned long long>(forger.requests()),
      static_cast<unsigned long long>(forger.acks()), flood_seconds,
      static_cast<unsigned long long>(out.sent()),
      static_cast<unsigned long long>(
          CounterAtStop(log, "transfers_evicted").value_or(0)),
      static_cast<unsigned long long>(
          CounterAtStop(log, "transfers_started").value_or(0)),
      static_cast<unsigned long long>(
          CounterAtStop(log, "amplification_drops").value_or(0)),
      static_cast<unsigned long long>(
          CounterAtStop(log, "requests_refused").value_or(0)),
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
