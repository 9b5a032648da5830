// The places for transfers that a server's shards share.
#include "server/engine/transfer_budget.h"

#include "gtest/gtest.h"

namespace tftpd {
namespace {

TEST(TransferBudget, HasRoomUntilEveryPlaceIsTaken) {
  TransferBudget budget(3, 2);
  budget.Opened(0);
  budget.Opened(1);
  EXPECT_TRUE(budget.HasRoom());
  budget.Opened(1);
  EXPECT_FALSE(budget.HasRoom());
  EXPECT_FALSE(budget.OverLimit());
  budget.Ended(1, /*evictable=*/true);
  EXPECT_TRUE(budget.HasRoom());
  EXPECT_EQ(budget.open(), 2u);
}

TEST(TransferBudget, CountsEachShardsUnansweredTransfers) {
  TransferBudget budget(10, 2);
  budget.Opened(0);
  budget.Opened(0);
  budget.Opened(1);
  EXPECT_EQ(budget.evictable(0), 2u);
  budget.Proven(0);
  EXPECT_EQ(budget.evictable(0), 1u);
  budget.Ended(0, /*evictable=*/false);
  EXPECT_EQ(budget.evictable(0), 1u);
  budget.Ended(0, /*evictable=*/true);
  EXPECT_EQ(budget.evictable(0), 0u);
  EXPECT_EQ(budget.evictable(1), 1u);
  EXPECT_EQ(budget.open(), 1u);
}

TEST(TransferBudget, TheEvictionTargetIsAnotherShardHoldingTheMostUnanswered) {
  TransferBudget budget(4, 3);
  budget.Opened(0);
  budget.Opened(1);
  budget.Opened(2);
  budget.Opened(2);
  EXPECT_EQ(budget.EvictionTarget(0), 2);
  EXPECT_EQ(budget.EvictionTarget(2), 0);  // The first of equals.
  // Shard 0's transfer answered, shard 1's too: only shard 2 holds any,
  // and it cannot ask itself.
  budget.Proven(0);
  budget.Proven(1);
  EXPECT_EQ(budget.EvictionTarget(0), 2);
  EXPECT_EQ(budget.EvictionTarget(2), -1);
}

TEST(TransferBudget, OneTransferPerShardMayOpenBeyondTheLimit) {
  TransferBudget budget(2, 2);
  budget.Opened(1);
  budget.Opened(1);
  // Beyond the limit: two places, one per shard, while shard 1 evicts.
  budget.Opened(0);
  EXPECT_TRUE(budget.OverLimit());
  EXPECT_EQ(budget.EvictionTarget(0), 1);
  budget.Opened(0);
  EXPECT_EQ(budget.EvictionTarget(0), -1);
  budget.Ended(1, /*evictable=*/true);
  EXPECT_EQ(budget.EvictionTarget(0), 1);
}

}  // namespace
}  // namespace tftpd
