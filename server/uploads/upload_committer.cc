#include "server/uploads/upload_committer.h"

#include <exception>
#include <utility>

namespace tftpd {

UploadCommitter::UploadCommitter(int threads, size_t max_queued)
    : max_queued_(max_queued),
      pool_(threads, &UploadCommitter::Run,
            [](Job& job) { job.sink->Abandon(); }) {}

UploadCommitter::~UploadCommitter() = default;

std::shared_ptr<CommitTicket> UploadCommitter::Commit(
    std::shared_ptr<UploadSink> sink, uint64_t size, Done done) {
  auto ticket = std::make_shared<CommitTicket>();
  Job job{std::move(sink), size, std::move(done), ticket};
  if (!pool_.TryPost(job, max_queued_)) return nullptr;
  return ticket;
}

void UploadCommitter::Abandon(std::shared_ptr<UploadSink> sink) {
  pool_.Post(Job{std::move(sink), 0, nullptr, nullptr});
}

void UploadCommitter::Run(Job& job) {
  if (!job.done || !job.ticket->Begin()) {
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
