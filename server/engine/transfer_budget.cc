#include "server/engine/transfer_budget.h"

#include <algorithm>

namespace tftpd {

TransferBudget::TransferBudget(size_t max_transfers, int shards)
    : max_(std::max<size_t>(1, max_transfers)),
      shards_(static_cast<size_t>(std::max(1, shards))) {}

int TransferBudget::EvictionTarget(int shard) const {
  if (open() >= max_ + shards_.size()) return -1;
  int target = -1;
  size_t most = 0;
  for (size_t i = 0; i < shards_.size(); ++i) {
    const size_t held = evictable(static_cast<int>(i));
    if (static_cast<int>(i) != shard && held > most) {
      most = held;
      target = static_cast<int>(i);
    }
  }
  return target;
}

void TransferBudget::Opened(int shard) {
  open_.fetch_add(1, std::memory_order_relaxed);
  shards_[shard].evictable.fetch_add(1, std::memory_order_relaxed);
}

void TransferBudget::Proven(int shard) {
  shards_[shard].evictable.fetch_sub(1, std::memory_order_relaxed);
}

void TransferBudget::Ended(int shard, bool evictable) {
  if (evictable) Proven(shard);
  open_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace tftpd
