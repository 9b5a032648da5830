// The places for transfers, --max_transfers of them, shared by all of a
// server's shards. One count, so that how the kernel's hash spreads clients
// over the shards never refuses a client while another shard has room; and
// each shard's evictable transfers (waiting for their client's first answer;
// in single-port mode, where no answer proves a client, all of them), so
// that a shard with none can have another shard evict one (a request forged
// in a flood) for a real client.
//
// Any thread; every count is one atomic, read without locks. A shard checks
// for room and then opens, so shards deciding at the same instant may open
// one transfer each beyond the limit: the table holds at most
// max + 2 x shards transfers.
#ifndef TFTPD_SERVER_ENGINE_TRANSFER_BUDGET_H_
#define TFTPD_SERVER_ENGINE_TRANSFER_BUDGET_H_

#include <atomic>
#include <cstddef>
#include <vector>

namespace tftpd {

class TransferBudget {
 public:
  TransferBudget(size_t max_transfers, int shards);
  TransferBudget(const TransferBudget&) = delete;
  TransferBudget& operator=(const TransferBudget&) = delete;

  // Fewer than max transfers are open.
  bool HasRoom() const { return open() < max_; }
  // Every place is taken and `shard` holds no evictable transfer: the
  // shard that holds the most, which is to evict one while the asking shard
  // opens its transfer in one of the places kept beyond the limit for that
  // (one per shard); -1 when no other shard holds one or those places are
  // taken.
  int EvictionTarget(int shard) const;
  // More transfers are open than the limit: an eviction asked for is due.
  bool OverLimit() const { return open() > max_; }

  // A transfer opened in `shard`; it is evictable.
  void Opened(int shard);
  // The transfer's client proved itself: it is no longer evictable.
  void Proven(int shard);
  // A transfer ended, `evictable` or not.
  void Ended(int shard, bool evictable);

  size_t open() const { return open_.load(std::memory_order_relaxed); }
  size_t evictable(int shard) const {
    return shards_[shard].evictable.load(std::memory_order_relaxed);
  }
  size_t max() const { return max_; }

 private:
  // Its own cache line: each shard writes only its own.
  struct alignas(64) ShardCount {
    std::atomic<size_t> evictable{0};
  };

  const size_t max_;
  std::atomic<size_t> open_{0};
  std::vector<ShardCount> shards_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_TRANSFER_BUDGET_H_
