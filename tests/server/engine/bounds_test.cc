// Every queue and table a peer can grow inside a shard has a bound: the
// recently ended transfers, the listener's hand-off queue, and the order in
// which transfers wait for their first answer.
#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "server/engine/inbox.h"
#include "server/engine/recent_transfers.h"
#include "server/engine/transfer_table.h"

namespace tftpd {
namespace {

io::SocketAddress Peer(uint16_t port) {
  return *io::SocketAddress::Parse("127.0.0.1", port);
}

HandedRequest Handed(size_t size) {
  HandedRequest request;
  request.bytes.assign(size, 'r');
  return request;
}

// A client fetching again and again from one port keeps one entry, and the
// order of ends stays within twice the capacity.
TEST(Bounds, RecentTransfersStayWithinTwiceTheirCapacity) {
  RecentTransfers recent(std::chrono::seconds(2), /*capacity=*/8);
  io::TimePoint now{};
  for (int i = 0; i < 1000; ++i) {
    now += std::chrono::microseconds(10);
    recent.Remember(Peer(1000), 42, now);
  }
  EXPECT_EQ(recent.size(), 1u);
  EXPECT_LE(recent.order_size(), 16u);
  EXPECT_TRUE(recent.Repeats(Peer(1000), 42, now));
  // Full of other clients: the oldest are forgotten, and counted.
  size_t forgotten = 0;
  for (uint16_t port = 1; port <= 20; ++port) {
    forgotten += recent.Remember(Peer(port), 1, now);
  }
  EXPECT_EQ(recent.size(), 8u);
  EXPECT_EQ(forgotten, 13u);
}

TEST(Bounds, TheHandOffQueueRefusesBeyondItsBound) {
  int wakes = 0;
  Inbox inbox([&] { ++wakes; });
  size_t taken = 0;
  for (size_t i = 0; i < Inbox::kMaxHanded; ++i) {
    ASSERT_TRUE(inbox.PostRequest(Handed(100)));
  }
  EXPECT_FALSE(inbox.PostRequest(Handed(100)));
  // Messages from the shard's own helpers are never refused.
  inbox.Post(StreamProgress{1, 1});
  taken = inbox.Take().size();
  EXPECT_EQ(taken, Inbox::kMaxHanded + 1);
  EXPECT_TRUE(inbox.PostRequest(Handed(100)));
  // A bound on bytes too: large datagrams fill it sooner.
  inbox.Take();
  size_t large = 0;
  while (inbox.PostRequest(Handed(65000))) ++large;
  EXPECT_EQ(large, Inbox::kMaxHandedBytes / 65000);
  EXPECT_GE(wakes, 2);
}

// The order of transfers waiting for a first answer is compacted: opening
// and ending transfers without end does not grow it.
TEST(Bounds, TheUnansweredOrderIsCompacted) {
  TransferTable table;
  for (uint16_t i = 0; i < 10000; ++i) {
    const uint32_t index = table.Open(Peer(i), TransferPhase::kSending);
    table[index].peer_answered = (i % 2) == 0;
    table.End(index);
    table.Recycle(index);
  }
  EXPECT_FALSE(table.OldestUnanswered(std::nullopt).has_value());
  const uint32_t waiting = table.Open(Peer(1), TransferPhase::kSending);
  EXPECT_EQ(table.OldestUnanswered(std::nullopt), waiting);
  EXPECT_FALSE(table.OldestUnanswered(waiting).has_value());
  EXPECT_LE(table.opened_size(), 2 * table.size() + 16);
}

}  // namespace
}  // namespace tftpd
