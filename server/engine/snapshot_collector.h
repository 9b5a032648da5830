// Gathers one TransferSnapshot list from every shard: the asking thread
// posts the collector to each shard's inbox and waits; each shard adds its
// transfers when it takes the message. A shard that has stopped never
// answers, so the wait is bounded.
#ifndef TFTPD_SERVER_ENGINE_SNAPSHOT_COLLECTOR_H_
#define TFTPD_SERVER_ENGINE_SNAPSHOT_COLLECTOR_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "server/api/transfer_snapshot.h"

namespace tftpd {

class SnapshotCollector {
 public:
  explicit SnapshotCollector(size_t shards) : waiting_for_(shards) {}

  // A shard's thread: its transfers.
  void Add(std::vector<TransferSnapshot> transfers) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (TransferSnapshot& t : transfers) transfers_.push_back(std::move(t));
    if (waiting_for_ > 0) --waiting_for_;
    if (waiting_for_ == 0) done_.notify_all();
  }

  // The asking thread: every shard's transfers, or those that answered by
  // `deadline`.
  std::vector<TransferSnapshot> Wait(
      std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait_until(lock, deadline, [this] { return waiting_for_ == 0; });
    return transfers_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  size_t waiting_for_;
  std::vector<TransferSnapshot> transfers_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_ENGINE_SNAPSHOT_COLLECTOR_H_
