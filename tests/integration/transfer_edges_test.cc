// Hand-made packet sequences at the edges of a transfer's life: the orders a
// real client produces only under loss or load, made to happen every time.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr int kData = 3;
constexpr int kOack = 6;

// The transfer lines of `log`, once there are `want` of them or after 5 s.
std::vector<std::string> TransferLines(const TftpdProcess& server,
                                       size_t want) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string log = server.log();
  while (CountOccurrences(log, " transfer peer=") < want &&
         std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log = server.log();
  }
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, " transfer peer=")) {
      lines.emplace_back(line);
    }
  }
  return lines;
}

TEST(TransferEdges, AFinalAckRightBehindAnEarlierOneEndsTheTransferOnce) {
  // The client acknowledges part of a window (the server queues the rest
  // again) and, in the same breath, the final block: the transfer is done
  // while resends are still queued. It must end once, and its slot must
  // serve the next transfers.
  TempDir root;
  const std::string content = TestContent(3 * 512 + 264);  // Four blocks.
  root.Write("four_blocks", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--threads=1"}, "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());

  constexpr int kTransfers = 50;
  for (int i = 0; i < kTransfers; ++i) {
    RawClient client;
    client.SendTo(
        service, RequestPacket(1, "four_blocks", "octet", {"windowsize", "4"}));
    auto oack = client.Receive();
    ASSERT_TRUE(oack.has_value()) << "transfer " << i << "\n" << server.log();
    ASSERT_EQ(OpcodeOf(oack->first), kOack);
    const io::SocketAddress tid = oack->second;
    client.SendTo(tid, AckPacket(0));
    std::string received;
    for (int block = 1; block <= 4; ++block) {
      auto data = client.Receive();
      ASSERT_TRUE(data.has_value()) << "transfer " << i << " block " << block;
      ASSERT_EQ(OpcodeOf(data->first), kData);
      received += data->first.substr(4);
    }
    ASSERT_EQ(received, content);
    client.SendBatch(tid, {AckPacket(2), AckPacket(4)});
  }

  TransferLines(server, kTransfers);
  // A transfer ended twice would log a second line soon after its first.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::vector<std::string> settled = TransferLines(server, kTransfers);
  EXPECT_EQ(settled.size(), static_cast<size_t>(kTransfers)) << server.log();
  for (const std::string& line : settled) {
    EXPECT_TRUE(absl::StrContains(line, "file=four_blocks outcome=completed"))
        << line;
  }
  // The server still serves.
  RawClient client;
  client.SendTo(service, RequestPacket(1, "four_blocks"));
  auto data = client.Receive();
  ASSERT_TRUE(data.has_value()) << server.log();
  EXPECT_EQ(OpcodeOf(data->first), kData);
}

}  // namespace
}  // namespace tftpd::testing
