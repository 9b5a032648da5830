// The threads that read pulled responses (response_source.h) and close their
// sources: a pool of the server's own, so that a source that blocks (an HTTP
// fetch, a database, Python) holds one of them and never a shard.
#ifndef TFTPD_SERVER_API_SOURCE_THREADS_H_
#define TFTPD_SERVER_API_SOURCE_THREADS_H_

#include <functional>
#include <memory>

#include "server/api/response_source.h"
#include "server/worker_pool.h"

namespace tftpd {

class SourceThreads {
 public:
  explicit SourceThreads(int threads);
  // Joins the threads; jobs not started, and jobs posted meanwhile (a
  // read ending, which closes its source), run on the destroying thread,
  // so that every source is closed. The pool stays a member, not a
  // pointer, so that a job posting while it is destroyed finds it there.
  ~SourceThreads() = default;
  SourceThreads(const SourceThreads&) = delete;
  SourceThreads& operator=(const SourceThreads&) = delete;

  void Run(std::function<void()> job);
  // Run, as the executor streams are given.
  SourceExecutor executor() {
    return [this](std::function<void()> job) { Run(std::move(job)); };
  }

 private:
  WorkerPool<std::function<void()>> pool_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_SOURCE_THREADS_H_
