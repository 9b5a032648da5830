// Runs uploads' commits and abandons on threads of their own: they may block
// (fsync, rename, a database round trip) and a shard never waits for them.
// The shard withholds the client's final ACK until the commit reports.
#ifndef TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_
#define TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_

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

  explicit UploadCommitter(int threads);
  // Jobs still queued are abandoned (commits included: nothing their
  // clients were not told of becomes visible; `done` is not called); jobs
  // running finish.
  ~UploadCommitter();

  // sink->Commit(size), then `done` with its outcome, on a committer thread.
  void Commit(std::shared_ptr<UploadSink> sink, uint64_t size, Done done);
  // sink->Abandon() on a committer thread.
  void Abandon(std::shared_ptr<UploadSink> sink);

 private:
  struct Job {
    std::shared_ptr<UploadSink> sink;
    uint64_t size = 0;
    Done done;  // Empty for an abandon.
  };
  static void Run(Job& job);

  WorkerPool<Job> pool_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_UPLOADS_UPLOAD_COMMITTER_H_
