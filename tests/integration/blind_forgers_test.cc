// Forgers that never read a reply, against the real binary: each datagram
// they send is written through a raw socket with the source they choose,
// on their own clock (tests/integration/blind_forger.h). What the victim
// receives is counted on a socket of the victim's own, which sends nothing.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/blind_forger.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

io::SocketAddress Service(const TftpdProcess& server) {
  return *io::SocketAddress::Parse("127.0.0.1", server.port());
}

io::SocketAddress At(const std::string& host, uint16_t port) {
  return *io::SocketAddress::Parse(host, port);
}

// The forger's own pace: it waits on its clock, not for any reply.
void ForgerWaits(milliseconds d) { std::this_thread::sleep_for(d); }

// An ACK of `block` from `from` to every port of ip_local_port_range on
// 127.0.0.1, where the server's transfer sockets are: the forger does not
// know which port is its transfer's.
void SprayEveryPort(BlindForger& forger, const io::SocketAddress& from,
                    uint16_t block) {
  const PortRange ports = EphemeralPorts();
  for (int port = ports.first; port <= ports.last; ++port) {
    forger.Add(from, At("127.0.0.1", static_cast<uint16_t>(port)),
               AckPacket(block));
  }
  forger.Flush();
}

// What reached `victim`: its datagrams, their bytes, and how many were DATA.
struct Received {
  size_t datagrams = 0;
  size_t bytes = 0;
  size_t data = 0;
};
Received Drain(RawClient& victim) {
  Received r;
  while (auto d = victim.Receive(milliseconds(0))) {
    ++r.datagrams;
    r.bytes += d->first.size();
    if (OpcodeOf(d->first) == 3) ++r.data;
  }
  return r;
}

#define OPEN_FORGER_OR_SKIP(forger)                \
  do {                                             \
    std::string why;                               \
    if (!(forger).Open(&why)) GTEST_SKIP() << why; \
  } while (0)

// Finding 1: with --single_port --max_transfers=40, 60 forged RRQs
// (timeout 255), each followed 50 ms later by an ACK 0 from the same forged
// address and port, kept curl out ("server busy") for the 25 minutes their
// timeouts lasted; 130 such pairs under curl's own address made its
// requests fail "too many transfers from this address". curl now gets its
// file at once.
TEST(BlindForgers, BlindAcksInSinglePortModeKeepNoRealClientOut) {
  TempDir root;
  const std::string content = TestContent(100000, 3);
  root.Write("kernel", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--single_port", "--max_transfers=40"}, "127.0.0.1");
  BlindForger forger;
  OPEN_FORGER_OR_SKIP(forger);
  std::vector<io::SocketAddress> forged;
  for (int i = 0; i < 60; ++i)
    forged.push_back(At("127.5.0." + std::to_string(i + 1), 50000));
  // curl sends from 127.0.0.1: forged transfers under its own address too.
  for (int i = 0; i < 130; ++i)
    forged.push_back(At("127.0.0.1", static_cast<uint16_t>(20000 + i)));
  for (const io::SocketAddress& f : forged) {
    forger.Add(f, Service(server),
               RequestPacket(1, "kernel", "octet", {"timeout", "255"}));
  }
  forger.Flush();
  ForgerWaits(milliseconds(50));
  for (const io::SocketAddress& f : forged)
    forger.Add(f, Service(server), AckPacket(0));
  forger.Flush();
  TempDir out;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const CommandResult fetched = RunCommand(
        {"curl", "-sS", "--max-time", "20", "-o", out.Join("kernel"),
         absl::StrCat("tftp://127.0.0.1:", server.port(), "/kernel")});
    EXPECT_EQ(fetched.exit_code, 0) << fetched.output << server.log();
    EXPECT_TRUE(ReadFile(out.Join("kernel")) == content);
  }
  ASSERT_EQ(server.Stop(), 0);
  EXPECT_EQ(CounterAtStop(server.log(), "requests_refused").value_or(1), 0u)
      << server.log();
  EXPECT_GT(CounterAtStop(server.log(), "transfers_evicted").value_or(0), 0u);
}

// Finding 2: one forged RRQ (blksize 65464, windowsize 64) from V, repeated
// every 3 s, and an ACK 0 from V's port to every port of
// ip_local_port_range: V received 12.6 MB in 15 s, and its address was
// trusted for 300 s. Now a window is granted within 256 KiB (4 blocks of
// 65464), and a transfer reached by a spray sends two windows and two
// OACKs: the README's bound per forged request.
TEST(BlindForgers, APortSprayDrawsAtMostTheBoundPerForgedRequest) {
  TempDir root;
  root.Write("kernel", TestContent(8 << 20, 5));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--threads=1", "--timeout=0.5", "--retries=2"},
                      "127.0.0.1");
  BlindForger forger;
  OPEN_FORGER_OR_SKIP(forger);
  // The victim: a socket that only counts what reaches it.
  RawClient victim("127.0.6.1");
  victim.SetReceiveBuffer(64 << 20);
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    forger.Add(victim.address(), Service(server),
               RequestPacket(1, "kernel", "octet",
                             {"blksize", "65464", "windowsize", "64"}));
    forger.Flush();
    SprayEveryPort(forger, victim.address(), 0);
    ForgerWaits(seconds(3));
  }
  ASSERT_EQ(server.Stop(), 0);
  const Received got = Drain(victim);
  const size_t received = got.bytes;
  const size_t data = got.data;
  const size_t window = 4 * (4 + 65464);
  const size_t oack = 64;
  std::printf(
      "spray: %llu forged datagrams, victim received %zu bytes "
      "(%zu DATA) for %d forged requests\n",
      static_cast<unsigned long long>(forger.sent()), received, data, kRounds);
  EXPECT_GT(data, 0u) << "the spray never reached the transfer";
  EXPECT_LE(received, kRounds * (2 * window + 2 * oack)) << server.log();
}

// A forger that goes on: after each spray it assumes the window the server
// sent and sprays an ACK of that window's last block to every port again,
// round after round, well past the point where the transfer is proven.
// What reaches the victim, against what the sprays cost the forger on the
// wire (IP and UDP headers included), is the factor the README gives: less
// than what the forger spends.
TEST(BlindForgers, APersistentSprayDrawsLessThanItCosts) {
  TempDir root;
  root.Write("kernel", TestContent(32 << 20, 6));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--threads=1"}, "127.0.0.1");
  BlindForger forger;
  OPEN_FORGER_OR_SKIP(forger);
  RawClient victim("127.0.6.2");
  victim.SetReceiveBuffer(256 << 20);
  // timeout 255: the server never retransmits between rounds, so every
  // window it sends is one the forger's next spray acknowledges whole.
  forger.Add(victim.address(), Service(server),
             RequestPacket(
                 1, "kernel", "octet",
                 {"blksize", "65464", "windowsize", "64", "timeout", "255"}));
  forger.Flush();
  constexpr int kRounds = 12;
  // The window the OACK grants: 4 blocks of 65464 (within 256 KiB).
  for (uint16_t block = 0; block < 4 * kRounds; block += 4) {
    SprayEveryPort(forger, victim.address(), block);
    ForgerWaits(milliseconds(300));
  }
  ASSERT_EQ(server.Stop(), 0);
  const Received got = Drain(victim);
  const size_t received = got.bytes;
  const size_t datagrams = got.datagrams;
  const double victim_wire = received + 28.0 * datagrams;
  const double forger_wire = (forger.sent() - 1) * 32.0 + 28 + 64;
  std::printf(
      "persistent spray: %d rounds, %llu datagrams (%.1f MB on the "
      "wire); the victim received %zu datagrams (%.1f MB): %.2fx\n",
      kRounds, static_cast<unsigned long long>(forger.sent()),
      forger_wire / 1e6, datagrams, victim_wire / 1e6,
      victim_wire / forger_wire);
  EXPECT_GT(datagrams, static_cast<size_t>(kRounds));  // The sprays hit.
  EXPECT_LE(victim_wire, forger_wire);
}

// Finding 5: 5,000 forged RRQs for a missing file wrote 5,000 log lines.
// Refusals' lines are now bounded (20 a second a shard), the rest counted,
// and a summary line says how many were held back.
TEST(BlindForgers, ForgedRefusalsWriteABoundedLog) {
  TempDir root;
  TftpdProcess server;
  // One shard: it reads the socket in order, so a real client's answer
  // comes after every forged request before it was read.
  TFTPD_START_OR_SKIP(server, root.path(), {"--threads=1"}, "127.0.0.1");
  BlindForger forger;
  OPEN_FORGER_OR_SKIP(forger);
  std::mt19937 random(5);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5000; ++i) {
    forger.Add(RandomForgedSource(random), Service(server),
               RequestPacket(1, "missing.img"));
  }
  forger.Flush();
  // A real client's refused requests, each answered, until the summary of
  // what was held back comes before one of their lines.
  RawClient client;
  const bool summed_up = WaitUntil(
      [&] {
        client.SendTo(Service(server), RequestPacket(1, "missing.img"));
        EXPECT_TRUE(client.Receive().has_value());
        return absl::StrContains(server.log(), "refusals not logged");
      },
      seconds(10));
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_EQ(server.Stop(), 0);
  const std::string log = server.log();
  EXPECT_TRUE(summed_up) << log.substr(0, 4000);
  const size_t lines = CountOccurrences(log, "refused request");
  std::printf("%zu refusal lines in %.1f s; %llu held back\n", lines, elapsed,
              static_cast<unsigned long long>(
                  CounterAtStop(log, "refusals_not_logged").value_or(0)));
  // 20 a second, and the seconds it spans.
  EXPECT_LE(lines, static_cast<size_t>(20 * (elapsed + 2)));
  EXPECT_GT(CounterAtStop(log, "refusals_not_logged").value_or(0), 4000u);
}

}  // namespace
}  // namespace tftpd::testing
