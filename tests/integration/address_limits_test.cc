// Limits per client address: what a spoofed request can make the server send
// to its victim, transfers open at once, and requests per second. Clients
// come from loopback addresses of their own (127.0.0.0/8 is all local).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr int kData = 3;
constexpr int kError = 5;

// Each forged request draws its first answer; repeats of them, to an
// address that never answered, come out of the address's budget.
TEST(AddressLimits, SpoofedRequestsGetTheirFirstAnswerAndTheBudget) {
  TempDir root;
  root.Write("kernel", TestContent(100000));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--unverified_bytes_max=4096", "--unanswered_timeout=2",
                       "--log_level=debug"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  // A hundred requests "from" 127.0.0.7 that never answer: each would get a
  // 516-byte DATA and five retransmissions of it, 300 KB in all; it gets
  // the first, and repeats within the budget.
  std::vector<std::unique_ptr<RawClient>> victims;
  for (int i = 0; i < 100; ++i) {
    victims.push_back(std::make_unique<RawClient>("127.0.0.7"));
    victims.back()->SendTo(service, RequestPacket(1, "kernel"));
  }
  // Meanwhile a real client elsewhere is served in full.
  const HandRead good =
      ReadTransferByHand(service, "kernel", std::chrono::seconds(2));
  EXPECT_EQ(good.bytes, TestContent(100000));
  // Every forged request's transfer ends at the unanswered timeout.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return CountOccurrences(server.log(), "unanswered request") == 100;
      },
      std::chrono::seconds(10)))
      << server.log();
  size_t received = 0;
  for (auto& victim : victims) {
    while (auto d = victim->Receive(std::chrono::milliseconds(0))) {
      received += d->first.size();
    }
  }
  EXPECT_GE(received, 100u * 516);
  EXPECT_LE(received, 100u * 516 + 4096);
  server.Stop();
  EXPECT_FALSE(absl::StrContains(server.log(), "amplification_drops=0 "))
      << server.log();
}

TEST(AddressLimits, TransfersPerAddressAreCapped) {
  TempDir root;
  root.Write("kernel", TestContent(100000));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--max_transfers_per_address=2"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient first("127.0.0.5"), second("127.0.0.5"), third("127.0.0.5");
  for (RawClient* c : {&first, &second}) {
    c->SendTo(service, RequestPacket(1, "kernel"));
    auto d = c->Receive();
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(OpcodeOf(d->first), kData);
    // Answered: only transfers whose clients answer count.
    c->SendTo(d->second, AckPacket(1));
    ASSERT_TRUE(c->Receive().has_value());
  }
  third.SendTo(service, RequestPacket(1, "kernel"));
  auto refused = third.Receive();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(OpcodeOf(refused->first), kError);
  EXPECT_TRUE(absl::StrContains(refused->first, "too many transfers"));
  // Another address is not affected.
  RawClient other("127.0.0.6");
  other.SendTo(service, RequestPacket(1, "kernel"));
  auto d = other.Receive();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(OpcodeOf(d->first), kData);
}

TEST(AddressLimits, RequestsPerSecondPerAddressAreCapped) {
  TempDir root;
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--requests_per_second_per_address=5"}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient client("127.0.0.8");
  for (int i = 0; i < 30; ++i) {
    client.SendTo(service, RequestPacket(1, "missing"));
  }
  int not_found = 0;
  int limited = 0;
  while (auto d = client.Receive(std::chrono::milliseconds(500))) {
    if (ErrorCodeOf(d->first) == 1) ++not_found;
    if (absl::StrContains(d->first, "too many requests")) ++limited;
  }
  // Five per second; the burst may straddle two seconds.
  EXPECT_GE(not_found, 5);
  EXPECT_LE(not_found, 10);
  EXPECT_EQ(not_found + limited, 30);
}

}  // namespace
}  // namespace tftpd::testing
