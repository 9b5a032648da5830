#include "server/uploads/upload_committer.h"

#include <exception>
#include <utility>

namespace tftpd {

UploadCommitter::UploadCommitter(int threads, size_t max_queued)
    : max_queued_(max_queued),
      pool_(threads, &UploadCommitter::Run,
            [](Job& job) { job.sink->Abandon(); }) {}

UploadCommitter::~UploadCommitter() = default;

bool UploadCommitter::Commit(std::shared_ptr<UploadSink> sink, uint64_t size,
                             Done done) {
  Job job{std::move(sink), size, std::move(done)};
  return pool_.TryPost(job, max_queued_);
}

void UploadCommitter::Abandon(std::shared_ptr<UploadSink> sink) {
  pool_.Post(Job{std::move(sink), 0, nullptr});
}

void UploadCommitter::Run(Job& job) {
  if (!job.done) {
    job.sink->Abandon();
    return;
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

}  // namespace tftpd
