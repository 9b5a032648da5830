// The places for transfers, --max_transfers of them, shared by all of a
// server's shards. One count, so that how the kernel's hash spreads clients
// over the shards never refuses a client while another shard has room; and
// each shard's transfers still waiting for their client's first answer, so
// that a shard whose transfers have all been answered can have another shard
// evict one of those (a request forged in a flood) for a real client.
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
  // Every place is taken and `shard` holds no unanswered transfer: the
  // shard that holds the most, which is to evict one while the asking shard
  // opens its transfer in one of the places kept beyond the limit for that
  // (one per shard); -1 when no other shard holds one or those places are
  // taken.
  int EvictionTarget(int shard) const;
  // More transfers are open than the limit: an eviction asked for is due.
  bool OverLimit() const { return open() > max_; }

  // A transfer opened in `shard`; it waits for its client's first answer.
  void Opened(int shard);
  // The transfer's client answered for the first time.
  void Answered(int shard);
  // A transfer ended; `answered`: its client had answered.
  void Ended(int shard, bool answered);

  size_t open() const { return open_.load(std::memory_order_relaxed); }
  size_t unanswered(int shard) const {
    return shards_[shard].unanswered.load(std::memory_order_relaxed);
  }
  size_t max() const { return max_; }

 private:
  // Its own cache line: each shard writes only its own.
  struct alignas(64) ShardCount {
    std::atomic<size_t> unanswered{0};
  };

  const size_t max_;
  std::atomic<size_t> open_{0};
  std::vector<ShardCount> shards_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_TRANSFER_BUDGET_H_
