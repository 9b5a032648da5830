// Floods of forged requests while real clients boot, from forgers that
// never read a reply (a raw socket writes their IP and UDP headers). For
// 30 s: RRQs at 50,000 a second from random loopback addresses, none of
// which ever answers; and, in single-port mode, RRQs at 1,000 a second whose
// transfers the forger keeps alive with blind ACKs. Meanwhile 1,000 real
// clients each download 1 MiB. Every real download must complete byte for
// byte; the flood's rate, the server's evictions and the real clients'
// latencies are printed.
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

// Sends forged RRQs from random addresses of 127.128.0.0/9 and random
// ports to 127.0.0.1:`port`, `rate` a second, until stopped.
class Flooder {
 public:
  Flooder(uint16_t port, int rate)
      : service_(*io::SocketAddress::Parse("127.0.0.1", port)), rate_(rate) {}
  ~Flooder() { Stop(); }

  // False (and why) when the kernel refuses a raw socket.
  bool Start(std::string* why) {
    if (!out_.Open(why)) return false;
    thread_ = std::thread([this] { Run(); });
    return true;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t sent() const { return sent_; }

 private:
  void Run() {
    std::mt19937 random(12345);
    const std::string rrq = RequestPacket(
        1, "kernel", "octet", {"timeout", "255", "blksize", "1428"});
    const auto start = Clock::now();
    while (!stop_) {
      const double elapsed =
          std::chrono::duration<double>(Clock::now() - start).count();
      const uint64_t due = static_cast<uint64_t>(elapsed * rate_);
      if (sent_ >= due) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
        continue;
      }
      for (uint64_t n = std::min<uint64_t>(64, due - sent_); n > 0; --n) {
        out_.Add(RandomForgedSource(random), service_, rrq);
      }
      out_.Flush();
      sent_ = out_.sent();
    }
  }

  const io::SocketAddress service_;
  const int rate_;
  BlindForger out_;
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

constexpr int kClients = 1000;
constexpr int kForgedPerSecond = 1000;  // In single-port mode.

// The forger's plan, on its own clock: new RRQs at a steady rate, and every
// transfer it opened acknowledged blindly once a second.
class KeepAliveForger {
 public:
  KeepAliveForger(BlindForger& out, io::SocketAddress service, int seconds)
      : out_(out), service_(service), seconds_(seconds) {}

  void Run() {
    std::mt19937 random(2024);
    const Clock::time_point start = Clock::now();
    const Clock::time_point end = start + std::chrono::seconds(seconds_);
    for (Clock::time_point now = start; now < end; now = Clock::now()) {
      const double elapsed = std::chrono::duration<double>(now - start).count();
      for (uint64_t opened = requests_;
           opened < static_cast<uint64_t>(elapsed * kForgedPerSecond);
           opened = ++requests_) {
        // Half under a real client's address, from a port below the
        // kernel's ephemeral range, where its own port is: a forger that
        // hits a client's address and port is that client, to a server in
        // single-port mode as to any other.
        const io::SocketAddress from =
            opened % 2 == 0
                ? WithPort(ClientAddress(random() % (kClients / 2)),
                           static_cast<uint16_t>(
                               1024 + random() % (below_clients_ - 1024)))
                : RandomForgedSource(random);
        out_.Add(from, service_,
                 RequestPacket(1, "kernel", "octet",
                               {"timeout", "255", "blksize", "1428"}));
        fresh_.push_back({from, 0, now + std::chrono::milliseconds(50)});
      }
      // Each queue is in the order of its due times: ACK 0s 50 ms after
      // their requests, then every transfer's next ACK a second after its
      // last.
      for (std::deque<Forged>* due : {&fresh_, &alive_}) {
        while (!due->empty() && due->front().due <= now) {
          Forged f = due->front();
          due->pop_front();
          out_.Add(f.from, service_, AckPacket(f.block));
          ++acks_;
          ++f.block;
          f.due += std::chrono::seconds(1);
          alive_.push_back(f);
        }
      }
      out_.Flush();
      std::this_thread::sleep_for(
          std::chrono::milliseconds(2));  // Its clock's tick.
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
  const uint16_t below_clients_ = EphemeralPorts().first;
  std::deque<Forged> fresh_;
  std::deque<Forged> alive_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> acks_{0};
};

// 1,000 real clients, each downloading `content` as "kernel" (blksize
// 1428, half lock-step and half with windows of 8), from ClientAddress(0)
// up; all at once, within `limit`.
DownloadReport RealClientsFetch(const io::SocketAddress& service,
                                const std::string& content,
                                std::chrono::seconds limit) {
  std::vector<DownloadJob> jobs(kClients);
  for (int i = 0; i < kClients; ++i) {
    jobs[i].request.filename = "kernel";
    jobs[i].request.blksize = 1428;
    jobs[i].request.windowsize = i % 2 == 0 ? 1 : 8;
    jobs[i].expected = &content;
  }
  DownloadOptions options;
  options.limit = limit;
  return RunConcurrentDownloads(service, jobs, options);
}

double Ms(std::chrono::microseconds d) { return d.count() / 1000.0; }

// Prints what the forger did (`forged`), the server's counters and the
// real clients' latencies; every real client must have its file.
void ExpectEveryRealClientServed(const std::string& forged,
                                 const DownloadReport& report,
                                 const std::string& log) {
  std::vector<std::chrono::microseconds> first = report.first_reply;
  std::vector<std::chrono::microseconds> whole = report.duration;
  auto counter = [&](const char* name) {
    return static_cast<unsigned long long>(
        CounterAtStop(log, name).value_or(0));
  };
  std::printf(
      "%s\nserver: transfers_evicted=%llu transfers_unanswered=%llu "
      "amplification_drops=%llu requests_received=%llu requests_refused=%llu\n"
      "real clients: %d of %d complete; first reply p50 %.1f ms p99 %.1f ms; "
      "whole 1 MiB p50 %.1f ms p99 %.1f ms\n",
      forged.c_str(), counter("transfers_evicted"),
      counter("transfers_unanswered"), counter("amplification_drops"),
      counter("requests_received"), counter("requests_refused"),
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

TEST(Flood, RealClientsAreServedThroughAFloodOfForgedRequests) {
  constexpr int kRate = 50000;
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
  if (!flood.Start(&why)) GTEST_SKIP() << why;
  const auto flood_start = Clock::now();
  // The table fills with forged requests first (10,000 places at 50,000 a
  // second): a second of flood before the real clients come.
  ASSERT_TRUE(WaitUntil([&] { return flood.sent() >= kRate; },
                        std::chrono::seconds(10)));
  const DownloadReport report =
      RealClientsFetch(service, content, std::chrono::seconds(seconds + 60));
  // The flood goes on for its whole time, whatever the clients' pace.
  while (Clock::now() - flood_start < std::chrono::seconds(seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double flood_seconds =
      std::chrono::duration<double>(Clock::now() - flood_start).count();
  flood.Stop();
  ASSERT_EQ(server.Stop(), 0);
  char forged[160];
  std::snprintf(forged, sizeof forged,
                "flood: %llu forged RRQs in %.1f s (%.0f a second, %d asked)",
                static_cast<unsigned long long>(flood.sent()), flood_seconds,
                flood.sent() / flood_seconds, kRate);
  ExpectEveryRealClientServed(forged, report, server.log());
}

// Single-port mode under a blind forger that keeps its transfers alive:
// for 30 s, 1,000 forged RRQs a second (half under the addresses of the
// real clients that follow, half from random addresses), each transfer then
// acknowledged blindly, ACK 0 after 50 ms and the next block number every
// second, for as long as the flood lasts; the server holds its default
// --max_transfers (10,000), full after ten seconds. Meanwhile 1,000 real
// clients each download 1 MiB, half of them from the addresses the forger
// uses. Before, forged transfers answered so were never evicted.
TEST(Flood, SinglePortTransfersKeptAliveBlindlyTakeNoRealClientsPlace) {
  const int seconds = FloodSeconds();
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
  KeepAliveForger forger(out, service, seconds);
  std::thread forging([&] { forger.Run(); });
  // The real clients come once the forged transfers fill the table
  // (10,000 places, the default --max_transfers; in a shortened run, half
  // of its requests): it is the eviction that is tested.
  const uint64_t fill = std::min<uint64_t>(
      10000, static_cast<uint64_t>(seconds) * kForgedPerSecond / 2);
  ASSERT_TRUE(WaitUntil([&] { return forger.requests() >= fill; },
                        std::chrono::seconds(seconds)));
  const DownloadReport report =
      RealClientsFetch(service, content, std::chrono::seconds(seconds + 90));
  forging.join();
  ASSERT_EQ(server.Stop(), 0);
  char forged[160];
  std::snprintf(forged, sizeof forged,
                "forger: %llu RRQs and %llu blind ACKs in %d s",
                static_cast<unsigned long long>(forger.requests()),
                static_cast<unsigned long long>(forger.acks()), seconds);
  ExpectEveryRealClientServed(forged, report, server.log());
}

}  // namespace
}  // namespace tftpd::testing
