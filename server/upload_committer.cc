#include "server/upload_committer.h"

#include <algorithm>
#include <utility>

namespace tftpd {

UploadCommitter::UploadCommitter(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

UploadCommitter::~UploadCommitter() {
  std::deque<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(jobs_);
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
  for (Job& job : dropped) job.sink->Abandon();
}

void UploadCommitter::Commit(std::shared_ptr<UploadSink> sink, uint64_t size,
                             Done done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(Job{std::move(sink), size, std::move(done)});
  }
  wake_.notify_one();
}

void UploadCommitter::Abandon(std::shared_ptr<UploadSink> sink) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(Job{std::move(sink), 0, nullptr});
  }
  wake_.notify_one();
}

void UploadCommitter::Run() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    if (!job.done) {
      job.sink->Abandon();
      continue;
    }
    absl::Status status;
    try {
      status = job.sink->Commit(job.size);
    } catch (const std::exception& e) {
      status = absl::InternalError(e.what());
    }
    if (!status.ok()) job.sink->Abandon();
    job.done(status);
  }
}

}  // namespace tftpd
