#include "server/api/source_threads.h"

#include <sched.h>

#include <algorithm>

namespace tftpd {

namespace {

// A shard posts a read on the ACK that makes it due. On a core the two
// share, a source thread woken as a normal thread preempted the shard there,
// once per read and back: in a storm of 1,000 clients, 100,000 switches and
// a tenth of the throughput. A batch thread runs when the shard sleeps or
// its slice ends; its share of the core is unchanged.
void RunAsBatch() {
#ifdef SCHED_BATCH  // Linux's.
  sched_param param{};
  // Unprivileged and always allowed; were it refused, reads still run.
  (void)sched_setscheduler(0, SCHED_BATCH, &param);
#endif
}

size_t Lane(SourcePace pace) { return static_cast<size_t>(pace); }

}  // namespace

int SourceThreads::Reserved(int max_threads) {
  return max_threads <= 1 ? 0 : std::max(1, max_threads / 8);
}

SourceThreads::SourceThreads(int max_threads)
    : max_threads_(std::max(1, max_threads)),
      max_unproven_(max_threads_ - Reserved(max_threads_)) {}

SourceThreads::~SourceThreads() {
  std::list<std::thread> threads;
  std::vector<std::thread> ended;
  std::vector<std::function<void()>> left;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // Threads neither start nor end once stopping: the lists are final.
  for (std::thread& t : threads_) t.join();
  for (std::thread& t : ended_) t.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& lane : queued_) {
      for (auto& job : lane) left.push_back(std::move(job));
      lane.clear();
    }
  }
  for (auto& job : left) job();
}

int SourceThreads::threads_started() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(threads_.size());
}

bool SourceThreads::RunnableLocked() const {
  if (!queued_[Lane(SourcePace::kFast)].empty()) return true;
  const bool unproven_queued = !queued_[Lane(SourcePace::kUnproven)].empty() ||
                               !queued_[Lane(SourcePace::kSlow)].empty();
  return unproven_queued && unproven_running_ < max_unproven_;
}

void SourceThreads::StartThreadLocked() {
  threads_.emplace_back();
  auto self = std::prev(threads_.end());
  *self = std::thread([this, self] {
    RunAsBatch();
    Work(self);
  });
}

void SourceThreads::Run(std::function<void()> job, SourcePace pace) {
  std::unique_lock<std::mutex> lock(mutex_);
  // A pool being destroyed takes no more jobs: this one runs here.
  if (stopping_) {
    lock.unlock();
    job();
    return;
  }
  queued_[Lane(pace)].push_back(std::move(job));
  std::vector<std::thread> ended;
  ended.swap(ended_);
  if (!RunnableLocked()) {
    // Waits for an unproven or slow job to end; no new thread would run it.
  } else if (idle_ > 0) {
    wake_.notify_one();
  } else if (static_cast<int>(threads_.size()) < max_threads_) {
    StartThreadLocked();
  }
  lock.unlock();
  for (std::thread& t : ended) t.join();  // Returned already.
}

void SourceThreads::Work(std::list<std::thread>::iterator self) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    ++idle_;
    const bool woken = wake_.wait_for(
        lock, kIdleEnd, [&] { return stopping_ || RunnableLocked(); });
    --idle_;
    if (stopping_) return;
    if (!woken) {
      if (static_cast<int>(threads_.size()) <= kKeptThreads) continue;
      // Ends; the next Run joins it.
      ended_.push_back(std::move(*self));
      threads_.erase(self);
      return;
    }
    SourcePace pace = SourcePace::kFast;
    if (queued_[Lane(pace)].empty()) {
      pace = queued_[Lane(SourcePace::kUnproven)].empty()
                 ? SourcePace::kSlow
                 : SourcePace::kUnproven;
    }
    std::function<void()> job = std::move(queued_[Lane(pace)].front());
    queued_[Lane(pace)].pop_front();
    const bool unproven = pace != SourcePace::kFast;
    if (unproven) ++unproven_running_;
    lock.unlock();
    job();
    job = nullptr;  // What it held goes before the lock is taken.
    lock.lock();
    if (unproven) --unproven_running_;
  }
}

}  // namespace tftpd
