// Hand-made packet sequences at the edges of a transfer's life: the orders a
// real client produces only under loss or load, made to happen every time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
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
  WaitUntil([&] {
    return CountOccurrences(server.log(), " transfer peer=") >= want;
  });
  const std::string log = server.log();
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
  // The server still serves.
  const HandRead last =
      ReadTransferByHand(service, "four_blocks", std::chrono::seconds(5));
  EXPECT_EQ(last.bytes, content) << server.log();
  // Once the server has exited, every line it will ever write is there: a
  // transfer ended twice would show as a second line.
  TransferLines(server, kTransfers + 1);
  EXPECT_EQ(server.Stop(), 0);
  const std::vector<std::string> settled = TransferLines(server, 0);
  EXPECT_EQ(settled.size(), static_cast<size_t>(kTransfers) + 1)
      << server.log();
  for (const std::string& line : settled) {
    EXPECT_TRUE(absl::StrContains(line, "file=four_blocks outcome=completed"))
        << line;
  }
}

TEST(TransferEdges, AClientThatMovesOnBeforeItsLastAckIsServedAtOnce) {
  // The client has every block of one file, its last ACK is lost (here: never
  // sent), and it asks for the next file from the same port. The new request
  // must not wait for the old transfer's retransmissions (here 5 s away), and
  // what arrives must be the new file. The same request again, though, may be
  // a late repeat of the first: that one waits to see which it is.
  TempDir root;
  const std::string first = TestContent(2 * 512 + 100, 1);
  const std::string second = TestContent(3 * 512 + 7, 2);
  root.Write("first", first);
  root.Write("second", second);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(), {"--timeout=5", "--threads=1"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  RawClient client;
  // Lock step, no options: DATA 1, 2 acknowledged, DATA 3 (the last) not.
  client.SendTo(service, RequestPacket(1, "first"));
  std::string got;
  io::SocketAddress old_tid;
  for (int block = 1; block <= 3; ++block) {
    auto data = client.Receive();
    ASSERT_TRUE(data.has_value()) << "block " << block << server.log();
    ASSERT_EQ(OpcodeOf(data->first), kData);
    got += data->first.substr(4);
    old_tid = data->second;
    if (block < 3) client.SendTo(old_tid, AckPacket(block));
  }
  ASSERT_EQ(got, first);

  client.SendTo(service, RequestPacket(1, "second"));
  got.clear();
  for (int block = 1;; ++block) {
    auto data = client.Receive(std::chrono::milliseconds(2000));
    ASSERT_TRUE(data.has_value())
        << "no block " << block << " of the new file\n"
        << server.log();
    ASSERT_EQ(OpcodeOf(data->first), kData);
    ASSERT_EQ(data->first[3], static_cast<char>(block))
        << "a block of the old transfer came instead";
    got += data->first.substr(4);
    client.SendTo(data->second, AckPacket(static_cast<uint16_t>(block)));
    if (data->first.size() < 4 + 512) break;
  }
  EXPECT_EQ(got, second);
  const std::vector<std::string> lines = TransferLines(server, 2);
  ASSERT_EQ(lines.size(), 2u) << server.log();
  EXPECT_TRUE(absl::StrContains(lines[0], "file=first outcome=superseded"))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[1], "file=second outcome=completed"))
      << lines[1];
  // Nothing more from the old transfer: it ended, retransmissions and all.
  EXPECT_FALSE(client.Receive(std::chrono::milliseconds(300)).has_value());
}

TEST(TransferEdges, ClientsThatVanishCostBoundedTimeAndMemory) {
  // Each client asks, receives the first packet and is never heard from
  // again. The server sends that packet once more at most, ends each
  // transfer at the unanswered timeout (here 1 s), and gives back its
  // socket and memory.
  TempDir root;
  const std::string content = TestContent(1 << 20, 3);
  root.Write("kernel", content);
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--timeout=0.2", "--max_timeout=0.4", "--retries=3",
                       "--unanswered_timeout=1", "--log_level=debug"},
                      "127.0.0.1");
  const io::SocketAddress service =
      *io::SocketAddress::Parse("127.0.0.1", server.port());
  // Descriptors of the idle server: a transfer's socket closes only after
  // its record is logged, once nothing is in flight on it.
  const int idle_fds = ReadProcessResources(server.pid()).fds;
  {  // One complete download first: the file is mapped and cached.
    const HandRead read =
        ReadTransferByHand(service, "kernel", std::chrono::seconds(2));
    ASSERT_EQ(read.bytes, content) << server.log();
  }
  // Idle once that transfer has ended: only the per-address windows
  // (bounded tables) still change.
  server.LogOnceItContains("outcome=completed");
  ASSERT_TRUE(WaitUntil(
      [&] { return ReadProcessResources(server.pid()).fds == idle_fds; },
      std::chrono::seconds(5)))
      << "the completed transfer's socket stayed open";
  const ProcessResources before = ReadProcessResources(server.pid());

  constexpr int kClients = 300;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(
        std::make_unique<RawClient>(ClientAddress(i).HostString()));
    // Half lock-step without options, half windowed with an OACK first.
    clients.back()->SendTo(
        service, i % 2 == 0
                     ? RequestPacket(1, "kernel")
                     : RequestPacket(1, "kernel", "octet",
                                     {"blksize", "1428", "windowsize", "8"}));
  }
  // Every transfer open: each client has had its first packet...
  std::vector<int> packets(kClients, 0);
  for (int i = 0; i < kClients; ++i) {
    if (clients[i]->Receive().has_value()) ++packets[i];
  }
  const ProcessResources during = ReadProcessResources(server.pid());
  // ...then every one ended after the unanswered timeout.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return CountOccurrences(server.log(), "unanswered request") ==
               static_cast<size_t>(kClients);
      },
      std::chrono::seconds(10)))
      << server.log();
  int most = 0;
  for (int i = 0; i < kClients; ++i) {
    while (clients[i]->Receive(std::chrono::milliseconds(0)).has_value()) {
      ++packets[i];
    }
    // The first packet (DATA 1 or the OACK) and one repeat of it.
    EXPECT_GE(packets[i], 1) << "client " << i;
    EXPECT_LE(packets[i], 2) << "client " << i;
    most = std::max(most, packets[i]);
  }
  // Each socket closes once the receive cancelled on it has completed.
  WaitUntil([&] { return ReadProcessResources(server.pid()).fds == idle_fds; },
            std::chrono::seconds(5));
  const ProcessResources after = ReadProcessResources(server.pid());
  std::printf("before: %s\nwith %d transfers open: %s\nafter: %s\n",
              Describe(before).c_str(), kClients, Describe(during).c_str(),
              Describe(after).c_str());
  EXPECT_EQ(after.fds, before.fds);
  // Freed memory may stay with the allocator, but the transfers' state is
  // small: nothing near a copy of the file per client (300 MiB).
  EXPECT_LT(after.rss_anon_kib - before.rss_anon_kib, 16 * 1024);
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_NE(
      server.log().find("transfers_unanswered=" + std::to_string(kClients)),
      std::string::npos)
      << server.log();
}

}  // namespace
}  // namespace tftpd::testing
