// The threads that read pulled responses (response_source.h) and close their
// sources: a pool of the server's own, so that a source that blocks (an HTTP
// fetch, a database, Python) holds one of them and never a shard.
#ifndef TFTPD_SERVER_API_SOURCE_THREADS_H_
#define TFTPD_SERVER_API_SOURCE_THREADS_H_

#include <functional>
#include <memory>

#include "server/api/response_source.h"

namespace tftpd {

template <typename Job>
class WorkerPool;

class SourceThreads {
 public:
  explicit SourceThreads(int threads);
  // Joins the threads; jobs not started, and jobs posted meanwhile, run on
  // the destroying thread, so that every source is closed.
  ~SourceThreads();
  SourceThreads(const SourceThreads&) = delete;
  SourceThreads& operator=(const SourceThreads&) = delete;

  void Run(std::function<void()> job);
  // Run, as the executor streams are given.
  SourceExecutor executor() {
    return [this](std::function<void()> job) { Run(std::move(job)); };
  }

 private:
  std::unique_ptr<WorkerPool<std::function<void()>>> pool_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_SOURCE_THREADS_H_
