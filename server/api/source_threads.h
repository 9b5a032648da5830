// The threads that read pulled responses (response_source.h) and close their
// sources: a pool of the server's own, so that a source that blocks (an HTTP
// fetch, a database, Python) holds one of them and never a shard.
//
// A slow source must delay only its own transfer. Threads are started as
// reads wait for one, up to a bound, and those past `kKeptThreads` end
// after a while idle; each job says its source's pace (SourcePace), learned
// from its reads, and the pool runs fast sources' jobs first and never lets
// unproven and slow ones take the last threads (Reserved): past the bound,
// slow sources wait behind each other, never in front of a fast one.
#ifndef TFTPD_SERVER_API_SOURCE_THREADS_H_
#define TFTPD_SERVER_API_SOURCE_THREADS_H_

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "server/api/response_source.h"

namespace tftpd {

class SourceThreads {
 public:
  static constexpr int kKeptThreads = 4;
  // A thread past kKeptThreads that found no job for this long ends.
  static constexpr std::chrono::seconds kIdleEnd{30};

  explicit SourceThreads(int max_threads);
  // Joins the threads; jobs not started, and jobs posted meanwhile (a read
  // ending, which closes its source), run on the destroying thread, so that
  // every source is closed.
  ~SourceThreads();
  SourceThreads(const SourceThreads&) = delete;
  SourceThreads& operator=(const SourceThreads&) = delete;

  void Run(std::function<void()> job, SourcePace pace = SourcePace::kFast);
  // Run, as the executor streams are given.
  SourceExecutor executor() {
    return [this](std::function<void()> job, SourcePace pace) {
      Run(std::move(job), pace);
    };
  }
  // Threads kept for fast sources' jobs alone: an eighth of the bound, at
  // least one (none when the bound is one).
  static int Reserved(int max_threads);
  int threads_started() const;

 private:
  void Work(std::list<std::thread>::iterator self);
  // A queued job some thread may take now.
  bool RunnableLocked() const;
  void StartThreadLocked();

  const int max_threads_;
  // Jobs of unproven or slow sources running at once, at most.
  const int max_unproven_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Queued jobs by pace, in SourcePace's order (fast first).
  std::array<std::deque<std::function<void()>>, 3> queued_;
  int idle_ = 0;
  int unproven_running_ = 0;
  bool stopping_ = false;
  std::list<std::thread> threads_;
  std::vector<std::thread> ended_;  // Idle threads that ended, to join.
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_SOURCE_THREADS_H_
