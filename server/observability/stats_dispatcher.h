// The thread that runs the statistics callbacks (stats_callbacks.h). Shards
// post transfer records into a bounded queue and go on; every interval the
// thread reads every shard's counters and delivers the difference from the
// previous reading.
#ifndef TFTPD_SERVER_OBSERVABILITY_STATS_DISPATCHER_H_
#define TFTPD_SERVER_OBSERVABILITY_STATS_DISPATCHER_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "server/api/server_stats.h"
#include "server/api/stats_callbacks.h"

namespace tftpd {

class StatsDispatcher {
 public:
  // `read_shards` returns each shard's counters since start.
  StatsDispatcher(TransferStatsCallback on_transfer,
                  ServerStatsCallback on_server,
                  std::chrono::milliseconds interval,
                  std::function<std::vector<ServerTotals>()> read_shards,
                  size_t max_queued = 65536);
  ~StatsDispatcher();  // Stop()s.

  void Start();
  // Delivers what is queued and a last ServerStats for the interval so far,
  // then ends the thread.
  void Stop();
  // Any thread. False when the queue is full (the record is dropped).
  bool Post(TransferStats stats);
  bool wants_transfers() const { return static_cast<bool>(on_transfer_); }

 private:
  void Run();
  void DeliverServerStats();

  const TransferStatsCallback on_transfer_;
  const ServerStatsCallback on_server_;
  const std::chrono::milliseconds interval_;
  const std::function<std::vector<ServerTotals>()> read_shards_;
  const size_t max_queued_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<TransferStats> queue_;  // Guarded by mutex_.
  bool stopping_ = false;            // Guarded by mutex_.
  std::thread thread_;

  // The dispatcher thread's own.
  std::vector<ServerTotals> previous_;
  std::chrono::system_clock::time_point previous_time_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_OBSERVABILITY_STATS_DISPATCHER_H_
