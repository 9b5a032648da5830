// Spoofed traffic: requests and ACKs from addresses that never receive what
// the server sends them. They may neither lock real clients out nor make the
// server an amplifier. "Spoofers" here are sockets on loopback addresses of
// the test's own (127.0.0.0/8 is all local) that never read what comes back,
// which is all the server can see of a forged source.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr int kOack = 6;
constexpr int kError = 5;

io::SocketAddress Service(const TftpdProcess& server) {
  return *io::SocketAddress::Parse("127.0.0.1", server.port());
}

// Requests that will never be answered, each from a port of its own, from
// `addresses` loopback addresses starting at 127.0.<subnet>.1.
std::vector<std::unique_ptr<RawClient>> Spoof(
    const io::SocketAddress& service, int count, int addresses, int subnet,
    const std::vector<std::string>& options) {
  std::vector<std::unique_ptr<RawClient>> spoofers;
  for (int i = 0; i < count; ++i) {
    spoofers.push_back(
        std::make_unique<RawClient>("127.0." + std::to_string(subnet) + "." +
                                    std::to_string(1 + i % addresses)));
    spoofers.back()->SendTo(service,
                            RequestPacket(1, "kernel", "octet", options));
  }
  return spoofers;
}

// In single-port mode the service port is no secret: an ACK sent there
// blindly proves nothing, so what one datagram can make the server send is
// bounded. Before, a blind ACK 0 after an RRQ with blksize 65464 and
// windowsize 64 drew a 4 MB window and every retransmission of it.
TEST(Spoofing, ABlindAckInSinglePortModeDrawsABoundedAnswer) {
  TempDir root;
  root.Write("kernel", TestContent(8 << 20));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--single_port", "--retries=1", "--timeout=0.2"},
                      "127.0.0.1");
  RawClient attacker("127.0.0.40");
  attacker.SendTo(Service(server),
                  RequestPacket(1, "kernel", "octet",
                                {"blksize", "65464", "windowsize", "64"}));
  auto oack = attacker.Receive();
  ASSERT_TRUE(oack.has_value());
  ASSERT_EQ(OpcodeOf(oack->first), kOack);
  attacker.SendTo(Service(server), AckPacket(0));
  // The attacker reads nothing more; the transfer gives up on it.
  server.LogOnceItContains("outcome=timed_out", std::chrono::seconds(10));
  ASSERT_EQ(server.Stop(), 0);
  const std::optional<uint64_t> sent =
      CounterAtStop(server.log(), "bytes_sent");
  ASSERT_TRUE(sent.has_value()) << server.log();
  // README: one datagram from an unverified peer draws at most 64 KiB.
  EXPECT_LE(*sent, 64u * 1024) << server.log();
}

// A table full of transfers whose clients never answered makes room for a
// client that does: the oldest unanswered transfer is evicted.
TEST(Spoofing, UnansweredTransfersAreEvictedForARealClient) {
  TempDir root;
  root.Write("kernel", TestContent(100000));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--max_transfers=64", "--threads=1"}, "127.0.0.1");
  auto spoofers = Spoof(Service(server), 100, 10, 1, {"timeout", "255"});
  const HandRead real =
      ReadTransferByHand(Service(server), "kernel", std::chrono::seconds(2));
  EXPECT_EQ(real.error_message, "");
  EXPECT_TRUE(real.bytes == TestContent(100000));
  ASSERT_EQ(server.Stop(), 0);
  const std::optional<uint64_t> evicted =
      CounterAtStop(server.log(), "transfers_evicted");
  ASSERT_TRUE(evicted.has_value()) << server.log();
  EXPECT_GE(*evicted, 37u) << server.log();
}

// Requests forged with a victim's address do not use up its own limit on
// open transfers: only transfers whose client answered count.
TEST(Spoofing, ForgedRequestsDoNotTakeTheVictimsTransfers) {
  TempDir root;
  root.Write("kernel", TestContent(100000));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--max_transfers_per_address=8"},
                      "127.0.0.1");
  auto spoofers = Spoof(Service(server), 20, 1, 2, {"timeout", "255"});
  const HandRead victim = ReadTransferByHand(
      Service(server), "kernel", std::chrono::seconds(2), {}, "127.0.2.1");
  EXPECT_EQ(victim.error_message, "");
  EXPECT_TRUE(victim.bytes == TestContent(100000));
}

// Forged option-less requests (each drawing a 516-byte DATA) do not spend
// the victim's budget for unverified bytes: its own first DATA still goes.
TEST(Spoofing, ForgedRequestsDoNotSpendTheVictimsBudget) {
  TempDir root;
  root.Write("kernel", TestContent(100000));
  TftpdProcess server;
  // One shard: the forged requests are read before the victim's.
  TFTPD_START_OR_SKIP(server, root.path(), {"--threads=1"}, "127.0.0.1");
  auto spoofers = Spoof(Service(server), 20, 1, 3, {});
  const HandRead victim = ReadTransferByHand(
      Service(server), "kernel", std::chrono::seconds(2), {}, "127.0.3.1");
  EXPECT_FALSE(victim.timed_out);
  EXPECT_TRUE(victim.bytes == TestContent(100000));
}

// ERROR 5 to a stranger on a transfer's port counts against the stranger's
// budget: one reflected packet per forged one no more.
TEST(Spoofing, UnknownTransferIdErrorsAreBudgeted) {
  TempDir root;
  root.Write("kernel", TestContent(100000));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--unverified_bytes_max=512"},
                      "127.0.0.1");
  RawClient client("127.0.4.1");
  client.SendTo(Service(server), RequestPacket(1, "kernel"));
  auto first = client.Receive();
  ASSERT_TRUE(first.has_value());
  const io::SocketAddress transfer_port = first->second;
  client.SendTo(transfer_port, AckPacket(1));  // Answered: a real client.
  ASSERT_TRUE(client.Receive().has_value());   // DATA 2.
  RawClient stranger("127.0.4.2");
  stranger.SendBatch(transfer_port,
                     std::vector<std::string>(100, AckPacket(1)));
  // Behind the stranger's datagrams on the same socket: once DATA 3 comes,
  // the server has read them all.
  client.SendTo(transfer_port, AckPacket(2));
  auto third = client.Receive();
  ASSERT_TRUE(third.has_value());
  int errors = 0;
  while (auto d = stranger.Receive(std::chrono::milliseconds(200))) {
    if (OpcodeOf(d->first) == kError) ++errors;
  }
  // ERROR 5 "unknown transfer ID" is 24 bytes: 21 fit in 512.
  EXPECT_GT(errors, 0);
  EXPECT_LE(errors, 21);
}

// A window of 65535 blocks lets an ACK from the previous window alias a
// block of the current one; such values are refused at start.
TEST(Spoofing, WindowsizesThatLetLateAcksAliasAreRefused) {
  TempDir root;
  TftpdProcess server;
  const absl::Status started =
      server.Start(root.path(), {"--windowsize_max=65535"}, "127.0.0.1");
  EXPECT_FALSE(started.ok());
  EXPECT_TRUE(absl::StrContains(server.log(), "--windowsize_max"))
      << server.log();
}

}  // namespace
}  // namespace tftpd::testing
