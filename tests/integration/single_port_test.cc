// --single_port: every transfer is answered from the service port, and the
// client's packets reach their transfer by its address and port alone. What
// a client behind a NAT or a firewall that lets only the service port
// through needs: every reply from the address and port it sent to.
// (The real clients, uploads, fault and 1000-client suites also run in this
// mode: the *_single_port targets.)
#include <signal.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr int kData = 3;

std::string BlockOf(const std::string& datagram) { return datagram.substr(4); }

uint16_t BlockNumberOf(const std::string& datagram) {
  return static_cast<uint16_t>(static_cast<uint8_t>(datagram[2]) << 8 |
                               static_cast<uint8_t>(datagram[3]));
}

// A lock-step read by hand that checks where every packet came from.
struct CheckedRead {
  std::string bytes;
  bool complete = false;
  std::string problem;  // Empty when every packet came from `service`.
};

CheckedRead ReadFromServicePort(RawClient& client,
                                const io::SocketAddress& service,
                                const std::string& name) {
  CheckedRead read;
  client.SendTo(service, RequestPacket(1, name));
  uint16_t expected = 1;
  while (true) {
    auto packet = client.Receive();
    if (!packet.has_value()) {
      read.problem = "no DATA " + std::to_string(expected);
      return read;
    }
    if (packet->second != service) {
      read.problem = "DATA from " + packet->second.ToString() + ", not " +
                     service.ToString();
      return read;
    }
    if (OpcodeOf(packet->first) != kData) {
      read.problem = "opcode " + std::to_string(OpcodeOf(packet->first));
      return read;
    }
    if (BlockNumberOf(packet->first) != expected) continue;  // A repeat.
    read.bytes += BlockOf(packet->first);
    client.SendTo(service, AckPacket(expected));
    if (packet->first.size() < 4 + 512) {
      read.complete = true;
      return read;
    }
    ++expected;
  }
}

TEST(SinglePort, RepliesLeaveFromTheAddressAndPortTheClientSentTo) {
  // The server listens on the wildcard address; the client sends to
  // 127.0.0.2, which is not the address the kernel would pick to reach it.
  TempDir root;
  const std::string content = TestContent(10 * 512 + 100);
  root.Write("eleven_blocks", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--single_port"}, "::");
  for (const char* address : {"127.0.0.1", "127.0.0.2", "::1"}) {
    SCOPED_TRACE(address);
    const io::SocketAddress service =
        *io::SocketAddress::Parse(address, server.port());
    RawClient client(std::string(address) == "::1" ? "::1" : "127.0.0.1");
    const CheckedRead read =
        ReadFromServicePort(client, service, "eleven_blocks");
    EXPECT_EQ(read.problem, "") << server.log();
    EXPECT_TRUE(read.complete);
    EXPECT_EQ(read.bytes, content);
  }
}

TEST(SinglePort, RefusalsLeaveFromTheAddressTheClientSentTo) {
  // A request refused on a wildcard socket (here a missing file, which PXE
  // clients probe for all the time) gets its ERROR from the address it was
  // sent to, in either mode: from another, a NAT drops it and the client
  // waits out its timeout instead.
  TempDir root;
  for (const bool single_port : {false, true}) {
    SCOPED_TRACE(single_port ? "--single_port" : "port per transfer");
    TftpdProcess server;
    std::vector<std::string> flags;
    if (single_port) flags.push_back("--single_port");
    TFTPD_START_OR_SKIP(server, root.path(), flags, "::");
    for (const char* address : {"127.0.0.2", "::1"}) {
      const io::SocketAddress service =
          *io::SocketAddress::Parse(address, server.port());
      RawClient client(std::string(address) == "::1" ? "::1" : "127.0.0.1");
      client.SendTo(service,
                    RequestPacket(1, "pxelinux.cfg/01-52-54-00-12-34-56"));
      auto error = client.Receive();
      ASSERT_TRUE(error.has_value()) << address << "\n" << server.log();
      EXPECT_EQ(ErrorCodeOf(error->first), 1);
      EXPECT_EQ(error->second, service)
          << "ERROR from " << error->second.ToString() << ", sent to "
          << service.ToString();
    }
  }
}

TEST(SinglePort, TransfersFromOneAddressAreToldApartByPort) {
  // Two clients on one address, lock-step, their ACKs interleaved: each
  // must get its own file, block by block.
  TempDir root;
  const std::string first = TestContent(20 * 512 + 1, 1);
  const std::string second = TestContent(20 * 512 + 2, 2);
  root.Write("first", first);
  root.Write("second", second);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--single_port"}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient a;
  RawClient b;
  a.SendTo(service, RequestPacket(1, "first"));
  b.SendTo(service, RequestPacket(1, "second"));
  std::string got_a;
  std::string got_b;
  bool done_a = false;
  bool done_b = false;
  for (uint16_t block = 1; !(done_a && done_b); ++block) {
    for (auto [client, got, done] :
         {std::tuple{&a, &got_a, &done_a}, std::tuple{&b, &got_b, &done_b}}) {
      if (*done) continue;
      auto packet = client->Receive();
      ASSERT_TRUE(packet.has_value()) << "block " << block << server.log();
      ASSERT_EQ(packet->second, service);
      ASSERT_EQ(OpcodeOf(packet->first), kData);
      ASSERT_EQ(BlockNumberOf(packet->first), block);
      *got += BlockOf(packet->first);
      client->SendTo(service, AckPacket(block));
      *done = packet->first.size() < 4 + 512;
    }
  }
  EXPECT_EQ(got_a, first);
  EXPECT_EQ(got_b, second);
}

TEST(SinglePort, PacketsFromAPortWithNoTransferAreNotAnswered) {
  // An ACK from a port that has no transfer is neither an error to answer
  // (the service port must not reflect) nor the business of the transfer
  // open for another port of the same address.
  TempDir root;
  const std::string content = TestContent(4 * 512 + 7);
  root.Write("five_blocks", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--single_port"}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient client;
  RawClient stranger;
  client.SendTo(service, RequestPacket(1, "five_blocks"));
  auto first = client.Receive();
  ASSERT_TRUE(first.has_value()) << server.log();
  ASSERT_EQ(BlockNumberOf(first->first), 1);
  // The stranger acknowledges blocks the client has not: the transfer must
  // not move on for it.
  for (uint16_t block = 1; block <= 5; ++block) {
    stranger.SendTo(service, AckPacket(block));
  }
  EXPECT_FALSE(stranger.Receive(std::chrono::milliseconds(300)).has_value());
  EXPECT_FALSE(client.Receive(std::chrono::milliseconds(300)).has_value())
      << "the transfer moved on for another port's ACKs";
  std::string bytes = BlockOf(first->first);
  client.SendTo(service, AckPacket(1));
  for (uint16_t block = 2;; ++block) {
    auto packet = client.Receive();
    ASSERT_TRUE(packet.has_value()) << "block " << block << server.log();
    ASSERT_EQ(BlockNumberOf(packet->first), block);
    bytes += BlockOf(packet->first);
    client.SendTo(service, AckPacket(block));
    if (packet->first.size() < 4 + 512) break;
  }
  EXPECT_EQ(bytes, content);
}

TEST(SinglePort, EveryTransferHasRoomForItsAcksInTheServiceQueue) {
  // Every transfer's ACKs arrive on the service sockets; when a shard runs
  // behind they wait there, and a queue without room for an ACK from each
  // transfer drops some (each drop a retransmission timeout for its
  // client): 100,000 clients at 1% loss lost a few to it.
  TempDir root;
  TftpdProcess server;
  constexpr uint64_t kTransfers = 100000;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--single_port", "--threads=2",
                       "--max_transfers=" + std::to_string(kTransfers)},
                      "127.0.0.1");
  const std::string log = server.log();
  if (log.find("the kernel capped") != std::string::npos) {
    GTEST_SKIP() << "net.core.rmem_max caps receive buffers here and the "
                    "test lacks CAP_NET_ADMIN to exceed it: "
                 << log;
  }
  size_t from = 0;
  const std::optional<uint64_t> rcvbuf = NumberAfter(log, "rcvbuf", &from);
  ASSERT_TRUE(rcvbuf.has_value()) << log;
  const uint64_t sockets =
      log.find("single listener") != std::string::npos ? 1 : 2;
  // rcvbuf is what SO_RCVBUF was set to; Linux holds twice that in queued
  // bytes and counts 832 for an ACK: room for one and its repeat.
  EXPECT_GE(*rcvbuf * 2, kTransfers / sockets * 2 * 832) << log;
}

// Listener modes: each shard's own SO_REUSEPORT socket (the kernel keeps a
// client on one), or one socket whose shard hands every packet, requests and
// ACKs alike, to the shard its client hashes to.
class SinglePortListeners : public ::testing::TestWithParam<std::string> {};

TEST_P(SinglePortListeners, ManyConcurrentClientsGetEveryByte) {
  TempDir root;
  const std::string content = TestContent(300 * 1000);
  root.Write("image", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(
      server, root.path(),
      {"--single_port", "--threads=3", "--listener=" + GetParam()},
      "127.0.0.1");
  std::vector<DownloadJob> jobs(300);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].request.filename = "image";
    jobs[i].request.blksize = i % 3 == 0 ? 512 : 1428;
    jobs[i].request.ask_tsize = true;
    jobs[i].request.windowsize = static_cast<uint16_t>(1 + i % 8);
    jobs[i].expected = &content;
  }
  const DownloadReport report = RunConcurrentDownloads(
      *io::SocketAddress::Parse("127.0.0.1", server.port()), jobs);
  std::string failures;
  for (const std::string& job : report.failed_jobs) failures += job + "\n";
  EXPECT_EQ(report.completed, 300) << failures << server.log();
}

TEST_P(SinglePortListeners, ATransferInProgressFinishesAfterStopIsAsked) {
  // On SIGTERM the server takes no new requests but lets transfers finish:
  // their ACKs still come in on the service socket.
  TempDir root;
  const std::string content = TestContent(30 * 512 + 5);
  root.Write("thirty_one_blocks", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--single_port", "--threads=3",
                       "--listener=" + GetParam(), "--shutdown_grace=5"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient client;
  client.SendTo(service, RequestPacket(1, "thirty_one_blocks"));
  std::string bytes;
  for (uint16_t block = 1;; ++block) {
    auto packet = client.Receive();
    ASSERT_TRUE(packet.has_value()) << "block " << block << server.log();
    ASSERT_EQ(OpcodeOf(packet->first), kData) << server.log();
    ASSERT_EQ(BlockNumberOf(packet->first), block);
    bytes += BlockOf(packet->first);
    if (block == 3) {
      // Every shard has taken the stop before the transfer goes on.
      server.Signal(SIGTERM);
      ASSERT_TRUE(server.WaitForEveryShardToStop()) << server.log();
    }
    client.SendTo(service, AckPacket(block));
    if (packet->first.size() < 4 + 512) break;
  }
  EXPECT_EQ(bytes, content);
  EXPECT_NE(
      server.LogOnceItContains("outcome=completed").find("outcome=completed"),
      std::string::npos)
      << server.log();
  EXPECT_EQ(server.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, SinglePortListeners,
                         ::testing::Values("reuseport", "single"));

}  // namespace
}  // namespace tftpd::testing
