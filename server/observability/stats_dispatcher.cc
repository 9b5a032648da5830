#include "server/observability/stats_dispatcher.h"

#include <exception>

#include "server/api/log.h"

namespace tftpd {

StatsDispatcher::StatsDispatcher(
    TransferStatsCallback on_transfer, ServerStatsCallback on_server,
    std::chrono::milliseconds interval,
    std::function<std::vector<ServerTotals>()> read_shards, size_t max_queued)
    : on_transfer_(std::move(on_transfer)),
      on_server_(std::move(on_server)),
      interval_(interval),
      read_shards_(std::move(read_shards)),
      max_queued_(max_queued) {}

StatsDispatcher::~StatsDispatcher() { Stop(); }

void StatsDispatcher::Start() {
  previous_ = read_shards_();
  previous_time_ = std::chrono::system_clock::now();
  thread_ = std::thread([this] { Run(); });
}

void StatsDispatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool StatsDispatcher::Post(TransferStats stats) {
  if (!on_transfer_) return true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(stats));
  }
  wake_.notify_one();
  return true;
}

void StatsDispatcher::Run() {
  auto next = std::chrono::steady_clock::now() + interval_;
  while (true) {
    std::deque<TransferStats> batch;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_until(lock, next,
                       [&] { return stopping_ || !queue_.empty(); });
      batch.swap(queue_);
      stopping = stopping_;
    }
    for (const TransferStats& stats : batch) {
      try {
        on_transfer_(stats);
      } catch (const std::exception& e) {
        TFTPD_LOG(kWarning, "transfer statistics callback threw: %s", e.what());
      }
    }
    if (stopping || std::chrono::steady_clock::now() >= next) {
      DeliverServerStats();
      next = std::chrono::steady_clock::now() + interval_;
    }
    if (stopping) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.empty()) return;  // Else deliver what came meanwhile.
    }
  }
}

void StatsDispatcher::DeliverServerStats() {
  std::vector<ServerTotals> now = read_shards_();
  const auto now_time = std::chrono::system_clock::now();
  ServerStats stats;
  stats.interval_start = previous_time_;
  stats.interval_end = now_time;
  for (size_t i = 0; i < now.size(); ++i) {
    ServerTotals delta =
        i < previous_.size() ? now[i].Minus(previous_[i]) : now[i];
    stats.totals.Add(delta);
    stats.shards.push_back(delta);
  }
  previous_ = std::move(now);
  previous_time_ = now_time;
  if (!on_server_) return;
  try {
    on_server_(stats);
  } catch (const std::exception& e) {
    TFTPD_LOG(kWarning, "server statistics callback threw: %s", e.what());
  }
}

}  // namespace tftpd
