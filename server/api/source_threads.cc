#include "server/api/source_threads.h"

#include "server/worker_pool.h"

namespace tftpd {

SourceThreads::SourceThreads(int threads)
    : pool_(std::make_unique<WorkerPool<std::function<void()>>>(
          threads, [](std::function<void()>& job) { job(); },
          [](std::function<void()>& job) { job(); })) {}

SourceThreads::~SourceThreads() { pool_.reset(); }

void SourceThreads::Run(std::function<void()> job) {
  // A pool being destroyed takes no more jobs: this one runs here.
  if (!pool_->TryPost(job, SIZE_MAX)) job();
}

}  // namespace tftpd
