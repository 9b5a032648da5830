// A few threads working through a queue of jobs, for the work a shard must
// never wait for (mapping files, committing uploads). Jobs run in the order
// posted, each on whichever thread is free.
#ifndef TFTPD_SERVER_API_WORKER_POOL_H_
#define TFTPD_SERVER_API_WORKER_POOL_H_

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace tftpd {

template <typename Job>
class WorkerPool {
 public:
  // `run` does a job on a pool thread. At destruction, jobs not started go
  // to `drop` instead (on the destroying thread), so that what they hold is
  // released; jobs running finish. `on_start`, when given, runs first on
  // each pool thread (its scheduling policy, say).
  WorkerPool(int threads, std::function<void(Job&)> run,
             std::function<void(Job&)> drop,
             std::function<void()> on_start = nullptr)
      : run_(std::move(run)), drop_(std::move(drop)) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      threads_.emplace_back([this, on_start] {
        if (on_start != nullptr) on_start();
        Work();
      });
    }
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() {
    std::deque<Job> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      dropped.swap(jobs_);
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
    for (Job& job : dropped) drop_(job);
  }

  // Any thread.
  void Post(Job job) { TryPost(job, SIZE_MAX); }
  // Any thread: posts `job` unless `max_queued` jobs wait already or the
  // pool is being destroyed; false (and `job` untouched) when so.
  bool TryPost(Job& job, size_t max_queued) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ || jobs_.size() >= max_queued) return false;
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
    return true;
  }

 private:
  void Work() {
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      run_(job);
    }
  }

  const std::function<void(Job&)> run_;
  const std::function<void(Job&)> drop_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;  // Guarded by mutex_.
  bool stopping_ = false;
  // Last: the threads start once everything they use is constructed.
  std::vector<std::thread> threads_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_WORKER_POOL_H_
