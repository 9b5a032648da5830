// The transfers in progress as a shard reports them (Server::Transfers and
// the status page): who, what, how far, how well, and whether the client
// has answered yet.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/engine/snapshot_collector.h"
#include "tests/server/engine/engine_harness.h"

namespace tftpd::testing {
namespace {

constexpr int kData = 3;
constexpr int kOack = 6;

std::vector<TransferSnapshot> TakeSnapshot(EngineHarness& h) {
  auto collector = std::make_shared<SnapshotCollector>(1);
  h.shard().RequestSnapshot(collector);
  h.Run();  // The shard takes the request from its inbox.
  return collector->Wait(std::chrono::steady_clock::now());
}

TEST(Snapshot, ShowsEachTransferInProgress) {
  const std::string content = TestContent(10000, 3);
  EngineHarness h({}, std::make_shared<BytesHandler>(content));
  EXPECT_TRUE(TakeSnapshot(h).empty());

  // One client two blocks in, at blksize 1428.
  const io::SocketAddress reading = Client(1);
  h.SendToService(
      reading, RequestPacket(1, "boot/kernel", "octet", {"blksize", "1428"}));
  std::vector<Reply> replies = To(h.Run(), reading);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].opcode(), kOack);
  const int fd = replies[0].fd;
  for (uint16_t block = 0; block < 2; ++block) {
    h.SendTo(fd, reading, AckPacket(block));
    replies = To(h.Run(), reading);
    ASSERT_EQ(replies.size(), 1u);
    ASSERT_EQ(replies[0].opcode(), kData);
  }
  h.Advance(std::chrono::milliseconds(100));
  // Another whose client has not answered its first packet.
  const io::SocketAddress silent = Client(2);
  h.SendToService(silent, RequestPacket(1, "boot/initrd"));
  h.Run();

  std::vector<TransferSnapshot> snapshot = TakeSnapshot(h);
  ASSERT_EQ(snapshot.size(), 2u);
  const TransferSnapshot* first = nullptr;
  const TransferSnapshot* second = nullptr;
  for (const TransferSnapshot& s : snapshot) {
    (s.peer == reading ? first : second) = &s;
  }
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->requested_path, "boot/kernel");
  EXPECT_EQ(first->phase, "sending");
  EXPECT_TRUE(first->answered);
  EXPECT_FALSE(first->upload);
  EXPECT_EQ(first->bytes_acknowledged, 1428u);  // ACK 1 of 2 sent.
  EXPECT_EQ(first->size, std::optional<uint64_t>(10000));
  EXPECT_EQ(first->blksize, 1428);
  EXPECT_EQ(first->packets_sent, 3u);  // OACK, DATA 1, DATA 2.
  EXPECT_EQ(first->retransmits, 0u);
  EXPECT_GE(first->age, std::chrono::milliseconds(100));
  EXPECT_NE(first->request_id, second->request_id);

  EXPECT_EQ(second->peer, silent);
  EXPECT_EQ(second->requested_path, "boot/initrd");
  EXPECT_FALSE(second->answered);
  EXPECT_EQ(second->bytes_acknowledged, 0u);
  EXPECT_EQ(second->blksize, 512);
  EXPECT_LT(second->age, first->age);
}

}  // namespace
}  // namespace tftpd::testing
