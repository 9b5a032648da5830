#include "server/api/source_threads.h"

namespace tftpd {

SourceThreads::SourceThreads(int threads)
    : pool_(threads, [](std::function<void()>& job) { job(); },
            [](std::function<void()>& job) { job(); }) {}

void SourceThreads::Run(std::function<void()> job) {
  // A pool being destroyed takes no more jobs: this one runs here.
  if (!pool_.TryPost(job, SIZE_MAX)) job();
}

}  // namespace tftpd
