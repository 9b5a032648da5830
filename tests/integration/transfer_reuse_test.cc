// The ends of transfers, and what may follow them, against the real binary:
// a slot reused after a wait, a request parked when the server is told to
// stop, and a late copy of a request that already had its transfer.
#include <csignal>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr int kData = 3;
constexpr int kAck = 4;
constexpr int kError = 5;

std::string DataPacket(uint16_t block, const std::string& payload) {
  std::string d = {0, 3, static_cast<char>(block >> 8),
                   static_cast<char>(block & 0xff)};
  return d + payload;
}

int BlockOf(const std::string& datagram) {
  return (static_cast<uint8_t>(datagram[2]) << 8) |
         static_cast<uint8_t>(datagram[3]);
}

// A read that waited for the loader and was refused (netascii of a file
// over the 16 MiB limit) leaves its slot to the next transfer, an upload:
// the upload must not inherit the wait and be ended at the source timeout
// ("file could not be read in time") while its client is still sending.
TEST(TransferReuse, AnUploadInASlotThatWaitedForAFileKeepsGoing) {
  TempDir root;
  TempDir incoming;
  root.Write("big.txt", TestContent((16 << 20) + 1000, 1));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--threads=1", "--allow_write", "--create",
                       "--write_root=" + incoming.path(),
                       "--source_timeout=0.5", "--timeout=1"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient reader;
  reader.SendTo(service, RequestPacket(1, "big.txt", "netascii"));
  auto refused = reader.Receive(std::chrono::seconds(10));
  ASSERT_TRUE(refused.has_value()) << server.log();
  ASSERT_EQ(OpcodeOf(refused->first), kError);

  RawClient uploader;
  uploader.SendTo(service, RequestPacket(2, "slow.cfg"));
  auto ack0 = uploader.Receive();
  ASSERT_TRUE(ack0.has_value());
  ASSERT_EQ(OpcodeOf(ack0->first), kAck);
  const io::SocketAddress tid = ack0->second;
  const std::string first = TestContent(512, 2);
  uploader.SendTo(tid, DataPacket(1, first));
  auto ack1 = uploader.Receive();
  ASSERT_TRUE(ack1.has_value());
  ASSERT_EQ(OpcodeOf(ack1->first), kAck);
  // The client goes quiet past the source timeout (0.5 s): the server's
  // next word is its ACK 1 again, after its own timeout (1 s).
  auto again = uploader.Receive(std::chrono::seconds(5));
  ASSERT_TRUE(again.has_value()) << server.log();
  EXPECT_EQ(OpcodeOf(again->first), kAck)
      << "error " << ErrorCodeOf(again->first) << ": " << again->first.substr(4)
      << "\n"
      << server.log();
  EXPECT_EQ(BlockOf(again->first), 1);
  uploader.SendTo(tid, DataPacket(2, "end"));
  auto ack2 = uploader.Receive(std::chrono::seconds(5));
  ASSERT_TRUE(ack2.has_value());
  EXPECT_EQ(OpcodeOf(ack2->first), kAck);
  EXPECT_EQ(ReadFile(incoming.Join("slow.cfg")), first + "end");
}

// A request that came while the client's transfer was open (parked) is not
// started once the server has been told to stop: the server ends when the
// open transfer does.
TEST(TransferReuse, ARequestParkedBeforeAStopIsNotStarted) {
  TempDir root;
  const std::string content = TestContent(1300, 3);  // Three blocks.
  root.Write("a", content);
  root.Write("b", "next");
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--threads=1"}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient client;
  client.SendTo(service, RequestPacket(1, "a"));
  auto data = client.Receive();
  ASSERT_TRUE(data.has_value());
  ASSERT_EQ(OpcodeOf(data->first), kData);
  const io::SocketAddress tid = data->second;
  // Another request from the same port before the first answer: parked.
  client.SendTo(service, RequestPacket(1, "b"));
  server.Signal(SIGTERM);
  ASSERT_TRUE(server.WaitForEveryShardToStop()) << server.log();
  for (uint16_t block = 1; block <= 3; ++block) {
    client.SendTo(tid, AckPacket(block));
    if (block == 3) break;
    auto next = client.Receive();
    ASSERT_TRUE(next.has_value()) << server.log();
    ASSERT_EQ(OpcodeOf(next->first), kData);
    ASSERT_EQ(BlockOf(next->first), block + 1);
  }
  // Everything the server sent is in the client's socket once it exited.
  EXPECT_EQ(server.Stop(), 0);
  auto after = client.Receive(std::chrono::milliseconds(100));
  EXPECT_FALSE(after.has_value())
      << "opcode " << OpcodeOf(after->first) << " from "
      << after->second.ToString() << " after the stop";
}

// A copy of a request that arrives after its transfer completed (delayed in
// the network, or repeated before the first answer arrived) is not a second
// transfer: unanswered, it is counted as a duplicate request, with no
// transfer line and no timeout; the same request answered is a transfer.
TEST(TransferReuse, ALateCopyOfARequestIsNoSecondTransfer) {
  TempDir root;
  root.Write("x", TestContent(100, 4));
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--timeout=0.2", "--max_timeout=0.2", "--retries=1"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient client;
  client.SendTo(service, RequestPacket(1, "x"));
  auto data = client.Receive();
  ASSERT_TRUE(data.has_value());
  ASSERT_EQ(OpcodeOf(data->first), kData);
  client.SendTo(data->second, AckPacket(1));
  // The late copy: answered, never acknowledged.
  client.SendTo(service, RequestPacket(1, "x"));
  auto unanswered = client.Receive();
  ASSERT_TRUE(unanswered.has_value()) << server.log();
  // A client that wants it again (another port, as most do) is served.
  const HandRead again =
      ReadTransferByHand(service, "x", std::chrono::seconds(5));
  EXPECT_EQ(again.bytes, TestContent(100, 4));
  server.LogOnceItContains("outcome=completed", std::chrono::seconds(5));
  ASSERT_TRUE(WaitUntil([&] {
    return CountOccurrences(server.log(), "outcome=completed") == 2;
  })) << server.log();
  EXPECT_EQ(server.Stop(), 0);
  const std::string log = server.log();
  EXPECT_EQ(CountOccurrences(log, " transfer peer="), 2u) << log;
  EXPECT_EQ(CountOccurrences(log, "outcome=timed_out"), 0u) << log;
  EXPECT_TRUE(absl::StrContains(log, "transfers_started=2 ")) << log;
  EXPECT_TRUE(absl::StrContains(log, "duplicate_requests=1 ")) << log;
}

}  // namespace
}  // namespace tftpd::testing
