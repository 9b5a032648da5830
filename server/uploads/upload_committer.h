// Runs uploads' commits and abandons on threads of their own: they may block
// (fsync, rename, a database round trip) and a shard never waits for them.
// The shard withholds the client's final ACK until the commit reports.
#ifndef TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_
#define TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "server/api/upload_sink.h"
#include "server/worker_pool.h"

namespace tftpd {

class UploadCommitter {
 public:
  using Done = std::function<void(const absl::Status& status)>;

  // At most `max_queued` commits wait for a thread; more are refused.
  UploadCommitter(int threads, size_t max_queued);
  // Jobs still queued are abandoned (commits included: nothing their
  // clients were not told of becomes visible; `done` is not called); jobs
  // running finish.
  ~UploadCommitter();

  // sink->Commit(size), then `done` with its outcome, on a committer
  // thread; false (nothing done) when max_queued commits wait already: the
  // store is slower than uploads arrive, and a client that is told so can
  // try again, while a queue without a bound would hold every upload.
  bool Commit(std::shared_ptr<UploadSink> sink, uint64_t size, Done done);
  // sink->Abandon() on a committer thread (never refused: each transfer
  // abandons at most once, so these are bounded by the transfer table).
  void Abandon(std::shared_ptr<UploadSink> sink);

 private:
  struct Job {
    std::shared_ptr<UploadSink> sink;
    uint64_t size = 0;
    Done done;  // Empty for an abandon.
  };
  static void Run(Job& job);

  const size_t max_queued_;
  WorkerPool<Job> pool_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_
